-- reverse: create index "visitorsession_organization_id" to table: "visitor_sessions"
DROP INDEX "visitorsession_organization_id";
-- reverse: create index "visitorsession_expires_at" to table: "visitor_sessions"
DROP INDEX "visitorsession_expires_at";
-- reverse: create index "visitorsession_conversation_id" to table: "visitor_sessions"
DROP INDEX "visitorsession_conversation_id";
-- reverse: create index "visitor_sessions_token_hash_key" to table: "visitor_sessions"
DROP INDEX "visitor_sessions_token_hash_key";
-- reverse: create "visitor_sessions" table
DROP TABLE "visitor_sessions";
-- reverse: create index "channels_widget_key_key" to table: "channels"
DROP INDEX "channels_widget_key_key";
-- reverse: modify "channels" table
ALTER TABLE "channels" DROP COLUMN "allowed_origins", DROP COLUMN "widget_key";
