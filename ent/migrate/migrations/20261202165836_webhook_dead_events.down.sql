-- reverse: create index "webhookevent_organization_id_dead_at" to table: "webhook_events"
DROP INDEX "webhookevent_organization_id_dead_at";
-- reverse: modify "webhook_events" table
ALTER TABLE "webhook_events" DROP COLUMN "dead_at";
