-- modify "webhook_endpoints" table
ALTER TABLE "webhook_endpoints" ADD COLUMN "event_cursor" bigint NOT NULL DEFAULT 0, ADD COLUMN "failing_since" timestamptz NULL;
-- create "webhook_deliveries" table
CREATE TABLE "webhook_deliveries" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "event_seq" bigint NOT NULL, "event_id" character varying NOT NULL, "event_type" character varying NOT NULL, "payload" bytea NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "tries" bigint NOT NULL DEFAULT 0, "next_attempt_at" timestamptz NULL, "lease_until" timestamptz NULL, "last_error" character varying NULL, "delivered_at" timestamptz NULL, "organization_id" character varying NOT NULL, "endpoint_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "webhook_deliveries_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "webhook_deliveries_webhook_endpoints_endpoint" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "webhookdelivery_created_at" to table: "webhook_deliveries"
CREATE INDEX "webhookdelivery_created_at" ON "webhook_deliveries" ("created_at");
-- create index "webhookdelivery_endpoint_id_event_seq" to table: "webhook_deliveries"
CREATE UNIQUE INDEX "webhookdelivery_endpoint_id_event_seq" ON "webhook_deliveries" ("endpoint_id", "event_seq");
-- create index "webhookdelivery_organization_id" to table: "webhook_deliveries"
CREATE INDEX "webhookdelivery_organization_id" ON "webhook_deliveries" ("organization_id");
-- create index "webhookdelivery_status_next_attempt_at" to table: "webhook_deliveries"
CREATE INDEX "webhookdelivery_status_next_attempt_at" ON "webhook_deliveries" ("status", "next_attempt_at");
-- create "webhook_attempts" table
CREATE TABLE "webhook_attempts" ("id" character varying NOT NULL, "at" timestamptz NOT NULL, "status_code" bigint NULL, "duration_ms" bigint NOT NULL, "error" character varying NULL, "response" character varying NOT NULL DEFAULT '', "organization_id" character varying NOT NULL, "delivery_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "webhook_attempts_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "webhook_attempts_webhook_deliveries_delivery" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "webhookattempt_at" to table: "webhook_attempts"
CREATE INDEX "webhookattempt_at" ON "webhook_attempts" ("at");
-- create index "webhookattempt_delivery_id_at" to table: "webhook_attempts"
CREATE INDEX "webhookattempt_delivery_id_at" ON "webhook_attempts" ("delivery_id", "at");
-- create index "webhookattempt_organization_id" to table: "webhook_attempts"
CREATE INDEX "webhookattempt_organization_id" ON "webhook_attempts" ("organization_id");
