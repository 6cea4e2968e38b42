-- modify "events" table
ALTER TABLE "events" ADD COLUMN "call_id" character varying NULL, ADD COLUMN "call_permission_id" character varying NULL;
-- create "call_operators" table
CREATE TABLE "call_operators" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "role" character varying NOT NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "user_id" character varying NOT NULL, "added_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "call_operators_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_operators_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_operators_users_added_by" FOREIGN KEY ("added_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "call_operators_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "calloperator_channel_id_user_id" to table: "call_operators"
CREATE UNIQUE INDEX "calloperator_channel_id_user_id" ON "call_operators" ("channel_id", "user_id");
-- create index "calloperator_organization_id" to table: "call_operators"
CREATE INDEX "calloperator_organization_id" ON "call_operators" ("organization_id");
-- create index "calloperator_user_id" to table: "call_operators"
CREATE INDEX "calloperator_user_id" ON "call_operators" ("user_id");
-- create "call_permissions" table
CREATE TABLE "call_permissions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "phone" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'REQUESTED', "reason" character varying NOT NULL, "call_type" character varying NOT NULL, "requested_at" timestamptz NOT NULL, "answered_at" timestamptz NULL, "granted_at" timestamptz NULL, "expires_at" timestamptz NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "customer_id" character varying NOT NULL, "requested_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "call_permissions_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_permissions_customers_customer" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_permissions_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_permissions_users_requested_by" FOREIGN KEY ("requested_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "callpermission_channel_id_customer_id_requested_at" to table: "call_permissions"
CREATE INDEX "callpermission_channel_id_customer_id_requested_at" ON "call_permissions" ("channel_id", "customer_id", "requested_at");
-- create index "callpermission_channel_id_phone_requested_at" to table: "call_permissions"
CREATE INDEX "callpermission_channel_id_phone_requested_at" ON "call_permissions" ("channel_id", "phone", "requested_at");
-- create index "callpermission_customer_id" to table: "call_permissions"
CREATE INDEX "callpermission_customer_id" ON "call_permissions" ("customer_id");
-- create index "callpermission_organization_id" to table: "call_permissions"
CREATE INDEX "callpermission_organization_id" ON "call_permissions" ("organization_id");
-- create "call_settings" table
CREATE TABLE "call_settings" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "enabled" boolean NOT NULL DEFAULT false, "timezone" character varying NOT NULL DEFAULT 'Asia/Ho_Chi_Minh', "windows" jsonb NOT NULL, "closed_dates" jsonb NOT NULL, "out_of_hours_reply" text NOT NULL DEFAULT '', "busy_reply" text NOT NULL DEFAULT '', "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "call_settings_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "call_settings_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "callsettings_channel_id" to table: "call_settings"
CREATE UNIQUE INDEX "callsettings_channel_id" ON "call_settings" ("channel_id");
-- create index "callsettings_organization_id" to table: "call_settings"
CREATE INDEX "callsettings_organization_id" ON "call_settings" ("organization_id");
-- create "calls" table
CREATE TABLE "calls" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "direction" character varying NOT NULL, "kind" character varying NOT NULL DEFAULT 'AUDIO', "status" character varying NOT NULL DEFAULT 'RINGING', "result" character varying NULL, "provider_call_id" character varying NULL, "started_at" timestamptz NOT NULL, "answered_at" timestamptz NULL, "ended_at" timestamptz NULL, "duration_seconds" bigint NULL, "recording_url" character varying NULL, "ticket_link" character varying NULL, "ticket_qr_code" text NULL, "ticket_expires_at" timestamptz NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, "customer_id" character varying NOT NULL, "operator_id" character varying NULL, "permission_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "calls_call_permissions_permission" FOREIGN KEY ("permission_id") REFERENCES "call_permissions" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "calls_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "calls_customers_customer" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "calls_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "calls_users_operator" FOREIGN KEY ("operator_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "call_channel_id_provider_call_id" to table: "calls"
CREATE UNIQUE INDEX "call_channel_id_provider_call_id" ON "calls" ("channel_id", "provider_call_id");
-- create index "call_customer_id_started_at" to table: "calls"
CREATE INDEX "call_customer_id_started_at" ON "calls" ("customer_id", "started_at");
-- create index "call_operator_id_status" to table: "calls"
CREATE INDEX "call_operator_id_status" ON "calls" ("operator_id", "status");
-- create index "call_organization_id" to table: "calls"
CREATE INDEX "call_organization_id" ON "calls" ("organization_id");
-- create index "call_organization_id_started_at" to table: "calls"
CREATE INDEX "call_organization_id_started_at" ON "calls" ("organization_id", "started_at");
