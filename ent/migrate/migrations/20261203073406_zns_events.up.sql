-- modify "events" table
ALTER TABLE "events" ADD COLUMN "zns_message_id" character varying NULL;
