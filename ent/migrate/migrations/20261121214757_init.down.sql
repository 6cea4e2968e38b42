-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX "sessions_token_hash_key";
-- reverse: create index "session_user_id" to table: "sessions"
DROP INDEX "session_user_id";
-- reverse: create index "session_organization_id" to table: "sessions"
DROP INDEX "session_organization_id";
-- reverse: create "sessions" table
DROP TABLE "sessions";
-- reverse: create "customer_tags" table
DROP TABLE "customer_tags";
-- reverse: create index "tag_organization_id_name" to table: "tags"
DROP INDEX "tag_organization_id_name";
-- reverse: create index "tag_organization_id" to table: "tags"
DROP INDEX "tag_organization_id";
-- reverse: create "tags" table
DROP TABLE "tags";
-- reverse: create index "customer_search_text" to table: "customers"
DROP INDEX "customer_search_text";
-- reverse: create index "customer_organization_id_phone" to table: "customers"
DROP INDEX "customer_organization_id_phone";
-- reverse: create index "customer_organization_id_owner_id" to table: "customers"
DROP INDEX "customer_organization_id_owner_id";
-- reverse: create index "customer_organization_id_email" to table: "customers"
DROP INDEX "customer_organization_id_email";
-- reverse: create index "customer_organization_id_created_at" to table: "customers"
DROP INDEX "customer_organization_id_created_at";
-- reverse: create index "customer_organization_id" to table: "customers"
DROP INDEX "customer_organization_id";
-- reverse: create "customers" table
DROP TABLE "customers";
-- reverse: create index "customfield_organization_id_key" to table: "custom_fields"
DROP INDEX "customfield_organization_id_key";
-- reverse: create index "customfield_organization_id" to table: "custom_fields"
DROP INDEX "customfield_organization_id";
-- reverse: create "custom_fields" table
DROP TABLE "custom_fields";
-- reverse: create index "apikey_organization_id" to table: "api_keys"
DROP INDEX "apikey_organization_id";
-- reverse: create index "api_keys_key_hash_key" to table: "api_keys"
DROP INDEX "api_keys_key_hash_key";
-- reverse: create "api_keys" table
DROP TABLE "api_keys";
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX "users_email_key";
-- reverse: create index "user_organization_id_role" to table: "users"
DROP INDEX "user_organization_id_role";
-- reverse: create index "user_organization_id" to table: "users"
DROP INDEX "user_organization_id";
-- reverse: create "users" table
DROP TABLE "users";
-- reverse: create "organizations" table
DROP TABLE "organizations";
-- reverse: create index "loginattempt_key_created_at" to table: "login_attempts"
DROP INDEX "loginattempt_key_created_at";
-- reverse: create "login_attempts" table
DROP TABLE "login_attempts";
