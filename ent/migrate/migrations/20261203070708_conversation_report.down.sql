-- reverse: create index "message_organization_id_created_at" to table: "messages"
DROP INDEX "message_organization_id_created_at";
-- reverse: create index "conversation_organization_id_resolved_at" to table: "conversations"
DROP INDEX "conversation_organization_id_resolved_at";
-- reverse: create index "conversation_organization_id_created_at" to table: "conversations"
DROP INDEX "conversation_organization_id_created_at";
-- reverse: modify "conversations" table
ALTER TABLE "conversations" DROP COLUMN "resolved_at";
