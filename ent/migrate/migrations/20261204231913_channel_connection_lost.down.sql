-- reverse: modify "channels" table
ALTER TABLE "channels" DROP COLUMN "connection_lost_at";
