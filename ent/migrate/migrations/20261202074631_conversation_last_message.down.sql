-- reverse: modify "conversations" table
ALTER TABLE "conversations" DROP CONSTRAINT "conversations_messages_last_message", DROP COLUMN "last_message_id";
