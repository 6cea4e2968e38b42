-- reverse: create index "activity_organization_id_created_at" to table: "activities"
DROP INDEX "activity_organization_id_created_at";
-- reverse: create index "activity_organization_id_channel_id_created_at" to table: "activities"
DROP INDEX "activity_organization_id_channel_id_created_at";
-- reverse: create index "activity_organization_id_actor_id_created_at" to table: "activities"
DROP INDEX "activity_organization_id_actor_id_created_at";
-- reverse: create index "activity_organization_id_action_created_at" to table: "activities"
DROP INDEX "activity_organization_id_action_created_at";
-- reverse: create index "activity_organization_id" to table: "activities"
DROP INDEX "activity_organization_id";
-- reverse: create "activities" table
DROP TABLE "activities";
