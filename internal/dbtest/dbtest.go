// Package dbtest gives tests a fresh, empty, migrated database.
//
// DAKENH_TEST_DB picks the engine: "sqlite" (the default) or "postgres". CI
// runs the whole suite once with each, so every package's tests cover both
// dialects without knowing which one they run on.
//
// On PostgreSQL a test database is a copy of a template that is migrated
// once per migration set (CREATE DATABASE … TEMPLATE), which takes tens of
// milliseconds instead of replaying the migrations for every test. The
// server comes from DAKENH_TEST_POSTGRES_URL; it must allow creating
// databases.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/dakenh/dakenh/ent/migrate/migrations"
	"github.com/dakenh/dakenh/internal/database"
)

// Environment variables that configure the helpers.
const (
	// EnvDB selects the engine: "sqlite" (default) or "postgres".
	EnvDB = "DAKENH_TEST_DB"
	// EnvPostgresURL is the server test databases are created on.
	EnvPostgresURL = "DAKENH_TEST_POSTGRES_URL"
	// DefaultPostgresURL is used when EnvPostgresURL is unset: the local
	// server of the dev container and CI.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// Name prefixes of the databases this package creates on the server.
const (
	templatePrefix = "dakenh_tmpl_"
	testPrefix     = "dakenh_test_"
)

// templateVersion is hashed into the template's name with the migrations;
// bump it when the template's contents change for another reason (say, a
// new extension created by database.Open).
const templateVersion = 1

// staleAfter is the age after which a test database is assumed to be left
// over from a killed test process; no test runs that long.
const staleAfter = time.Hour

// Dialect returns the ent dialect the tests run on, from DAKENH_TEST_DB:
// dialect.SQLite unless it says "postgres". An unknown value panics so a
// typo in CI cannot silently run the SQLite suite twice.
func Dialect() string {
	switch v := os.Getenv(EnvDB); v {
	case "", "sqlite", "sqlite3":
		return dialect.SQLite
	case "postgres", "postgresql":
		return dialect.Postgres
	default:
		panic(fmt.Sprintf("dbtest: %s=%q: want sqlite or postgres", EnvDB, v))
	}
}

// Open returns a fresh, empty, migrated database for tb, closed (and on
// PostgreSQL dropped) when the test ends.
func Open(tb testing.TB) *database.DB {
	tb.Helper()
	return open(tb, nil)
}

// OpenCounting is Open with a Counter of the statements the ent client
// executes, for tests that prove a resolver does not issue N+1 queries.
// Statements run before OpenCounting returns (migrations) are not counted.
func OpenCounting(tb testing.TB) (*database.DB, *Counter) {
	tb.Helper()
	c := new(Counter)
	return open(tb, c.wrap), c
}

// open creates the database for tb with an optional ent driver wrapper.
func open(tb testing.TB, wrap func(dialect.Driver) dialect.Driver) *database.DB {
	tb.Helper()
	ctx := context.Background()
	var cfg database.Config
	switch Dialect() {
	case dialect.Postgres:
		u, err := createDatabase(ctx, tb)
		if err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		cfg.URL = u
	default:
		cfg.DataDir = tb.TempDir()
	}
	cfg.WrapDriver = wrap
	db, err := database.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("dbtest: opening the test database: %v", err)
	}
	// Registered after createDatabase's drop, so it runs first: a database
	// with open connections can only be dropped by force.
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("dbtest: closing the test database: %v", err)
		}
	})
	return db
}

// server is the PostgreSQL server shared by the tests of this process.
var server struct {
	once     sync.Once
	err      error
	url      *url.URL
	admin    *sql.DB // connected to the server URL's own database
	template string  // name of the migrated template database
}

