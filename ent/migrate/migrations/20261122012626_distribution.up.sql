-- modify "events" table
ALTER TABLE "events" ADD COLUMN "user_id" character varying NULL;
-- create "rules" table
CREATE TABLE "rules" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "method" character varying NOT NULL, "offer_timeout_seconds" bigint NOT NULL DEFAULT 30, "old_conversations" character varying NOT NULL DEFAULT 'KEEP', "turn" bigint NOT NULL DEFAULT -1, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "rules_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "rule_organization_id" to table: "rules"
CREATE INDEX "rule_organization_id" ON "rules" ("organization_id");
-- create index "rule_organization_id_name" to table: "rules"
CREATE UNIQUE INDEX "rule_organization_id_name" ON "rules" ("organization_id", "name");
-- modify "channels" table
ALTER TABLE "channels" ADD COLUMN "rule_id" character varying NULL, ADD CONSTRAINT "channels_rules_rule" FOREIGN KEY ("rule_id") REFERENCES "rules" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- create "departments" table
CREATE TABLE "departments" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "method" character varying NOT NULL, "offer_timeout_seconds" bigint NOT NULL DEFAULT 30, "is_default" boolean NOT NULL DEFAULT false, "turn" bigint NOT NULL DEFAULT -1, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "departments_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "department_one_default" to table: "departments"
CREATE UNIQUE INDEX "department_one_default" ON "departments" ("organization_id") WHERE is_default;
-- create index "department_organization_id" to table: "departments"
CREATE INDEX "department_organization_id" ON "departments" ("organization_id");
-- create index "department_organization_id_name" to table: "departments"
CREATE UNIQUE INDEX "department_organization_id_name" ON "departments" ("organization_id", "name");
-- modify "conversations" table
ALTER TABLE "conversations" ADD COLUMN "distribution_state" character varying NOT NULL DEFAULT 'NONE', ADD COLUMN "offer_seq" bigint NOT NULL DEFAULT 0, ADD COLUMN "offer_expires_at" timestamptz NULL, ADD COLUMN "rule_id" character varying NULL, ADD COLUMN "department_id" character varying NULL, ADD CONSTRAINT "conversations_departments_department" FOREIGN KEY ("department_id") REFERENCES "departments" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, ADD CONSTRAINT "conversations_rules_rule" FOREIGN KEY ("rule_id") REFERENCES "rules" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- create index "conversation_department_id_distribution_state" to table: "conversations"
CREATE INDEX "conversation_department_id_distribution_state" ON "conversations" ("department_id", "distribution_state");
-- create index "conversation_rule_id_distribution_state" to table: "conversations"
CREATE INDEX "conversation_rule_id_distribution_state" ON "conversations" ("rule_id", "distribution_state");
-- modify "users" table
ALTER TABLE "users" ADD COLUMN "last_seen_at" timestamptz NULL;
-- create "members" table
CREATE TABLE "members" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "position" bigint NOT NULL, "organization_id" character varying NOT NULL, "rule_id" character varying NULL, "department_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "members_departments_department" FOREIGN KEY ("department_id") REFERENCES "departments" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "members_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "members_rules_rule" FOREIGN KEY ("rule_id") REFERENCES "rules" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "members_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "member_department_id_user_id" to table: "members"
CREATE UNIQUE INDEX "member_department_id_user_id" ON "members" ("department_id", "user_id");
-- create index "member_organization_id" to table: "members"
CREATE INDEX "member_organization_id" ON "members" ("organization_id");
-- create index "member_rule_id_user_id" to table: "members"
CREATE UNIQUE INDEX "member_rule_id_user_id" ON "members" ("rule_id", "user_id");
-- create index "member_user_id" to table: "members"
CREATE INDEX "member_user_id" ON "members" ("user_id");
-- create "offers" table
CREATE TABLE "offers" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "organization_id" character varying NOT NULL, "conversation_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "offers_conversations_conversation" FOREIGN KEY ("conversation_id") REFERENCES "conversations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "offers_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "offers_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "offer_conversation_id_user_id" to table: "offers"
CREATE UNIQUE INDEX "offer_conversation_id_user_id" ON "offers" ("conversation_id", "user_id");
-- create index "offer_organization_id" to table: "offers"
CREATE INDEX "offer_organization_id" ON "offers" ("organization_id");
-- create index "offer_user_id_status" to table: "offers"
CREATE INDEX "offer_user_id_status" ON "offers" ("user_id", "status");
