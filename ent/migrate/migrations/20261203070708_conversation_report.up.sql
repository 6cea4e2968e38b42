-- modify "conversations" table
ALTER TABLE "conversations" ADD COLUMN "resolved_at" timestamptz NULL;
-- create index "conversation_organization_id_created_at" to table: "conversations"
CREATE INDEX "conversation_organization_id_created_at" ON "conversations" ("organization_id", "created_at");
-- create index "conversation_organization_id_resolved_at" to table: "conversations"
CREATE INDEX "conversation_organization_id_resolved_at" ON "conversations" ("organization_id", "resolved_at");
-- create index "message_organization_id_created_at" to table: "messages"
CREATE INDEX "message_organization_id_created_at" ON "messages" ("organization_id", "created_at");
