-- modify "events" table
ALTER TABLE "events" ADD COLUMN "payload" text NULL;
-- modify "organizations" table
ALTER TABLE "organizations" ADD COLUMN "call_minutes_quota" bigint NULL, ADD COLUMN "call_bonus_minutes" bigint NOT NULL DEFAULT 0;
-- create "call_minute_months" table
CREATE TABLE "call_minute_months" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "month" character varying NOT NULL, "quota_minutes" bigint NOT NULL DEFAULT 0, "bonus_minutes" bigint NOT NULL DEFAULT 0, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "call_minute_months_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "callminutemonth_organization_id" to table: "call_minute_months"
CREATE INDEX "callminutemonth_organization_id" ON "call_minute_months" ("organization_id");
-- create index "callminutemonth_organization_id_month" to table: "call_minute_months"
CREATE UNIQUE INDEX "callminutemonth_organization_id_month" ON "call_minute_months" ("organization_id", "month");
-- modify "calls" table
ALTER TABLE "calls" ADD COLUMN "ringing_user_ids" jsonb NULL, ADD COLUMN "billed_minutes" bigint NULL, ADD COLUMN "conversation_id" character varying NULL, ADD CONSTRAINT "calls_conversations_conversation" FOREIGN KEY ("conversation_id") REFERENCES "conversations" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- create index "call_conversation_id_status" to table: "calls"
CREATE INDEX "call_conversation_id_status" ON "calls" ("conversation_id", "status");
