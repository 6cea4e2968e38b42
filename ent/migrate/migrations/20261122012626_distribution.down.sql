-- reverse: create index "offer_user_id_status" to table: "offers"
DROP INDEX "offer_user_id_status";
-- reverse: create index "offer_organization_id" to table: "offers"
DROP INDEX "offer_organization_id";
-- reverse: create index "offer_conversation_id_user_id" to table: "offers"
DROP INDEX "offer_conversation_id_user_id";
-- reverse: create "offers" table
DROP TABLE "offers";
-- reverse: create index "member_user_id" to table: "members"
DROP INDEX "member_user_id";
-- reverse: create index "member_rule_id_user_id" to table: "members"
DROP INDEX "member_rule_id_user_id";
-- reverse: create index "member_organization_id" to table: "members"
DROP INDEX "member_organization_id";
-- reverse: create index "member_department_id_user_id" to table: "members"
DROP INDEX "member_department_id_user_id";
-- reverse: create "members" table
DROP TABLE "members";
-- reverse: modify "users" table
ALTER TABLE "users" DROP COLUMN "last_seen_at";
-- reverse: create index "conversation_rule_id_distribution_state" to table: "conversations"
DROP INDEX "conversation_rule_id_distribution_state";
-- reverse: create index "conversation_department_id_distribution_state" to table: "conversations"
DROP INDEX "conversation_department_id_distribution_state";
-- reverse: modify "conversations" table
ALTER TABLE "conversations" DROP CONSTRAINT "conversations_rules_rule", DROP CONSTRAINT "conversations_departments_department", DROP COLUMN "department_id", DROP COLUMN "rule_id", DROP COLUMN "offer_expires_at", DROP COLUMN "offer_seq", DROP COLUMN "distribution_state";
-- reverse: create index "department_organization_id_name" to table: "departments"
DROP INDEX "department_organization_id_name";
-- reverse: create index "department_organization_id" to table: "departments"
DROP INDEX "department_organization_id";
-- reverse: create index "department_one_default" to table: "departments"
DROP INDEX "department_one_default";
-- reverse: create "departments" table
DROP TABLE "departments";
-- reverse: modify "channels" table
ALTER TABLE "channels" DROP CONSTRAINT "channels_rules_rule", DROP COLUMN "rule_id";
-- reverse: create index "rule_organization_id_name" to table: "rules"
DROP INDEX "rule_organization_id_name";
-- reverse: create index "rule_organization_id" to table: "rules"
DROP INDEX "rule_organization_id";
-- reverse: create "rules" table
DROP TABLE "rules";
-- reverse: modify "events" table
ALTER TABLE "events" DROP COLUMN "user_id";
