-- create "timers" table
CREATE TABLE "timers" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "key" character varying NOT NULL, "due_at" timestamptz NOT NULL, "payload" jsonb NULL, "attempts" bigint NOT NULL DEFAULT 0, "last_error" character varying NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "timers_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "timer_due_at" to table: "timers"
CREATE INDEX "timer_due_at" ON "timers" ("due_at");
-- create index "timer_organization_id" to table: "timers"
CREATE INDEX "timer_organization_id" ON "timers" ("organization_id");
-- create index "timer_organization_id_kind_key" to table: "timers"
CREATE UNIQUE INDEX "timer_organization_id_kind_key" ON "timers" ("organization_id", "kind", "key");
