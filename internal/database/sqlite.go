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
	"github.com/gofrs/flock"
	// modernc's driver is pure Go, so the binary stays CGO-free and
	// cross-compiles; it registers itself as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/dakenh/dakenh/ent/migrate"
)

// SQLiteFile is the name of the database file inside Config.DataDir.
const SQLiteFile = "dakenh.db"

// LockFile is the file in Config.DataDir that the process using the
// embedded database holds locked for as long as the database is open.
const LockFile = "dakenh.lock"

// ErrDataDirInUse is returned by Open when another process (or another Open
// in this one) already uses the embedded database of the data directory.
var ErrDataDirInUse = errors.New("database: the data directory is in use by another dakenh process")

// sqliteParams are applied by the driver to every new connection.
//
//   - foreign_keys: SQLite ignores FOREIGN KEY clauses unless asked, per
//     connection; ent's migration also refuses to run without it.
//   - journal_mode WAL: readers no longer block the writer or each other.
//   - busy_timeout: a backstop only. Writes never meet each other in
//     SQLite, because the process has one writer connection and queues for
//     it (see openSQLite); readers under WAL are not blocked by the writer.
//   - synchronous NORMAL: durable enough under WAL (a power cut may lose the
//     last commits, never corrupt) and much faster than FULL.
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
	"_time_format": {"sqlite"},
	"_timezone":    {"UTC"},
}

// The two pools' own parameters.
//
//   - The writer's transactions take the write lock at BEGIN
//     (_txlock=immediate): with the default (deferred) a transaction that
//     reads and then writes could fail on the lock upgrade.
//   - Readers refuse to write (query_only), so a statement routed to them
//     by mistake fails loudly instead of competing with the writer.
var (
	writerParams = url.Values{"_txlock": {"immediate"}}
	readerParams = url.Values{"_pragma": {"query_only(1)"}}
)

// openSQLite locks DataDir, opens <DataDir>/dakenh.db and auto-migrates it.
//
// SQLite has one writer at a time. Rather than let concurrent writers find
// each other in SQLite's busy handler, which polls with sleeps, gives no
// order and fails after its timeout, the process keeps exactly one writer
// connection: every write and every read-write transaction queues for it in
// database/sql, for as long as its context allows. Plain SELECTs and
// read-only transactions run on a pool of reader connections beside it,
// which WAL lets proceed during a write.
//
// The embedded database serves one process: the lock on the data directory
// makes a second process (or a second Open in this one) fail with
// ErrDataDirInUse instead of sharing the file, which is what replicas on
// PostgreSQL are for.
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
	lock, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, lock.Unlock())
		}
	}()

	path := filepath.Join(dir, SQLiteFile)
	writer, err := openSQLitePool(ctx, path, writerParams, 1)
	if err != nil {
		return nil, err
	}
	defer closeOnErr(writer, &err)
	// ent's auto-migration only adds tables, columns and indexes (no
	// WithDropColumn/WithDropIndex), so an older binary's data survives.
	// It runs on the writer before any reader exists, through the unwrapped
	// driver: WrapDriver is for application statements only.
	if err := migrate.NewSchema(entsql.OpenDB(dialect.SQLite, writer)).Create(ctx); err != nil {
		return nil, fmt.Errorf("database: migrating %s: %w", path, err)
	}
	reader, err := openSQLitePool(ctx, path, readerParams, max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "database ready", "dialect", "sqlite", "path", path)
	drv := &splitDriver{
		writer: entsql.OpenDB(dialect.SQLite, writer),
		reader: entsql.OpenDB(dialect.SQLite, reader),
	}
	db := newDB(drv, writer, cfg.WrapDriver)
	db.read = reader
	db.release = lock.Unlock
	return db, nil
}

// lockDataDir takes the data directory's lock without waiting: a process
// that finds it held is a second server on the same files.
func lockDataDir(dir string) (*flock.Flock, error) {
	lock := flock.New(filepath.Join(dir, LockFile), flock.SetPermissions(0o600))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("database: locking the data directory %s: %w", dir, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w (%s): the embedded SQLite database serves a single server process; "+
			"stop the other one, give this one its own DAKENH_DATA_DIR, or run replicas on PostgreSQL (DATABASE_URL)", ErrDataDirInUse, dir)
	}
	return lock, nil
}

// openSQLitePool opens a pool of at most n connections to the file at path
// with the shared parameters and extra, and checks that it answers.
func openSQLitePool(ctx context.Context, path string, extra url.Values, n int) (*sql.DB, error) {
	pool, err := sql.Open("sqlite", sqliteDSN(path, extra))
	if err != nil {
		return nil, fmt.Errorf("database: opening %s: %w", path, err)
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	if err := pool.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("database: opening %s: %w", path, err), pool.Close())
	}
	return pool, nil
}

// sqliteDSN returns modernc's DSN for the file at path with the shared
// parameters and extra. The file: URI form lets a path contain '?', '#' or
// '%' (escaped here, decoded by SQLite).
func sqliteDSN(path string, extra url.Values) string {
	q := url.Values{}
	for _, vs := range []url.Values{sqliteParams, extra} {
		for k, v := range vs {
			q[k] = append(q[k], v...)
		}
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}
