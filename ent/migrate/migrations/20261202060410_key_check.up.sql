-- create "key_checks" table
CREATE TABLE "key_checks" ("id" character varying NOT NULL, "name" character varying NOT NULL, "sealed" bytea NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "key_checks_name_key" to table: "key_checks"
CREATE UNIQUE INDEX "key_checks_name_key" ON "key_checks" ("name");