// createDatabase copies the migrated template into a new database that is
// dropped at tb's cleanup, and returns its URL.
func createDatabase(ctx context.Context, tb testing.TB) (string, error) {
	server.once.Do(func() { server.err = setupServer(ctx) })
	if server.err != nil {
		return "", server.err
	}
	// The creation time in the name lets later runs sweep databases that a
	// killed process never dropped.
	name := fmt.Sprintf("%s%d_%s", testPrefix, time.Now().Unix(), randomHex(6))
	q := "CREATE DATABASE " + pq.QuoteIdentifier(name) + " TEMPLATE " + pq.QuoteIdentifier(server.template)
	if _, err := server.admin.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("creating a test database from %s: %w", server.template, err)
	}
	tb.Cleanup(func() {
		// WITH (FORCE) because a test that failed half-way may have left a
		// transaction or a stray connection behind.
		if _, err := server.admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			tb.Errorf("dbtest: dropping test database %s: %v", name, err)
		}
	})
	return withDatabase(server.url, name), nil
}

// setupServer connects to the test server and makes sure the template for
// the current migration set exists.
func setupServer(ctx context.Context) error {
	raw := os.Getenv(EnvPostgresURL)
	if raw == "" {
		raw = DefaultPostgresURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %w", EnvPostgresURL, err)
	}
	admin, err := sql.Open("postgres", raw)
	if err != nil {
		return err
	}
	// Test packages run in parallel processes; each needs only a few admin
	// connections, and the server's max_connections is shared by all.
	admin.SetMaxOpenConns(4)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		admin.Close()
		return fmt.Errorf("connecting to the test PostgreSQL server %s (set %s): %w", u.Redacted(), EnvPostgresURL, err)
	}
	hash, err := migrationsHash()
	if err != nil {
		admin.Close()
		return err
	}
	tmpl := templatePrefix + hash
	if err := ensureTemplate(ctx, admin, u, tmpl); err != nil {
		admin.Close()
		return err
	}
	sweep(ctx, admin)
	server.url, server.admin, server.template = u, admin, tmpl
	return nil
}

// sweep drops test databases older than staleAfter. Failures are ignored:
// another process may be dropping the same database.
func sweep(ctx context.Context, admin *sql.DB) {
	rows, err := admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'dakenh\_test\_%'`)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		var created int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(name, testPrefix), "%d_", &created); err != nil {
			continue
		}
		if time.Since(time.Unix(created, 0)) > staleAfter {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
	}
}

// ensureTemplate creates the migrated template tmpl unless it exists. A
// session-level advisory lock keyed by the name serializes the check and the
// creation across the test processes `go test ./...` runs in parallel; the
// template is built under a scratch name and renamed when complete, so a
// process killed half-way never leaves a broken template behind.
func ensureTemplate(ctx context.Context, admin *sql.DB, u *url.URL, tmpl string) (err error) {
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	// Closing the connection would release the lock too; closing it is what
	// ends the lock if this process dies.
	defer conn.Close()
	key := lockKey(tmpl)
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("locking for the template database: %w", err)
	}
	defer func() {
		if _, uerr := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()

	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}

	build := tmpl + "_build"
	// A build left by a killed process is garbage; nobody else builds while
	// the lock is held.
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(build)+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(build)); err != nil {
		return fmt.Errorf("creating the template database: %w", err)
	}
	db, err := database.Open(ctx, database.Config{URL: withDatabase(u, build)})
	if err != nil {
		return fmt.Errorf("migrating the template database: %w", err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	// IS_TEMPLATE documents the role; ALLOW_CONNECTIONS false keeps a stray
	// psql session from blocking every CREATE DATABASE … TEMPLATE. The
	// rename publishes the finished template atomically.
	for _, q := range []string{
		"ALTER DATABASE " + pq.QuoteIdentifier(build) + " RENAME TO " + pq.QuoteIdentifier(tmpl),
		"ALTER DATABASE " + pq.QuoteIdentifier(tmpl) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("publishing the template database: %w", err)
		}
	}
	return nil
}

// migrationsHash identifies the embedded migration set, so a changed
// migration gets a new template instead of tests running on a stale one.
func migrationsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dakenh template v%d\x00", templateVersion)
	var names []string
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// lockKey turns a name into an advisory-lock key.
func lockKey(name string) int64 {
	sum := sha256.Sum256([]byte("dakenh/dbtest:" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// withDatabase returns u pointing at database name.
func withDatabase(u *url.URL, name string) string {
	c := *u
	c.Path = "/" + name
	c.RawPath = ""
	return c.String()
}

// randomHex returns n random bytes in hex, for unique database names.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
