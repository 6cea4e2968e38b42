-- create "media_blobs" table
CREATE TABLE "media_blobs" ("id" character varying NOT NULL, "sha256" character varying NOT NULL, "content_type" character varying NOT NULL, "data" bytea NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "media_blobs_sha256_key" to table: "media_blobs"
CREATE UNIQUE INDEX "media_blobs_sha256_key" ON "media_blobs" ("sha256");
-- create "live_talk_settings" table
CREATE TABLE "live_talk_settings" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "settings" jsonb NOT NULL, "organization_id" character varying NOT NULL, "channel_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "live_talk_settings_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "live_talk_settings_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "livetalksettings_channel_id" to table: "live_talk_settings"
CREATE UNIQUE INDEX "livetalksettings_channel_id" ON "live_talk_settings" ("channel_id");
-- create index "livetalksettings_organization_id" to table: "live_talk_settings"
CREATE INDEX "livetalksettings_organization_id" ON "live_talk_settings" ("organization_id");
-- create "media_files" table
CREATE TABLE "media_files" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "content_type" character varying NOT NULL, "size" bigint NOT NULL, "sha256" character varying NOT NULL, "organization_id" character varying NOT NULL, "uploaded_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "media_files_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "media_files_users_uploaded_by" FOREIGN KEY ("uploaded_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "mediafile_organization_id" to table: "media_files"
CREATE INDEX "mediafile_organization_id" ON "media_files" ("organization_id");
-- create index "mediafile_organization_id_sha256" to table: "media_files"
CREATE UNIQUE INDEX "mediafile_organization_id_sha256" ON "media_files" ("organization_id", "sha256");
