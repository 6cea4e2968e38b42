package dbtest_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/privacy"

	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// inOrg is trusted work within one organization with privacy rules
// bypassed: these tests are about the databases, not policy.
func inOrg(orgID gid.ID) context.Context {
	return privacy.DecisionContext(viewer.SystemContext(context.Background(), orgID), privacy.Allow)
}

func TestDialect(t *testing.T) {
	for env, want := range map[string]string{
		"":         dialect.SQLite,
		"sqlite":   dialect.SQLite,
		"postgres": dialect.Postgres,
	} {
		t.Setenv(dbtest.EnvDB, env)
		if got := dbtest.Dialect(); got != want {
			t.Errorf("%s=%q: Dialect() = %q, want %q", dbtest.EnvDB, env, got, want)
		}
	}
	t.Setenv(dbtest.EnvDB, "mysql")
	defer func() {
		if recover() == nil {
			t.Error("Dialect() accepted an unknown engine")
		}
	}()
	dbtest.Dialect()
}

func TestOpenGivesFreshEmptyDatabases(t *testing.T) {
	a, b := dbtest.Open(t), dbtest.Open(t)
	if a.Dialect != dbtest.Dialect() {
		t.Errorf("Dialect = %q, want %q", a.Dialect, dbtest.Dialect())
	}
	ctx := inOrg("")
	if n := a.Client.Organization.Query().CountX(ctx); n != 0 {
		t.Fatalf("fresh database has %d organizations", n)
	}
	org := a.Client.Organization.Create().SetName("a").SaveX(ctx)
	a.Client.Tag.Create().SetName("vip").SaveX(inOrg(org.ID))

	if n := a.Client.Organization.Query().CountX(ctx); n != 1 {
		t.Errorf("a: %d organizations, want 1", n)
	}
	if n := b.Client.Organization.Query().CountX(ctx); n != 0 {
		t.Errorf("b sees a's rows: %d organizations, want 0", n)
	}
}

func TestOpenCounting(t *testing.T) {
	db, c := dbtest.OpenCounting(t)
	ctx := inOrg("")
	if n := c.Count(); n != 0 {
		t.Errorf("Count after OpenCounting = %d, want 0 (migrations are not counted)", n)
	}
	org := db.Client.Organization.Create().SetName("org").SaveX(ctx)
	octx := inOrg(org.ID)
	for _, name := range []string{"a", "b", "c"} {
		db.Client.Tag.Create().SetName(name).SaveX(octx)
	}
	if n := c.Count(); n != 4 {
		t.Errorf("Count after 4 inserts = %d, want 4", n)
	}

	c.Reset()
	if n := c.Count(); n != 0 {
		t.Fatalf("Count after Reset = %d", n)
	}
	tags := db.Client.Tag.Query().AllX(octx)
	if len(tags) != 3 || c.Count() != 1 {
		t.Errorf("listing %d tags took %d statements, want 3 tags in 1", len(tags), c.Count())
	}

	// Eager loading is one query per edge, however many rows.
	c.Reset()
	db.Client.Tag.Query().WithOrganization().AllX(octx)
	if n := c.Count(); n != 2 {
		t.Errorf("tags with organization took %d statements, want 2", n)
	}

	// Statements inside transactions are counted; BEGIN/COMMIT are not.
	c.Reset()
	tx, err := db.Client.Tx(octx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Tag.Create().SetName("d").SaveX(octx)
	tx.Tag.Query().CountX(octx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := c.Count(); n != 2 {
		t.Errorf("transaction with 2 statements counted %d", n)
	}

	c.Reset()
	btx, err := db.Client.BeginTx(octx, &sql.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	btx.Tag.Query().CountX(octx)
	if err := btx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := c.Count(); n != 1 {
		t.Errorf("BeginTx transaction with 1 statement counted %d", n)
	}

	// Raw statements through the client are counted too.
	c.Reset()
	rows, err := db.Client.QueryContext(octx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := db.Client.ExecContext(octx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := c.Count(); n != 2 {
		t.Errorf("raw statements counted %d, want 2", n)
	}
}

// TestPostgresDatabasesAreDropped checks that per-test databases do not
// pile up on the server and that the template is reused.
func TestPostgresDatabasesAreDropped(t *testing.T) {
	if dbtest.Dialect() != dialect.Postgres {
		t.Skipf("PostgreSQL only: set %s=postgres", dbtest.EnvDB)
	}
	var name string
	t.Run("inner", func(t *testing.T) {
		db := dbtest.Open(t)
		if err := db.SQL.QueryRow("SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.SQL.QueryRow("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").Scan(&n); err != nil || n != 1 {
			t.Errorf("pg_trgm in the test database: %d (%v)", n, err)
		}
	})
	if name == "" {
		t.Fatal("no database name")
	}
	server := os.Getenv(dbtest.EnvPostgresURL)
	if server == "" {
		server = dbtest.DefaultPostgresURL
	}
	admin, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var exists, template bool
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("test database %s still exists after its test ended", name)
	}
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname LIKE 'dakenh\\_tmpl\\_%' AND datistemplate AND NOT datallowconn)").Scan(&template); err != nil {
		t.Fatal(err)
	}
	if !template {
		t.Error("no published template database")
	}
}

func TestPrivateServerStopsAndStarts(t *testing.T) {
	srv := dbtest.StartServer(t)
	db := srv.Open()
	ctx := t.Context()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("a fresh private server does not answer: %v", err)
	}
	srv.Stop()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("a stopped server still answers")
	}
	srv.Start()
	// database/sql drops the connections the stop broke and dials anew.
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("the restarted server does not answer: %v", err)
	}
	if n, err := db.Client.User.Query().Count(viewer.SystemContext(ctx, "")); err != nil || n != 0 {
		t.Fatalf("users on the migrated database = %d, %v; want 0", n, err)
	}
}
