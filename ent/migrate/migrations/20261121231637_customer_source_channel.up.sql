-- create index "identity_channel_id" to table: "identities"
CREATE INDEX "identity_channel_id" ON "identities" ("channel_id") WHERE (profile_fetched_at IS NULL);
-- modify "customers" table
ALTER TABLE "customers" ADD COLUMN "source_channel_id" character varying NULL, ADD CONSTRAINT "customers_channels_source_channel" FOREIGN KEY ("source_channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
