-- reverse: create index "call_conversation_id_status" to table: "calls"
DROP INDEX "call_conversation_id_status";
-- reverse: modify "calls" table
ALTER TABLE "calls" DROP CONSTRAINT "calls_conversations_conversation", DROP COLUMN "conversation_id", DROP COLUMN "billed_minutes", DROP COLUMN "ringing_user_ids";
-- reverse: create index "callminutemonth_organization_id_month" to table: "call_minute_months"
DROP INDEX "callminutemonth_organization_id_month";
-- reverse: create index "callminutemonth_organization_id" to table: "call_minute_months"
DROP INDEX "callminutemonth_organization_id";
-- reverse: create "call_minute_months" table
DROP TABLE "call_minute_months";
-- reverse: modify "organizations" table
ALTER TABLE "organizations" DROP COLUMN "call_bonus_minutes", DROP COLUMN "call_minutes_quota";
-- reverse: modify "events" table
ALTER TABLE "events" DROP COLUMN "payload";
