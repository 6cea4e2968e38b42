-- reverse: create index "call_organization_id_started_at" to table: "calls"
DROP INDEX "call_organization_id_started_at";
-- reverse: create index "call_organization_id" to table: "calls"
DROP INDEX "call_organization_id";
-- reverse: create index "call_operator_id_status" to table: "calls"
DROP INDEX "call_operator_id_status";
-- reverse: create index "call_customer_id_started_at" to table: "calls"
DROP INDEX "call_customer_id_started_at";
-- reverse: create index "call_channel_id_provider_call_id" to table: "calls"
DROP INDEX "call_channel_id_provider_call_id";
-- reverse: create "calls" table
DROP TABLE "calls";
-- reverse: create index "callsettings_organization_id" to table: "call_settings"
DROP INDEX "callsettings_organization_id";
-- reverse: create index "callsettings_channel_id" to table: "call_settings"
DROP INDEX "callsettings_channel_id";
-- reverse: create "call_settings" table
DROP TABLE "call_settings";
-- reverse: create index "callpermission_organization_id" to table: "call_permissions"
DROP INDEX "callpermission_organization_id";
-- reverse: create index "callpermission_customer_id" to table: "call_permissions"
DROP INDEX "callpermission_customer_id";
-- reverse: create index "callpermission_channel_id_phone_requested_at" to table: "call_permissions"
DROP INDEX "callpermission_channel_id_phone_requested_at";
-- reverse: create index "callpermission_channel_id_customer_id_requested_at" to table: "call_permissions"
DROP INDEX "callpermission_channel_id_customer_id_requested_at";
-- reverse: create "call_permissions" table
DROP TABLE "call_permissions";
-- reverse: create index "calloperator_user_id" to table: "call_operators"
DROP INDEX "calloperator_user_id";
-- reverse: create index "calloperator_organization_id" to table: "call_operators"
DROP INDEX "calloperator_organization_id";
-- reverse: create index "calloperator_channel_id_user_id" to table: "call_operators"
DROP INDEX "calloperator_channel_id_user_id";
-- reverse: create "call_operators" table
DROP TABLE "call_operators";
-- reverse: modify "events" table
ALTER TABLE "events" DROP COLUMN "call_permission_id", DROP COLUMN "call_id";
