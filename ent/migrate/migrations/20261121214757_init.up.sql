-- create "login_attempts" table
CREATE TABLE "login_attempts" ("id" character varying NOT NULL, "key" character varying NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "loginattempt_key_created_at" to table: "login_attempts"
CREATE INDEX "loginattempt_key_created_at" ON "login_attempts" ("key", "created_at");
-- create "organizations" table
CREATE TABLE "organizations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, PRIMARY KEY ("id"));
-- create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "email" character varying NOT NULL, "password_hash" character varying NOT NULL, "role" character varying NOT NULL, "presence" character varying NOT NULL DEFAULT 'OFFLINE', "active" boolean NOT NULL DEFAULT true, "last_login_at" timestamptz NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "users_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "user_organization_id" to table: "users"
CREATE INDEX "user_organization_id" ON "users" ("organization_id");
-- create index "user_organization_id_role" to table: "users"
CREATE INDEX "user_organization_id_role" ON "users" ("organization_id", "role");
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- create "api_keys" table
CREATE TABLE "api_keys" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL, "key_hash" bytea NOT NULL, "scopes" jsonb NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "organization_id" character varying NOT NULL, "created_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "api_keys_users_created_by" FOREIGN KEY ("created_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "api_keys_key_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" ("key_hash");
-- create index "apikey_organization_id" to table: "api_keys"
CREATE INDEX "apikey_organization_id" ON "api_keys" ("organization_id");
-- create "custom_fields" table
CREATE TABLE "custom_fields" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "key" character varying NOT NULL, "label" character varying NOT NULL, "type" character varying NOT NULL, "options" jsonb NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "custom_fields_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "customfield_organization_id" to table: "custom_fields"
CREATE INDEX "customfield_organization_id" ON "custom_fields" ("organization_id");
-- create index "customfield_organization_id_key" to table: "custom_fields"
CREATE UNIQUE INDEX "customfield_organization_id_key" ON "custom_fields" ("organization_id", "key");
-- create "customers" table
CREATE TABLE "customers" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "phone" character varying NULL, "email" character varying NULL, "avatar_url" character varying NULL, "gender" character varying NULL, "birthday" timestamptz NULL, "address" character varying NULL, "stage" character varying NOT NULL DEFAULT 'LEAD', "score" bigint NOT NULL DEFAULT 0, "custom_fields" jsonb NULL, "do_not_contact" boolean NOT NULL DEFAULT false, "search_text" text NOT NULL DEFAULT '', "organization_id" character varying NOT NULL, "owner_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "customers_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "customers_users_owner" FOREIGN KEY ("owner_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- create index "customer_organization_id" to table: "customers"
CREATE INDEX "customer_organization_id" ON "customers" ("organization_id");
-- create index "customer_organization_id_created_at" to table: "customers"
CREATE INDEX "customer_organization_id_created_at" ON "customers" ("organization_id", "created_at");
-- create index "customer_organization_id_email" to table: "customers"
CREATE UNIQUE INDEX "customer_organization_id_email" ON "customers" ("organization_id", "email");
-- create index "customer_organization_id_owner_id" to table: "customers"
CREATE INDEX "customer_organization_id_owner_id" ON "customers" ("organization_id", "owner_id");
-- create index "customer_organization_id_phone" to table: "customers"
CREATE UNIQUE INDEX "customer_organization_id_phone" ON "customers" ("organization_id", "phone");
-- create index "customer_search_text" to table: "customers"
CREATE INDEX "customer_search_text" ON "customers" USING gin ("search_text" gin_trgm_ops);
-- create "tags" table
CREATE TABLE "tags" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "color" character varying NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "tags_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "tag_organization_id" to table: "tags"
CREATE INDEX "tag_organization_id" ON "tags" ("organization_id");
-- create index "tag_organization_id_name" to table: "tags"
CREATE UNIQUE INDEX "tag_organization_id_name" ON "tags" ("organization_id", "name");
-- create "customer_tags" table
CREATE TABLE "customer_tags" ("customer_id" character varying NOT NULL, "tag_id" character varying NOT NULL, PRIMARY KEY ("customer_id", "tag_id"), CONSTRAINT "customer_tags_customer_id" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "customer_tags_tag_id" FOREIGN KEY ("tag_id") REFERENCES "tags" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create "sessions" table
CREATE TABLE "sessions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "token_hash" bytea NOT NULL, "expires_at" timestamptz NOT NULL, "revoked_at" timestamptz NULL, "organization_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "sessions_organizations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "sessions_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "session_organization_id" to table: "sessions"
CREATE INDEX "session_organization_id" ON "sessions" ("organization_id");
-- create index "session_user_id" to table: "sessions"
CREATE INDEX "session_user_id" ON "sessions" ("user_id");
-- create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions" ("token_hash");
