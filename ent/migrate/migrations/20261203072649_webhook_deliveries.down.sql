-- reverse: create index "webhookattempt_organization_id" to table: "webhook_attempts"
DROP INDEX "webhookattempt_organization_id";
-- reverse: create index "webhookattempt_delivery_id_at" to table: "webhook_attempts"
DROP INDEX "webhookattempt_delivery_id_at";
-- reverse: create index "webhookattempt_at" to table: "webhook_attempts"
DROP INDEX "webhookattempt_at";
-- reverse: create "webhook_attempts" table
DROP TABLE "webhook_attempts";
-- reverse: create index "webhookdelivery_status_next_attempt_at" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_status_next_attempt_at";
-- reverse: create index "webhookdelivery_organization_id" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_organization_id";
-- reverse: create index "webhookdelivery_endpoint_id_event_seq" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_endpoint_id_event_seq";
-- reverse: create index "webhookdelivery_created_at" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_created_at";
-- reverse: create "webhook_deliveries" table
DROP TABLE "webhook_deliveries";
-- reverse: modify "webhook_endpoints" table
ALTER TABLE "webhook_endpoints" DROP COLUMN "failing_since", DROP COLUMN "event_cursor";
