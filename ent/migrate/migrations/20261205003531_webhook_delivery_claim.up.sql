-- create index "webhookdelivery_leased_endpoint_id" to table: "webhook_deliveries"
CREATE INDEX "webhookdelivery_leased_endpoint_id" ON "webhook_deliveries" ("endpoint_id") WHERE (((status)::text = 'PENDING'::text) AND (lease_until IS NOT NULL));
-- create index "webhookdelivery_pending_endpoint_id_event_seq" to table: "webhook_deliveries"
CREATE INDEX "webhookdelivery_pending_endpoint_id_event_seq" ON "webhook_deliveries" ("endpoint_id", "event_seq") WHERE ((status)::text = 'PENDING'::text);
