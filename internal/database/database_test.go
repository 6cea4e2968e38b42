package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/privacy"
	"github.com/lib/pq"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// system is the context the tests use: trusted, cross-tenant work, with
// privacy rules bypassed because these tests are about storage, not policy.
func system() context.Context { return inOrg("") }

// inOrg is system within one organization, so the tenant hook stamps new
// rows with orgID.
func inOrg(orgID gid.ID) context.Context {
	return privacy.DecisionContext(viewer.SystemContext(context.Background(), orgID), privacy.Allow)
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	ctx := system()
	dir := filepath.Join(t.TempDir(), "nested", "data")

	db, err := database.Open(ctx, database.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if db.Dialect != dialect.SQLite {
		t.Errorf("Dialect = %q, want %q", db.Dialect, dialect.SQLite)
	}
	org := db.Client.Organization.Create().SetName("Phở Hà Nội").SaveX(ctx)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, database.SQLiteFile)); err != nil {
		t.Errorf("database file: %v", err)
	}

	// The second Open re-runs the auto-migration on an existing schema.
	db, err = database.Open(ctx, database.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Client.Organization.Get(ctx, org.ID)
	if err != nil {
		t.Fatalf("organization after reopening: %v", err)
	}
	if got.Name != org.Name {
		t.Errorf("name = %q, want %q", got.Name, org.Name)
	}
	// Times survive the round trip (stored as UTC text on SQLite).
	if !got.CreatedAt.Equal(org.CreatedAt) {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, org.CreatedAt)
	}
}

func TestSQLitePragmas(t *testing.T) {
	db, err := database.Open(context.Background(), database.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	shared := map[string]string{
		"foreign_keys": "1",
		"journal_mode": "wal",
		"busy_timeout": "10000",
		"synchronous":  "1", // NORMAL
	}
	for _, tc := range []struct {
		name      string
		pool      *sql.DB
		conns     int
		queryOnly string
	}{
		// The writer pool has exactly one connection; the readers refuse
		// to write.
		{"Writer", db.SQL, 1, "0"},
		{"Readers", database.ReaderPool(db), 3, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pool.Stats().MaxOpenConnections; tc.name == "Writer" && got != 1 {
				t.Errorf("writer pool allows %d connections, want 1", got)
			}
			want := maps.Clone(shared)
			want["query_only"] = tc.queryOnly
			// Pragmas are per connection; hold several at once so the
			// pool must open new ones, and check each.
			var conns []*sql.Conn
			for range tc.conns {
				c, err := tc.pool.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			for i, c := range conns {
				for p, w := range want {
					var got string
					if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
						t.Fatalf("conn %d: PRAGMA %s: %v", i, p, err)
					}
					if got != w {
						t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, p, got, w)
					}
				}
			}
		})
	}
}

