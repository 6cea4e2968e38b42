-- create "oauth_states" table
CREATE TABLE "oauth_states" ("id" character varying NOT NULL, "state_hash" character varying NOT NULL, "provider" character varying NOT NULL, "organization_id" character varying NOT NULL, "user_id" character varying NOT NULL, "code_verifier" bytea NOT NULL, "redirect_uri" character varying NOT NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "oauth_states_state_hash_key" to table: "oauth_states"
CREATE UNIQUE INDEX "oauth_states_state_hash_key" ON "oauth_states" ("state_hash");
-- create index "oauthstate_expires_at" to table: "oauth_states"
CREATE INDEX "oauthstate_expires_at" ON "oauth_states" ("expires_at");
