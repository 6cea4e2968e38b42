-- modify "channels" table
ALTER TABLE "channels" ADD COLUMN "widget_key" character varying NULL, ADD COLUMN "allowed_origins" jsonb NULL;
-- create index "channels_widget_key_key" to table: "channels"
CREATE UNIQUE INDEX "channels_widget_key_key" ON "channels" ("widget_key");
-- create "visitor_sessions" table
CREATE TABLE "visitor_sessions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "visitor_id" character varying NOT NULL, "token_hash" bytea NOT NULL, "expires_at" timestamptz NOT NULL, "page_url" character varying NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "conversation_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "visitor_sessions_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "visitor_sessions_conversations_conversation" FOREIGN KEY ("conversation_id") REFERENCES "conversations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "visitor_sessions_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "visitor_sessions_token_hash_key" to table: "visitor_sessions"
CREATE UNIQUE INDEX "visitor_sessions_token_hash_key" ON "visitor_sessions" ("token_hash");
-- create index "visitorsession_conversation_id" to table: "visitor_sessions"
CREATE INDEX "visitorsession_conversation_id" ON "visitor_sessions" ("conversation_id");
-- create index "visitorsession_expires_at" to table: "visitor_sessions"
CREATE INDEX "visitorsession_expires_at" ON "visitor_sessions" ("expires_at");
-- create index "visitorsession_organization_id" to table: "visitor_sessions"
CREATE INDEX "visitorsession_organization_id" ON "visitor_sessions" ("organization_id");
