-- reverse: create index "mediafile_organization_id_sha256" to table: "media_files"
DROP INDEX "mediafile_organization_id_sha256";
-- reverse: create index "mediafile_organization_id" to table: "media_files"
DROP INDEX "mediafile_organization_id";
-- reverse: create "media_files" table
DROP TABLE "media_files";
-- reverse: create index "livetalksettings_organization_id" to table: "live_talk_settings"
DROP INDEX "livetalksettings_organization_id";
-- reverse: create index "livetalksettings_channel_id" to table: "live_talk_settings"
DROP INDEX "livetalksettings_channel_id";
-- reverse: create "live_talk_settings" table
DROP TABLE "live_talk_settings";
-- reverse: create index "media_blobs_sha256_key" to table: "media_blobs"
DROP INDEX "media_blobs_sha256_key";
-- reverse: create "media_blobs" table
DROP TABLE "media_blobs";
