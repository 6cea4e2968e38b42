package database

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
)

// LockRows returns a query modifier that locks the rows the query reads, on
// PostgreSQL: FOR UPDATE, with opts such as SKIP LOCKED. SQLite has no row
// locks and rejects the clause; its transactions take the write lock at
// BEGIN (sqliteParams), which already excludes every other writer.
func LockRows(opts ...sql.LockOption) func(*sql.Selector) {
	return func(s *sql.Selector) {
		if s.Dialect() == dialect.Postgres {
			s.ForUpdate(opts...)
		}
	}
}

// ErrSavepoint marks a failure of the savepoint statements themselves,
// which leaves the transaction unusable.
var ErrSavepoint = errors.New("database: savepoint failed")

// Savepoint runs f inside a savepoint of tx and rolls back to it when f
// fails, so the transaction stays usable: on PostgreSQL a failed statement
// (a unique violation between two processors, say) otherwise aborts the
// whole transaction. A panic in f is turned into its error.
func Savepoint(ctx context.Context, tx *ent.Tx, name string, f func() error) (err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("%w: %w", ErrSavepoint, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("database: panic: %v\n%s", r, debug.Stack())
		}
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
				err = fmt.Errorf("%w: %w (after %w)", ErrSavepoint, rerr, err)
			}
			return
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			err = fmt.Errorf("%w: %w", ErrSavepoint, rerr)
		}
	}()
	return f()
}
