package database_test

import (
	"testing"

	"github.com/dakenh/dakenh/internal/dbtest"
)

// TestStatementsArePreparedOnce checks on PostgreSQL that a connection
// prepares a statement with arguments once and runs it again from there,
// and that a statement whose table changed shape still runs.
func TestStatementsArePreparedOnce(t *testing.T) {
	if dbtest.Dialect() != "postgres" {
		t.Skip("statements are prepared on PostgreSQL")
	}
	db := dbtest.Open(t)
	ctx := t.Context()
	pool := db.SQL
	pool.SetMaxOpenConns(1) // one connection, one session's statements
	if _, err := pool.ExecContext(ctx, `CREATE TABLE prep (id int PRIMARY KEY, a int); INSERT INTO prep VALUES (1, 10)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT * FROM prep WHERE id = $1`
	for range 3 {
		var id, a int
		if err := pool.QueryRowContext(ctx, q, 1).Scan(&id, &a); err != nil || a != 10 {
			t.Fatalf("got %d, %v", a, err)
		}
	}
	var prepared, runs int
	if err := pool.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements WHERE statement = '`+q+`'`).
		Scan(&prepared, &runs); err != nil {
		t.Fatal(err)
	}
	if prepared != 1 || runs != 3 {
		t.Fatalf("prepared %d times, run %d times; want once, 3 times", prepared, runs)
	}

	// Another replica's migration changes the table under the statement.
	if _, err := pool.ExecContext(ctx, `ALTER TABLE prep ADD COLUMN b int DEFAULT 7`); err != nil {
		t.Fatal(err)
	}
	var id, a, b int
	if err := pool.QueryRowContext(ctx, q, 1).Scan(&id, &a, &b); err != nil || b != 7 {
		t.Fatalf("after the table changed: %d, %v", b, err)
	}
}
