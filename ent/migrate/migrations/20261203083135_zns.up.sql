-- modify "events" table
ALTER TABLE "events" ADD COLUMN "zns_message_id" character varying NULL;
-- create "zns_templates" table
CREATE TABLE "zns_templates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "template_id" character varying NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL, "tag" character varying NOT NULL DEFAULT '', "params" jsonb NOT NULL, "price" bigint NOT NULL DEFAULT 0, "quality" character varying NOT NULL DEFAULT '', "preview_url" character varying NOT NULL DEFAULT '', "timeout_ms" bigint NOT NULL DEFAULT 0, "daily_quota" bigint NOT NULL DEFAULT 0, "remaining_quota" bigint NOT NULL DEFAULT 0, "synced_at" timestamptz NOT NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "zns_templates_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "zns_templates_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "znstemplate_channel_id_template_id" to table: "zns_templates"
CREATE UNIQUE INDEX "znstemplate_channel_id_template_id" ON "zns_templates" ("channel_id", "template_id");
-- create index "znstemplate_organization_id" to table: "zns_templates"
CREATE INDEX "znstemplate_organization_id" ON "zns_templates" ("organization_id");
-- create index "znstemplate_organization_id_status" to table: "zns_templates"
CREATE INDEX "znstemplate_organization_id_status" ON "zns_templates" ("organization_id", "status");
-- create "zns_messages" table
CREATE TABLE "zns_messages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "phone" character varying NOT NULL, "params" jsonb NOT NULL, "tracking_id" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'QUEUED', "failure_reason" character varying NULL, "last_error" character varying NULL, "provider_message_id" character varying NULL, "development" boolean NOT NULL DEFAULT false, "cost" bigint NOT NULL DEFAULT 0, "sent_at" timestamptz NULL, "delivered_at" timestamptz NULL, "attempts" bigint NOT NULL DEFAULT 0, "next_attempt_at" timestamptz NULL, "lease_until" timestamptz NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "template_id" character varying NOT NULL, "customer_id" character varying NULL, "sender_user_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "zns_messages_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "zns_messages_customers_customer" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "zns_messages_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "zns_messages_users_sender" FOREIGN KEY ("sender_user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "zns_messages_zns_templates_template" FOREIGN KEY ("template_id") REFERENCES "zns_templates" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "znsmessage_channel_id_provider_message_id" to table: "zns_messages"
CREATE UNIQUE INDEX "znsmessage_channel_id_provider_message_id" ON "zns_messages" ("channel_id", "provider_message_id");
-- create index "znsmessage_channel_id_tracking_id" to table: "zns_messages"
CREATE UNIQUE INDEX "znsmessage_channel_id_tracking_id" ON "zns_messages" ("channel_id", "tracking_id");
-- create index "znsmessage_customer_id_created_at" to table: "zns_messages"
CREATE INDEX "znsmessage_customer_id_created_at" ON "zns_messages" ("customer_id", "created_at");
-- create index "znsmessage_organization_id" to table: "zns_messages"
CREATE INDEX "znsmessage_organization_id" ON "zns_messages" ("organization_id");
-- create index "znsmessage_organization_id_created_at" to table: "zns_messages"
CREATE INDEX "znsmessage_organization_id_created_at" ON "zns_messages" ("organization_id", "created_at");
-- create index "znsmessage_status_next_attempt_at" to table: "zns_messages"
CREATE INDEX "znsmessage_status_next_attempt_at" ON "zns_messages" ("status", "next_attempt_at");
