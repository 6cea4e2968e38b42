-- reverse: create index "znsmessage_status_next_attempt_at" to table: "zns_messages"
DROP INDEX "znsmessage_status_next_attempt_at";
-- reverse: create index "znsmessage_organization_id_created_at" to table: "zns_messages"
DROP INDEX "znsmessage_organization_id_created_at";
-- reverse: create index "znsmessage_organization_id" to table: "zns_messages"
DROP INDEX "znsmessage_organization_id";
-- reverse: create index "znsmessage_customer_id_created_at" to table: "zns_messages"
DROP INDEX "znsmessage_customer_id_created_at";
-- reverse: create index "znsmessage_channel_id_tracking_id" to table: "zns_messages"
DROP INDEX "znsmessage_channel_id_tracking_id";
-- reverse: create index "znsmessage_channel_id_provider_message_id" to table: "zns_messages"
DROP INDEX "znsmessage_channel_id_provider_message_id";
-- reverse: create "zns_messages" table
DROP TABLE "zns_messages";
-- reverse: create index "znstemplate_organization_id_status" to table: "zns_templates"
DROP INDEX "znstemplate_organization_id_status";
-- reverse: create index "znstemplate_organization_id" to table: "zns_templates"
DROP INDEX "znstemplate_organization_id";
-- reverse: create index "znstemplate_channel_id_template_id" to table: "zns_templates"
DROP INDEX "znstemplate_channel_id_template_id";
-- reverse: create "zns_templates" table
DROP TABLE "zns_templates";
-- reverse: modify "events" table
ALTER TABLE "events" DROP COLUMN "zns_message_id";
