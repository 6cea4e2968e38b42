-- modify "messages" table
ALTER TABLE "messages" ADD COLUMN "last_error" character varying NULL;
