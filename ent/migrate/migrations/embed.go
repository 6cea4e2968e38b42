// Package migrations embeds the versioned PostgreSQL migrations, in
// golang-migrate's <version>_<name>.up.sql/.down.sql format, so the binary
// migrates its database without any file on disk.
//
// The files are generated from the ent schema by `go run ./ent/migrate/diff
// -name <name>` and must never be edited once applied anywhere: atlas.sum
// pins their content, and CI fails when it does not match or when the ent
// schema has changes no migration covers.
package migrations

import "embed"

// FS holds the migration files and atlas.sum; database.Open applies the
// migrations from it with golang-migrate's iofs source.
//
//go:embed *.sql atlas.sum
var FS embed.FS
