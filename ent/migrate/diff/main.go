// Command diff writes the versioned PostgreSQL migration that brings the files
// in ent/migrate/migrations up to date with the ent schema, or (with -check)
// fails when they disagree.
//
// Usage, from the module root:
//
//	go run ./ent/migrate/diff -name add_customer_notes   # write a new migration
//	go run ./ent/migrate/diff -check                     # CI drift check
//
// By default the tool never plans data loss: a field removed from the ent
// schema keeps its column, and a migration containing DROP TABLE or DROP
// COLUMN is refused. -allow-drop plans the drops of removed columns and
// indexes and accepts them.
//
// Atlas computes the current state by replaying the migration files on a
// throwaway database (ModeReplay), so the tool needs a PostgreSQL server it may
// create databases on: -dev, or $DAKENH_DEV_DATABASE_URL, or the local default.
// The diff is always written into a temporary copy of the directory first;
// only a clean result is copied back, so a refused or failed run leaves the
// real directory untouched.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/lib/pq"

	"github.com/dakenh/dakenh/ent/migrate"
)

const (
	// migrationsDir is the migration directory relative to the module root.
	migrationsDir = "ent/migrate/migrations"
	// defaultDevURL is the local PostgreSQL server CI and the dev container run.
	defaultDevURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// devURLEnv overrides defaultDevURL for machines whose server lives elsewhere.
	devURLEnv = "DAKENH_DEV_DATABASE_URL"
)

// validName keeps migration names safe in file names and golang-migrate's
// <version>_<name>.up.sql pattern.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// dropStmt finds statements that destroy data. ent never plans them unless
// asked to, but a hand-edited schema option or a future ent release could, and
// a reviewer skimming a long migration should not be the last line of defence.
var dropStmt = regexp.MustCompile(`(?i)\bDROP\s+(TABLE|COLUMN)\b`)

func main() {
	var (
		name      = flag.String("name", "", "name of the new migration, e.g. add_customer_notes (required unless -check)")
		dev       = flag.String("dev", envOr(devURLEnv, defaultDevURL), "PostgreSQL server URL on which a temporary dev database is created (env "+devURLEnv+")")
		check     = flag.Bool("check", false, "only report whether the migration files match the ent schema; exit 1 if they do not")
		allowDrop = flag.Bool("allow-drop", false, "also drop columns and indexes the ent schema no longer has, and accept a migration containing DROP TABLE or DROP COLUMN (data loss: review it)")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./ent/migrate/diff (-name NAME | -check) [-dev URL] [-allow-drop]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if !*check && !validName.MatchString(*name) {
		fmt.Fprintln(os.Stderr, "diff: -name is required and must match", validName)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, *name, *dev, *check, *allowDrop)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diff:", err)
		if code == 0 {
			code = 1
		}
	}
	stop()
	os.Exit(code)
}

