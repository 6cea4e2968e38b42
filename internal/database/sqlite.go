package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	// modernc's driver is pure Go, so the binary stays CGO-free and
	// cross-compiles; it registers itself as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/dakenh/dakenh/ent/migrate"
)

// SQLiteFile is the name of the database file inside Config.DataDir.
const SQLiteFile = "dakenh.db"

// sqliteParams are applied by the driver to every new connection.
//
//   - foreign_keys: SQLite ignores FOREIGN KEY clauses unless asked, per
//     connection; ent's migration also refuses to run without it.
//   - journal_mode WAL: readers no longer block the writer or each other.
//   - busy_timeout: a writer waits up to 10 s for the lock instead of
//     failing at once with SQLITE_BUSY.
//   - synchronous NORMAL: durable enough under WAL (a power cut may lose the
//     last commits, never corrupt) and much faster than FULL.
//   - _txlock=immediate: transactions take the write lock at BEGIN. With the
//     default (deferred) two transactions that both read and then write
//     deadlock on the lock upgrade, and busy_timeout cannot help.
//   - _time_format/_timezone: times are stored as sortable UTC text, so
//     ORDER BY and range conditions on time columns compare correctly; the
//     driver's default format also carries Go's monotonic clock reading.
var sqliteParams = url.Values{
	"_pragma": {
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"busy_timeout(10000)",
		"synchronous(NORMAL)",
	},
	"_txlock":      {"immediate"},
	"_time_format": {"sqlite"},
	"_timezone":    {"UTC"},
}

// openSQLite opens <DataDir>/dakenh.db and auto-migrates it.
func openSQLite(ctx context.Context, cfg Config, log *slog.Logger) (_ *DB, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("database: DataDir is required for the embedded SQLite database")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("database: data dir: %w", err)
	}
	// 0700: the file holds password hashes and customer data.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("database: creating data dir: %w", err)
	}
	path := filepath.Join(dir, SQLiteFile)
	pool, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("database: opening %s: %w", path, err)
	}
	defer closeOnErr(pool, &err)
	// One writer at a time is SQLite's limit anyway; a few connections let
	// WAL readers proceed beside it without each request opening a file.
	n := max(4, runtime.GOMAXPROCS(0))
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)

	if err := pool.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("database: opening %s: %w", path, err)
	}
	// ent's auto-migration only adds tables, columns and indexes (no
	// WithDropColumn/WithDropIndex), so an older binary's data survives.
	// It runs through the unwrapped driver: WrapDriver is for application
	// statements only.
	drv := entsql.OpenDB(dialect.SQLite, pool)
	if err := migrate.NewSchema(drv).Create(ctx); err != nil {
		return nil, fmt.Errorf("database: migrating %s: %w", path, err)
	}
	log.InfoContext(ctx, "database ready", "dialect", "sqlite", "path", path)
	return newDB(pool, dialect.SQLite, cfg.WrapDriver), nil
}

// sqliteDSN returns modernc's DSN for the file at path. The file: URI form
// lets a path contain '?', '#' or '%' (escaped here, decoded by SQLite).
func sqliteDSN(path string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: sqliteParams.Encode()}
	return u.String()
}
