-- modify "organizations" table
ALTER TABLE "organizations" ADD COLUMN "event_seq" bigint NOT NULL DEFAULT 0;
-- create "webhook_events" table
CREATE TABLE "webhook_events" ("id" character varying NOT NULL, "provider" character varying NOT NULL, "dedupe_key" character varying NOT NULL, "event_name" character varying NOT NULL, "organization_id" character varying NULL, "channel_id" character varying NULL, "payload" bytea NOT NULL, "received_at" timestamptz NOT NULL, "processed_at" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "last_error" character varying NULL, "next_attempt_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "webhookevent_processed_at_next_attempt_at" to table: "webhook_events"
CREATE INDEX "webhookevent_processed_at_next_attempt_at" ON "webhook_events" ("processed_at", "next_attempt_at");
-- create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
CREATE UNIQUE INDEX "webhookevent_provider_dedupe_key" ON "webhook_events" ("provider", "dedupe_key");
-- create "channels" table
CREATE TABLE "channels" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "external_id" character varying NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'CONNECTED', "status_reason" character varying NULL, "chat_permission" character varying NOT NULL DEFAULT 'ONLY_ME', "description" character varying NULL, "published" boolean NOT NULL DEFAULT false, "is_testing" boolean NOT NULL DEFAULT false, "app_id" character varying NULL, "access_token" bytea NULL, "refresh_token" bytea NULL, "app_secret" bytea NULL, "webhook_secret" bytea NULL, "access_token_expires_at" timestamptz NULL, "last_connected_at" timestamptz NOT NULL, "organization_id" character varying NOT NULL, "connected_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "channels_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "channels_users_connected_by" FOREIGN KEY ("connected_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "channel_kind_external_id" to table: "channels"
CREATE UNIQUE INDEX "channel_kind_external_id" ON "channels" ("kind", "external_id");
-- create index "channel_organization_id" to table: "channels"
CREATE INDEX "channel_organization_id" ON "channels" ("organization_id");
-- create "conversations" table
CREATE TABLE "conversations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'OPEN', "unread_count" bigint NOT NULL DEFAULT 0, "last_message_at" timestamptz NULL, "last_inbound_at" timestamptz NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "customer_id" character varying NOT NULL, "assignee_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "conversations_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "conversations_customers_customer" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "conversations_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "conversations_users_assignee" FOREIGN KEY ("assignee_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "conversation_assignee_id" to table: "conversations"
CREATE INDEX "conversation_assignee_id" ON "conversations" ("assignee_id");
-- create index "conversation_channel_id_customer_id" to table: "conversations"
CREATE UNIQUE INDEX "conversation_channel_id_customer_id" ON "conversations" ("channel_id", "customer_id") WHERE ((status)::text <> 'RESOLVED'::text);
-- create index "conversation_customer_id" to table: "conversations"
CREATE INDEX "conversation_customer_id" ON "conversations" ("customer_id");
-- create index "conversation_organization_id" to table: "conversations"
CREATE INDEX "conversation_organization_id" ON "conversations" ("organization_id");
-- create index "conversation_organization_id_last_message_at" to table: "conversations"
CREATE INDEX "conversation_organization_id_last_message_at" ON "conversations" ("organization_id", "last_message_at");
-- create "events" table
CREATE TABLE "events" ("id" character varying NOT NULL, "seq" bigint NOT NULL, "topic" character varying NOT NULL, "type" character varying NOT NULL, "channel_id" character varying NULL, "conversation_id" character varying NULL, "message_id" character varying NULL, "audience_user_id" character varying NULL, "created_at" timestamptz NOT NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "events_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "event_organization_id" to table: "events"
CREATE INDEX "event_organization_id" ON "events" ("organization_id");
-- create index "event_organization_id_seq" to table: "events"
CREATE UNIQUE INDEX "event_organization_id_seq" ON "events" ("organization_id", "seq");
-- create "identities" table
CREATE TABLE "identities" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "external_id" character varying NOT NULL, "display_name" character varying NULL, "avatar_url" character varying NULL, "follower" boolean NULL, "profile_fetched_at" timestamptz NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "customer_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "identities_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "identities_customers_customer" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "identities_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "identity_channel_id_external_id" to table: "identities"
CREATE UNIQUE INDEX "identity_channel_id_external_id" ON "identities" ("channel_id", "external_id");
-- create index "identity_customer_id" to table: "identities"
CREATE INDEX "identity_customer_id" ON "identities" ("customer_id");
-- create index "identity_organization_id" to table: "identities"
CREATE INDEX "identity_organization_id" ON "identities" ("organization_id");
-- create "message_templates" table
CREATE TABLE "message_templates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "content" character varying NOT NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "message_templates_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "messagetemplate_organization_id" to table: "message_templates"
CREATE INDEX "messagetemplate_organization_id" ON "message_templates" ("organization_id");
-- create index "messagetemplate_organization_id_name" to table: "message_templates"
CREATE UNIQUE INDEX "messagetemplate_organization_id_name" ON "message_templates" ("organization_id", "name");
-- create "messages" table
CREATE TABLE "messages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "direction" character varying NOT NULL, "kind" character varying NOT NULL DEFAULT 'TEXT', "text" text NULL, "attachments" jsonb NULL, "provider_message_id" character varying NULL, "status" character varying NOT NULL, "failure_reason" character varying NULL, "sender_type" character varying NOT NULL, "sent_at" timestamptz NULL, "delivered_at" timestamptz NULL, "seen_at" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "next_attempt_at" timestamptz NULL, "lease_until" timestamptz NULL, "organization_id" character varying NOT NULL, "conversation_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "sender_user_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "messages_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "messages_conversations_conversation" FOREIGN KEY ("conversation_id") REFERENCES "conversations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "messages_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "messages_users_sender_user" FOREIGN KEY ("sender_user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "message_channel_id_provider_message_id" to table: "messages"
CREATE UNIQUE INDEX "message_channel_id_provider_message_id" ON "messages" ("channel_id", "provider_message_id");
-- create index "message_conversation_id_created_at" to table: "messages"
CREATE INDEX "message_conversation_id_created_at" ON "messages" ("conversation_id", "created_at");
-- create index "message_organization_id" to table: "messages"
CREATE INDEX "message_organization_id" ON "messages" ("organization_id");
-- create index "message_status_next_attempt_at" to table: "messages"
CREATE INDEX "message_status_next_attempt_at" ON "messages" ("status", "next_attempt_at");
