-- reverse: create index "oauthstate_expires_at" to table: "oauth_states"
DROP INDEX "oauthstate_expires_at";
-- reverse: create index "oauth_states_state_hash_key" to table: "oauth_states"
DROP INDEX "oauth_states_state_hash_key";
-- reverse: create "oauth_states" table
DROP TABLE "oauth_states";
