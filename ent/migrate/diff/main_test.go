package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/internal/dbtest"
)

func TestFindDrops(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"1_a.up.sql":   "-- modify \"tags\" table\nALTER TABLE \"tags\" DROP COLUMN \"color\", ADD COLUMN \"notes\" text NULL;\n",
		"1_a.down.sql": "ALTER TABLE \"tags\" DROP COLUMN \"notes\";\n",
		"2_b.up.sql":   "-- drop \"old\" table\ndrop   table \"old\";\nCREATE INDEX \"x\" ON \"t\" (\"c\");\n",
		"3_c.up.sql":   "-- DROP TABLE in a comment only\nALTER TABLE \"t\" ADD COLUMN \"drop_table\" text NULL;\nDROP INDEX \"x\";\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := findDrops(dir, []string{"1_a.down.sql", "1_a.up.sql", "2_b.up.sql", "3_c.up.sql"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1_a.up.sql: ALTER TABLE "tags" DROP COLUMN "color", ADD COLUMN "notes" text NULL;`,
		`2_b.up.sql: drop   table "old";`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("findDrops =\n%q\nwant\n%q", got, want)
	}
}

func TestNewFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"1_a.up.sql", "1_a.down.sql", "2_b.up.sql", "2_b.down.sql", "atlas.sum", "embed.go"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newFiles(dir, []string{"1_a.up.sql", "1_a.down.sql", "atlas.sum", "embed.go"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2_b.down.sql", "2_b.up.sql"}; !slices.Equal(got, want) {
		t.Errorf("newFiles = %q, want %q", got, want)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(migrationsDir), "atlas.sum")); err != nil {
		t.Errorf("module root %s has no migrations: %v", root, err)
	}
}

// TestMigrationsMatchSchema runs the -check mode, the same drift check as
// CI, in the PostgreSQL test run.
func TestMigrationsMatchSchema(t *testing.T) {
	if dbtest.Dialect() != dialect.Postgres {
		t.Skipf("needs a PostgreSQL server: set %s=postgres", dbtest.EnvDB)
	}
	dev := os.Getenv(dbtest.EnvPostgresURL)
	if dev == "" {
		dev = dbtest.DefaultPostgresURL
	}
	code, err := run(context.Background(), "", dev, true, false)
	if err != nil || code != 0 {
		t.Fatalf("the migrations do not match the ent schema (exit %d, %v): run `go run ./ent/migrate/diff -name <what_changed>`", code, err)
	}
}
