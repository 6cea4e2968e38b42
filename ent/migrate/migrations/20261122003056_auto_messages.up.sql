-- create "auto_messages" table
CREATE TABLE "auto_messages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "title" character varying NULL, "path" character varying NULL, "contents" jsonb NOT NULL, "delay_seconds" bigint NOT NULL DEFAULT 0, "interval_seconds" bigint NOT NULL DEFAULT 0, "resend_as_message" boolean NOT NULL DEFAULT false, "enabled" boolean NOT NULL DEFAULT true, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "auto_messages_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "auto_messages_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "automessage_channel_id_kind" to table: "auto_messages"
CREATE UNIQUE INDEX "automessage_channel_id_kind" ON "auto_messages" ("channel_id", "kind") WHERE ((kind)::text <> 'GREETING'::text);
-- create index "automessage_channel_id_path" to table: "auto_messages"
CREATE UNIQUE INDEX "automessage_channel_id_path" ON "auto_messages" ("channel_id", "path") WHERE ((kind)::text = 'GREETING'::text);
-- create index "automessage_organization_id" to table: "auto_messages"
CREATE INDEX "automessage_organization_id" ON "auto_messages" ("organization_id");
-- modify "messages" table
ALTER TABLE "messages" ADD COLUMN "auto_message_id" character varying NULL, ADD CONSTRAINT "messages_auto_messages_auto_message" FOREIGN KEY ("auto_message_id") REFERENCES "auto_messages" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
