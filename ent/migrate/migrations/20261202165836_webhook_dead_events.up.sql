-- modify "webhook_events" table
ALTER TABLE "webhook_events" ADD COLUMN "dead_at" timestamptz NULL;
-- create index "webhookevent_organization_id_dead_at" to table: "webhook_events"
CREATE INDEX "webhookevent_organization_id_dead_at" ON "webhook_events" ("organization_id", "dead_at");
