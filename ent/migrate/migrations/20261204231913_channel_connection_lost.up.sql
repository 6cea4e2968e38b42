-- modify "channels" table
ALTER TABLE "channels" ADD COLUMN "connection_lost_at" timestamptz NULL;
