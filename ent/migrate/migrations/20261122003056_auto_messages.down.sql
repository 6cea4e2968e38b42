-- reverse: modify "messages" table
ALTER TABLE "messages" DROP CONSTRAINT "messages_auto_messages_auto_message", DROP COLUMN "auto_message_id";
-- reverse: create index "automessage_organization_id" to table: "auto_messages"
DROP INDEX "automessage_organization_id";
-- reverse: create index "automessage_channel_id_path" to table: "auto_messages"
DROP INDEX "automessage_channel_id_path";
-- reverse: create index "automessage_channel_id_kind" to table: "auto_messages"
DROP INDEX "automessage_channel_id_kind";
-- reverse: create "auto_messages" table
DROP TABLE "auto_messages";
