-- reverse: create index "znstemplate_organization_id_status" to table: "zns_templates"
DROP INDEX "znstemplate_organization_id_status";
-- reverse: create index "znstemplate_organization_id" to table: "zns_templates"
DROP INDEX "znstemplate_organization_id";
-- reverse: create index "znstemplate_channel_id_template_id" to table: "zns_templates"
DROP INDEX "znstemplate_channel_id_template_id";
-- reverse: create "zns_templates" table
DROP TABLE "zns_templates";