// run does the work of main and returns the exit code, so deferred clean-ups
// (the temporary database and directory) run before the process exits.
func run(ctx context.Context, name, devURL string, check, allowDrop bool) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 1, err
	}
	dir := filepath.Join(root, filepath.FromSlash(migrationsDir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 1, err
	}
	cur, err := sqltool.NewGolangMigrateDir(dir)
	if err != nil {
		return 1, err
	}
	// A mismatching atlas.sum means a migration file was edited, added or
	// removed by hand; replaying such a directory would hide the mistake.
	if err := atlasmigrate.Validate(cur); err != nil {
		return 1, fmt.Errorf("%s: atlas.sum does not match the migration files (edited by hand?): %w; "+
			"never edit an applied migration, write a new one", migrationsDir, err)
	}

	tmp, err := os.MkdirTemp("", "dakenh-migrations-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	before, err := copyDir(dir, tmp)
	if err != nil {
		return 1, err
	}
	if check {
		name = "pending"
	}
	// -check never plans drops: removing a field from the ent schema leaves
	// the column in place, which is the intended append-only behaviour.
	if err := diff(ctx, devURL, tmp, name, allowDrop && !check); err != nil {
		return 1, err
	}
	added, err := newFiles(tmp, before)
	if err != nil {
		return 1, err
	}

	if check {
		if len(added) == 0 {
			fmt.Println("migrations are up to date with the ent schema")
			return 0, nil
		}
		fmt.Fprintf(os.Stderr, "the ent schema and %s disagree; pending statements:\n\n", migrationsDir)
		for _, f := range added {
			if strings.HasSuffix(f, ".up.sql") {
				b, err := os.ReadFile(filepath.Join(tmp, f))
				if err != nil {
					return 1, err
				}
				fmt.Fprintf(os.Stderr, "%s\n", indent(string(b)))
			}
		}
		fmt.Fprintln(os.Stderr, "run `go run ./ent/migrate/diff -name <what_changed>` and commit the new files")
		return 1, nil
	}

	if len(added) == 0 {
		fmt.Println("no changes: the migration files already match the ent schema")
		return 0, nil
	}
	if !allowDrop {
		drops, err := findDrops(tmp, added)
		if err != nil {
			return 1, err
		}
		if len(drops) > 0 {
			return 1, fmt.Errorf("refusing to write a migration that drops data (rerun with -allow-drop if intended):\n  %s",
				strings.Join(drops, "\n  "))
		}
	}
	// atlas.sum changes with every new file; copy it last so an interrupted
	// copy leaves a directory that -check reports as broken, not one that
	// silently validates.
	for _, f := range append(added, atlasmigrate.HashFileName) {
		b, err := os.ReadFile(filepath.Join(tmp, f))
		if err != nil {
			return 1, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return 1, err
		}
		if f != atlasmigrate.HashFileName {
			fmt.Println("wrote", filepath.ToSlash(filepath.Join(migrationsDir, f)))
		}
	}
	return 0, nil
}

// diff creates a temporary dev database on the server at devURL, lets ent and
// Atlas write the pending migration into dir, and drops the database again.
func diff(ctx context.Context, devURL, dir, name string, drop bool) (err error) {
	u, err := url.Parse(devURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("-dev must be a postgres:// URL, got %q", devURL)
	}
	admin, err := sql.Open("postgres", devURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		return fmt.Errorf("connecting to the dev server %s: %w", u.Redacted(), err)
	}

	dbName := "dakenh_diff_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(dbName)); err != nil {
		return fmt.Errorf("creating the dev database: %w", err)
	}
	defer func() {
		// The caller's context may be cancelled already (Ctrl-C); the drop must
		// still happen or the server collects stray databases.
		dropCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, derr := admin.ExecContext(dropCtx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(dbName)+" WITH (FORCE)"); derr != nil {
			err = errors.Join(err, fmt.Errorf("dropping the dev database %s: %w", dbName, derr))
		}
	}()

	du := *u
	du.Path = "/" + dbName
	q := du.Query()
	// Binding Atlas to the public schema makes it plan unqualified statements
	// (CREATE TABLE "users", not "public"."users"), which golang-migrate then
	// applies in whatever schema the production connection uses.
	q.Set("search_path", "public")
	du.RawQuery = q.Encode()

	// The customer search index uses gin_trgm_ops; the application creates
	// pg_trgm before migrating, so the dev database must have it too.
	devDB, err := sql.Open("postgres", du.String())
	if err != nil {
		return err
	}
	_, err = devDB.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
	devDB.Close()
	if err != nil {
		return fmt.Errorf("creating pg_trgm in the dev database: %w", err)
	}

	out, err := sqltool.NewGolangMigrateDir(dir)
	if err != nil {
		return err
	}
	opts := []schema.MigrateOption{
		schema.WithDir(out),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(sqltool.GolangMigrateFormatter),
	}
	// Without -allow-drop, no WithDropColumn/WithDropIndex: a migration
	// must never lose data unless someone asked for it and reviews it.
	if drop {
		opts = append(opts, schema.WithDropColumn(true), schema.WithDropIndex(true))
	}
	err = migrate.NamedDiff(ctx, du.String(), name, opts...)
	if err != nil {
		return fmt.Errorf("computing the migration diff: %w", err)
	}
	return nil
}

// findDrops returns the lines of the up-files among names in dir that drop
// a table or a column, prefixed with the file name.
func findDrops(dir string, names []string) ([]string, error) {
	var drops []string
	for _, f := range names {
		if !strings.HasSuffix(f, ".up.sql") {
			continue // down-files drop what their up-file created, by design
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue // Atlas's comments name the change, not run it
			}
			if dropStmt.MatchString(line) {
				drops = append(drops, f+": "+strings.TrimSpace(line))
			}
		}
	}
	return drops, nil
}

// moduleRoot returns the nearest directory at or above the working directory
// that holds a go.mod, so the tool works from any folder inside the module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory; run from the module root")
		}
		dir = parent
	}
}

// copyDir copies the regular files of src into dst and returns their names.
func copyDir(src, dst string) ([]string, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return nil, err
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// newFiles lists the migration files in dir that are not in before, sorted.
func newFiles(dir string, before []string) ([]string, error) {
	names, err := fs.Glob(os.DirFS(dir), "*.sql")
	if err != nil {
		return nil, err
	}
	var added []string
	for _, n := range names {
		if !slices.Contains(before, n) {
			added = append(added, n)
		}
	}
	slices.Sort(added)
	return added, nil
}

// indent prefixes each non-empty line so pending SQL stands out in CI logs.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n")
}

// randomHex returns n random bytes in hex, for unique database names.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
