-- modify "messages" table
ALTER TABLE "messages" ADD COLUMN "content" jsonb NULL;
