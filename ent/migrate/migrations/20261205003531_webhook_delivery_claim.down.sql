-- reverse: create index "webhookdelivery_pending_endpoint_id_event_seq" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_pending_endpoint_id_event_seq";
-- reverse: create index "webhookdelivery_leased_endpoint_id" to table: "webhook_deliveries"
DROP INDEX "webhookdelivery_leased_endpoint_id";