// TestSQLiteReadsBesideAWrite: while a write transaction holds the writer,
// plain reads and read-only transactions go on, on the readers, and see
// the last committed state; a second write waits in the process for the
// writer instead of failing with SQLITE_BUSY.
func TestSQLiteReadsBesideAWrite(t *testing.T) {
	ctx := system()
	db, err := database.Open(ctx, database.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org := db.Client.Organization.Create().SetName("before").SaveX(ctx)

	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Organization.UpdateOne(org).SetName("during").ExecX(ctx)

	if got := db.Client.Organization.GetX(ctx, org.ID).Name; got != "before" {
		t.Errorf("a read beside the open write sees %q, want the committed %q", got, "before")
	}
	ro, err := db.Client.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := ro.Organization.GetX(ctx, org.ID).Name; got != "before" {
		t.Errorf("a read-only transaction sees %q", got)
	}
	if err := ro.Organization.UpdateOne(org).SetName("x").Exec(ctx); err == nil {
		t.Error("a read-only transaction wrote")
	}
	ro.Rollback()

	second := make(chan error, 1)
	go func() {
		second <- db.Client.Organization.UpdateOne(org).SetName("after").Exec(ctx)
	}()
	// The second write queues for the writer connection in database/sql
	// (its wait count goes up); it cannot finish while the first holds it.
	for db.SQL.Stats().WaitCount == 0 {
		select {
		case err := <-second:
			t.Fatalf("a second write did not wait for the first: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("the queued write: %v", err)
	}
	if got := db.Client.Organization.GetX(ctx, org.ID).Name; got != "after" {
		t.Errorf("name = %q, want after", got)
	}
}

// TestSQLiteDataDirIsLocked: the embedded database serves one process; a
// second Open of the same data directory is refused, saying why, until the
// first closes.
func TestSQLiteDataDirIsLocked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first, err := database.Open(ctx, database.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	second, err := database.Open(ctx, database.Config{DataDir: dir})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of the data directory succeeded")
	}
	if !errors.Is(err, database.ErrDataDirInUse) || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("err = %v, want ErrDataDirInUse pointing at PostgreSQL for replicas", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := database.Open(ctx, database.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	again.Close()
}

// TestSQLiteConcurrentWriteTransactions proves _txlock=immediate: with
// deferred transactions, two that read and then write fail with
// SQLITE_BUSY on the lock upgrade.
func TestSQLiteConcurrentWriteTransactions(t *testing.T) {
	ctx := system()
	db, err := database.Open(ctx, database.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org := db.Client.Organization.Create().SetName("org").SaveX(ctx)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			for j := range 5 {
				err := withTx(ctx, db.Client, func(tx *ent.Tx) error {
					o, err := tx.Organization.Get(ctx, org.ID)
					if err != nil {
						return err
					}
					return tx.Organization.UpdateOne(o).SetName(fmt.Sprintf("org %d.%d", i, j)).Exec(ctx)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// withTx runs fn in a transaction.
func withTx(ctx context.Context, c *ent.Client, fn func(*ent.Tx) error) error {
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// TestForeignKeysEnforced runs on the dialect DAKENH_TEST_DB selects.
func TestForeignKeysEnforced(t *testing.T) {
	db := dbtest.Open(t)
	ctx := inOrg(gid.New("Organization"))
	_, err := db.Client.Tag.Create().SetName("vip").Save(ctx)
	if err == nil {
		t.Fatal("created a tag in an organization that does not exist")
	}
	if !ent.IsConstraintError(err) {
		t.Fatalf("err = %v, want a constraint error", err)
	}
}

func TestPing(t *testing.T) {
	db, err := database.Open(context.Background(), database.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	db.Close()
	if err := db.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded on a closed database")
	}
}

func TestPingDialect(t *testing.T) {
	db := dbtest.Open(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  database.Config
		want string
	}{
		{"ErrUnsupportedScheme", database.Config{URL: "mysql://app:s3cret@db:3306/crm"}, `unsupported DATABASE_URL scheme "mysql"`},
		{"ErrSQLiteURL", database.Config{URL: "sqlite:///var/lib/dakenh.db"}, `unsupported DATABASE_URL scheme "sqlite"`},
		{"ErrNotAURL", database.Config{URL: "host=db user=app password=s3cret"}, "not a URL"},
		{"ErrNoDataDir", database.Config{}, "DataDir is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := database.Open(context.Background(), tc.cfg)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err leaks the password: %v", err)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Config{URL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if !strings.Contains(err.Error(), "connecting to PostgreSQL") {
		t.Errorf("err = %v", err)
	}
}

// requirePostgres skips PostgreSQL-only tests in the SQLite run; CI runs
// the suite again with DAKENH_TEST_DB=postgres.
func requirePostgres(t *testing.T) {
	t.Helper()
	if dbtest.Dialect() != dialect.Postgres {
		t.Skipf("PostgreSQL only: set %s=postgres", dbtest.EnvDB)
	}
}

// freshPostgres creates an empty database (not from the migrated template)
// and returns its URL; it is dropped when the test ends.
func freshPostgres(t *testing.T) (url string, admin *sql.DB) {
	t.Helper()
	server := os.Getenv(dbtest.EnvPostgresURL)
	if server == "" {
		server = dbtest.DefaultPostgresURL
	}
	admin, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	// dbtest's naming scheme, so its sweeper drops what a killed run leaves.
	name := fmt.Sprintf("dakenh_test_%d_fresh%d", time.Now().Unix(), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	u, err := urlWithDatabase(server, name)
	if err != nil {
		t.Fatal(err)
	}
	return u, admin
}

func TestPostgresMigrationsFreshAndIdempotent(t *testing.T) {
	requirePostgres(t)
	u, _ := freshPostgres(t)
	ctx := system()

	// Replicas starting together: golang-migrate's advisory lock lets one
	// migrate while the others wait and then find nothing to do.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			db, err := database.Open(ctx, database.Config{URL: u})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
	}

	db, err := database.Open(ctx, database.Config{URL: u})
	if err != nil {
		t.Fatalf("Open on a migrated database: %v", err)
	}
	defer db.Close()
	if db.Dialect != dialect.Postgres {
		t.Errorf("Dialect = %q, want %q", db.Dialect, dialect.Postgres)
	}

	var (
		version int64
		dirty   bool
		n       int
	)
	if err := db.SQL.QueryRow("SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		t.Fatal(err)
	}
	if dirty || version == 0 {
		t.Errorf("schema_migrations = (%d, %v), want a clean version", version, dirty)
	}
	if err := db.SQL.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_migrations rows = %d (%v), want 1", n, err)
	}
	if err := db.SQL.QueryRow("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").Scan(&n); err != nil || n != 1 {
		t.Errorf("pg_trgm installed = %d (%v), want 1", n, err)
	}
	var method string
	if err := db.SQL.QueryRow(`SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'customer_search_text'`).Scan(&method); err != nil || method != "gin" {
		t.Errorf("customer_search_text index method = %q (%v), want gin", method, err)
	}

	// The schema the migrations built is the one ent expects.
	org := db.Client.Organization.Create().SetName("org").SaveX(ctx)
	if n := db.Client.Organization.Query().Where(organization.ID(org.ID)).CountX(ctx); n != 1 {
		t.Errorf("organizations = %d, want 1", n)
	}
}

func TestPostgresDirtyIsAnError(t *testing.T) {
	requirePostgres(t)
	u, _ := freshPostgres(t)
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec("UPDATE schema_migrations SET dirty = true"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = database.Open(ctx, database.Config{URL: u})
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a dirty database")
	}
	if !strings.Contains(err.Error(), "dirty") || !strings.Contains(err.Error(), "force") {
		t.Errorf("err = %v, want it to explain the dirty state and the fix", err)
	}
}

func TestPostgresSchemaNewerThanBinary(t *testing.T) {
	requirePostgres(t)
	u, _ := freshPostgres(t)
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	// A later release applied a migration this binary does not know.
	if _, err := db.SQL.Exec("UPDATE schema_migrations SET version = 99990101000000"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = database.Open(ctx, database.Config{URL: u})
	if err != nil {
		t.Fatalf("Open after a newer release migrated: %v", err)
	}
	db.Close()
}

// urlWithDatabase returns the server URL raw pointing at database name.
func urlWithDatabase(raw, name string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
