-- reverse: modify "events" table
ALTER TABLE "events" DROP COLUMN "zns_message_id";
