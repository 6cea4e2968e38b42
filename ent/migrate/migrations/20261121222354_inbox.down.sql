-- reverse: create index "message_status_next_attempt_at" to table: "messages"
DROP INDEX "message_status_next_attempt_at";
-- reverse: create index "message_organization_id" to table: "messages"
DROP INDEX "message_organization_id";
-- reverse: create index "message_conversation_id_created_at" to table: "messages"
DROP INDEX "message_conversation_id_created_at";
-- reverse: create index "message_channel_id_provider_message_id" to table: "messages"
DROP INDEX "message_channel_id_provider_message_id";
-- reverse: create "messages" table
DROP TABLE "messages";
-- reverse: create index "messagetemplate_organization_id_name" to table: "message_templates"
DROP INDEX "messagetemplate_organization_id_name";
-- reverse: create index "messagetemplate_organization_id" to table: "message_templates"
DROP INDEX "messagetemplate_organization_id";
-- reverse: create "message_templates" table
DROP TABLE "message_templates";
-- reverse: create index "identity_organization_id" to table: "identities"
DROP INDEX "identity_organization_id";
-- reverse: create index "identity_customer_id" to table: "identities"
DROP INDEX "identity_customer_id";
-- reverse: create index "identity_channel_id_external_id" to table: "identities"
DROP INDEX "identity_channel_id_external_id";
-- reverse: create "identities" table
DROP TABLE "identities";
-- reverse: create index "event_organization_id_seq" to table: "events"
DROP INDEX "event_organization_id_seq";
-- reverse: create index "event_organization_id" to table: "events"
DROP INDEX "event_organization_id";
-- reverse: create "events" table
DROP TABLE "events";
-- reverse: create index "conversation_organization_id_last_message_at" to table: "conversations"
DROP INDEX "conversation_organization_id_last_message_at";
-- reverse: create index "conversation_organization_id" to table: "conversations"
DROP INDEX "conversation_organization_id";
-- reverse: create index "conversation_customer_id" to table: "conversations"
DROP INDEX "conversation_customer_id";
-- reverse: create index "conversation_channel_id_customer_id" to table: "conversations"
DROP INDEX "conversation_channel_id_customer_id";
-- reverse: create index "conversation_assignee_id" to table: "conversations"
DROP INDEX "conversation_assignee_id";
-- reverse: create "conversations" table
DROP TABLE "conversations";
-- reverse: create index "channel_organization_id" to table: "channels"
DROP INDEX "channel_organization_id";
-- reverse: create index "channel_kind_external_id" to table: "channels"
DROP INDEX "channel_kind_external_id";
-- reverse: create "channels" table
DROP TABLE "channels";
-- reverse: create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
DROP INDEX "webhookevent_provider_dedupe_key";
-- reverse: create index "webhookevent_processed_at_next_attempt_at" to table: "webhook_events"
DROP INDEX "webhookevent_processed_at_next_attempt_at";
-- reverse: create "webhook_events" table
DROP TABLE "webhook_events";
-- reverse: modify "organizations" table
ALTER TABLE "organizations" DROP COLUMN "event_seq";
