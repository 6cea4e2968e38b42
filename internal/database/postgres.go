package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	// lib/pq is the driver golang-migrate's postgres driver is built on;
	// sharing it keeps one set of connection semantics.
	"github.com/lib/pq"

	"github.com/dakenh/dakenh/ent/migrate/migrations"
)

// Pool limits for PostgreSQL. A replica rarely needs more than a few dozen
// connections, and several replicas must fit under max_connections (100 by
// default). Recycling connections lets the pool follow failovers and DNS
// changes and return memory the server holds per backend.
const (
	pgMaxOpenConns    = 20
	pgMaxIdleConns    = 10
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
)

// migrateLockTimeout bounds the wait for another replica's migration. The
// default (15 s) is shorter than a migration that rewrites a large table.
const migrateLockTimeout = 5 * time.Minute

// trgmLockID is the advisory-lock key that serializes CREATE EXTENSION
// across replicas: concurrent "IF NOT EXISTS" creations can still collide on
// pg_extension's unique index.
const trgmLockID = 0x64616b656e68 // "dakenh"

// openPostgres connects to cfg.URL and applies the embedded migrations.
func openPostgres(ctx context.Context, cfg Config, log *slog.Logger) (_ *DB, err error) {
	connector, err := pq.NewConnector(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	// Statements are prepared once per connection (prepare.go).
	pool := sql.OpenDB(preparingConnector{connector})
	defer closeOnErr(pool, &err)
	pool.SetMaxOpenConns(pgMaxOpenConns)
	pool.SetMaxIdleConns(pgMaxIdleConns)
	pool.SetConnMaxLifetime(pgConnMaxLifetime)
	pool.SetConnMaxIdleTime(pgConnMaxIdleTime)
	if err := pool.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("database: connecting to PostgreSQL: %w", err)
	}
	if err := ensureTrgm(ctx, pool); err != nil {
		return nil, err
	}
	if err := migratePostgres(ctx, pool, log); err != nil {
		return nil, err
	}
	return newDB(entsql.OpenDB(dialect.Postgres, pool), pool, cfg.WrapDriver), nil
}

// ensureTrgm installs pg_trgm, whose gin_trgm_ops the customer search index
// uses. It is not part of the migration files because creating an extension
// needs more privileges than creating tables; a DBA can install it once and
// then this only checks.
func ensureTrgm(ctx context.Context, pool *sql.DB) (err error) {
	var exists bool
	if err := pool.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')`).Scan(&exists); err != nil {
		return fmt.Errorf("database: checking pg_trgm: %w", err)
	}
	if exists {
		return nil
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer conn.Close()
	// A transaction-level lock is released by COMMIT/ROLLBACK even if this
	// process dies, so no unlock can be forgotten.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, trgmLockID); err != nil {
		return fmt.Errorf("database: locking for CREATE EXTENSION: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
		return fmt.Errorf("database: CREATE EXTENSION pg_trgm (install it as a superuser if this role may not): %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: CREATE EXTENSION pg_trgm: %w", err)
	}
	return nil
}

// migratePostgres applies the embedded migrations that are not applied yet.
// golang-migrate holds a PostgreSQL advisory lock meanwhile, so replicas
// starting together migrate once and the others wait.
func migratePostgres(ctx context.Context, pool *sql.DB, log *slog.Logger) error {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("database: reading embedded migrations: %w", err)
	}
	latest, err := latestVersion(src)
	if err != nil {
		return fmt.Errorf("database: reading embedded migrations: %w", err)
	}
	// A dedicated connection, not the pool: the driver's Close closes what
	// it was given, and the pool must outlive the migration.
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	drv, err := postgres.WithConnection(ctx, conn, &postgres.Config{})
	if err != nil {
		conn.Close()
		return fmt.Errorf("database: preparing migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		drv.Close()
		return fmt.Errorf("database: preparing migrations: %w", err)
	}
	defer m.Close()
	m.LockTimeout = migrateLockTimeout
	m.Log = migrateLogger{log}

	// Read without the lock, so a dirty flag here may be another replica's
	// migration in progress; only Up, under the lock, judges dirtiness.
	from, dirty, err := m.Version()
	switch {
	case errors.Is(err, migrate.ErrNilVersion):
		from = 0
	case err != nil:
		return fmt.Errorf("database: reading the migration version: %w", err)
	case !dirty && from > latest:
		// A newer release has migrated already (a rolling deploy, or a
		// rollback of the binary). Migrations only add, so this one still
		// works against the newer schema; refusing to start would turn a
		// rollback into an outage.
		log.WarnContext(ctx, "database schema is newer than this binary", "version", from, "binary_version", latest)
		return nil
	}

	// Up blocks in a driver that ignores ctx; stop it gracefully on cancel.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case m.GracefulStop <- true:
			default:
			}
		case <-done:
		}
	}()
	err = m.Up()
	var dirtyErr migrate.ErrDirty
	switch {
	case errors.Is(err, migrate.ErrNoChange):
		log.DebugContext(ctx, "database schema up to date", "dialect", "postgres", "version", from)
		return nil
	case errors.As(err, &dirtyErr):
		return dirtyError(uint(dirtyErr.Version))
	case err != nil:
		// golang-migrate has marked the failed version dirty; each file runs
		// as one implicit transaction, so its statements were rolled back.
		return fmt.Errorf("database: applying migrations (the failed version is now marked dirty): %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("database: applying migrations: %w", err)
	}
	to, _, _ := m.Version()
	log.InfoContext(ctx, "database migrated", "dialect", "postgres", "from", from, "to", to)
	return nil
}

// dirtyError explains a failed migration: golang-migrate marks the version
// dirty and refuses to go on until a human has looked.
func dirtyError(version uint) error {
	return fmt.Errorf("database: migration %d failed part-way earlier and the schema is marked dirty; "+
		"repair the schema by hand, then record the last fully applied version in schema_migrations "+
		"(e.g. `migrate -database $DATABASE_URL force <version>`) and restart", version)
}

// latestVersion returns the highest migration version in src.
func latestVersion(src source.Driver) (uint, error) {
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, err
		}
		v = next
	}
}

// migrateLogger forwards golang-migrate's progress lines to slog.
type migrateLogger struct{ log *slog.Logger }

// Printf logs one line of golang-migrate output.
func (l migrateLogger) Printf(format string, v ...any) {
	l.log.Info("migrate: " + trimNewline(fmt.Sprintf(format, v...)))
}

// Verbose asks golang-migrate for per-migration lines; there are few.
func (l migrateLogger) Verbose() bool { return true }

// trimNewline drops the newline golang-migrate ends its lines with.
func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
