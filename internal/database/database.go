// Package database opens the application's database: an embedded SQLite file
// by default, so a single binary runs with no setup, or PostgreSQL when
// DATABASE_URL names one, for deployments with several replicas.
//
// The two differ in how the schema is kept current. SQLite uses ent's
// auto-migration, which only ever adds tables, columns and indexes.
// PostgreSQL applies the reviewed, versioned migrations embedded from
// ent/migrate/migrations, so production schema changes are explicit files
// that CI checks against the ent schema.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	// The runtime package registers the schema's hooks, policies and default
	// values; a client without it would skip tenant isolation.
	_ "github.com/dakenh/dakenh/ent/runtime"
)

// Config says which database to open.
type Config struct {
	// URL is DATABASE_URL: a postgres:// or postgresql:// URL, or "" for the
	// embedded SQLite database in DataDir.
	URL string
	// DataDir is where the SQLite file dakenh.db lives; it is created with
	// mode 0700 if missing. It is unused for PostgreSQL.
	DataDir string
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
	// WrapDriver, if set, wraps the ent driver before the client is built,
	// e.g. to count or log statements in tests. Migrations bypass it.
	WrapDriver func(dialect.Driver) dialect.Driver
}

// DB is an open database: the ent client for application code and the
// underlying pool for health checks and the rare hand-written query.
type DB struct {
	// Client is the ent client; it shares SQL's pool.
	Client *ent.Client
	// SQL is the connection pool under Client that writes: on SQLite its
	// single writer connection (see openSQLite).
	SQL *sql.DB
	// read is the SQLite reader pool, nil on PostgreSQL, where SQL serves
	// reads too.
	read *sql.DB
	// release gives up what Open holds besides the pools (the SQLite data
	// directory's lock); nil when there is nothing.
	release func() error
	// Dialect is dialect.SQLite or dialect.Postgres, for the few queries
	// that must differ between the two.
	Dialect string
	// URL is the PostgreSQL connection URL, for the connections that work
	// outside the pool (LISTEN/NOTIFY); empty for SQLite. It may hold a
	// password: never log it.
	URL string
}

// Open opens the database cfg names and brings its schema up to date. It
// is safe to call from several processes at once: SQLite serializes the
// schema change in a write transaction, and PostgreSQL migrations run under
// golang-migrate's advisory lock.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch scheme := urlScheme(cfg.URL); scheme {
	case "":
		return openSQLite(ctx, cfg, log)
	case "postgres", "postgresql":
		db, err := openPostgres(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		db.URL = cfg.URL
		return db, nil
	case "?":
		return nil, errors.New("database: DATABASE_URL is not a URL: use postgres://… or leave it empty for the embedded SQLite database")
	default:
		// Never echo the URL: it may carry a password.
		return nil, fmt.Errorf("database: unsupported DATABASE_URL scheme %q: use postgres://… or leave it empty for the embedded SQLite database", scheme)
	}
}

// newDB builds the ent client over drv, the driver of an opened, migrated
// database whose writing pool is pool.
func newDB(drv dialect.Driver, pool *sql.DB, wrap func(dialect.Driver) dialect.Driver) *DB {
	name := drv.Dialect()
	if wrap != nil {
		drv = wrap(drv)
	}
	return &DB{
		Client:  ent.NewClient(ent.Driver(drv)),
		SQL:     pool,
		Dialect: name,
	}
}

// Close closes the client and its pools, then releases the data
// directory's lock, so a process that opens it next finds it free.
func (db *DB) Close() error {
	// Closing the ent driver closes the pools it wraps.
	err := db.Client.Close()
	if db.release != nil {
		err = errors.Join(err, db.release())
		db.release = nil
	}
	return err
}

// Ping reports whether the database answers, for /readyz. It runs a real
// query rather than only checking out a connection, so a database that
// accepts connections but cannot serve them is reported too.
func (db *DB) Ping(ctx context.Context) error {
	pool := db.SQL
	if db.read != nil {
		// Readiness is whether the database answers, not whether the
		// writer is free: a long write must not fail the probe.
		pool = db.read
	}
	var one int
	if err := pool.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("database: ping: %w", err)
	}
	return nil
}

// urlScheme returns the lower-cased scheme of a database URL, "" for an
// empty URL and "?" for one that is not a URL at all.
func urlScheme(raw string) string {
	if strings.TrimSpace(raw) == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "?"
	}
	return strings.ToLower(u.Scheme)
}

// closeOnErr closes pool when *err is set, so a failed Open leaks nothing.
func closeOnErr(pool *sql.DB, err *error) {
	if *err != nil {
		*err = errors.Join(*err, pool.Close())
	}
}
