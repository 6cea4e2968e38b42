-- modify "conversations" table
ALTER TABLE "conversations" ADD COLUMN "last_message_id" character varying NULL, ADD CONSTRAINT "conversations_messages_last_message" FOREIGN KEY ("last_message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
