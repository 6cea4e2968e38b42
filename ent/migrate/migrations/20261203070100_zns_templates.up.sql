-- create "zns_templates" table
CREATE TABLE "zns_templates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "template_id" character varying NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL, "tag" character varying NOT NULL DEFAULT '', "params" jsonb NOT NULL, "price" bigint NOT NULL DEFAULT 0, "quality" character varying NOT NULL DEFAULT '', "preview_url" character varying NOT NULL DEFAULT '', "timeout_ms" bigint NOT NULL DEFAULT 0, "daily_quota" bigint NOT NULL DEFAULT 0, "remaining_quota" bigint NOT NULL DEFAULT 0, "synced_at" timestamptz NOT NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "zns_templates_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "zns_templates_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "znstemplate_channel_id_template_id" to table: "zns_templates"
CREATE UNIQUE INDEX "znstemplate_channel_id_template_id" ON "zns_templates" ("channel_id", "template_id");
-- create index "znstemplate_organization_id" to table: "zns_templates"
CREATE INDEX "znstemplate_organization_id" ON "zns_templates" ("organization_id");
-- create index "znstemplate_organization_id_status" to table: "zns_templates"
CREATE INDEX "znstemplate_organization_id_status" ON "zns_templates" ("organization_id", "status");
