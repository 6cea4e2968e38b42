-- reverse: create index "key_checks_name_key" to table: "key_checks"
DROP INDEX "key_checks_name_key";
-- reverse: create "key_checks" table
DROP TABLE "key_checks";
