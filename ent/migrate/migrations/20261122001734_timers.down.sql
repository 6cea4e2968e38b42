-- reverse: create index "timer_organization_id_kind_key" to table: "timers"
DROP INDEX "timer_organization_id_kind_key";
-- reverse: create index "timer_organization_id" to table: "timers"
DROP INDEX "timer_organization_id";
-- reverse: create index "timer_due_at" to table: "timers"
DROP INDEX "timer_due_at";
-- reverse: create "timers" table
DROP TABLE "timers";
