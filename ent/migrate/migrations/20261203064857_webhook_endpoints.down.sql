-- reverse: create index "webhookendpoint_organization_id" to table: "webhook_endpoints"
DROP INDEX "webhookendpoint_organization_id";
-- reverse: create "webhook_endpoints" table
DROP TABLE "webhook_endpoints";
