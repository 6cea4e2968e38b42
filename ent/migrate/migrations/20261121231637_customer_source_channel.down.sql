-- reverse: modify "customers" table
ALTER TABLE "customers" DROP CONSTRAINT "customers_channels_source_channel", DROP COLUMN "source_channel_id";
-- reverse: create index "identity_channel_id" to table: "identities"
DROP INDEX "identity_channel_id";
