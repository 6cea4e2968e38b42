-- create "activities" table
CREATE TABLE "activities" ("id" character varying NOT NULL, "action" character varying NOT NULL, "subject_id" character varying NULL, "details" jsonb NULL, "created_at" timestamptz NOT NULL, "organization_id" character varying NOT NULL, "actor_id" character varying NULL, "api_key_id" character varying NULL, "channel_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "activities_api_keys_api_key" FOREIGN KEY ("api_key_id") REFERENCES "api_keys" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "activities_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "activities_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "activities_users_actor" FOREIGN KEY ("actor_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "activity_organization_id" to table: "activities"
CREATE INDEX "activity_organization_id" ON "activities" ("organization_id");
-- create index "activity_organization_id_action_created_at" to table: "activities"
CREATE INDEX "activity_organization_id_action_created_at" ON "activities" ("organization_id", "action", "created_at");
-- create index "activity_organization_id_actor_id_created_at" to table: "activities"
CREATE INDEX "activity_organization_id_actor_id_created_at" ON "activities" ("organization_id", "actor_id", "created_at");
-- create index "activity_organization_id_channel_id_created_at" to table: "activities"
CREATE INDEX "activity_organization_id_channel_id_created_at" ON "activities" ("organization_id", "channel_id", "created_at");
-- create index "activity_organization_id_created_at" to table: "activities"
CREATE INDEX "activity_organization_id_created_at" ON "activities" ("organization_id", "created_at");
