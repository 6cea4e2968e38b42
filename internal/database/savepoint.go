package database

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/dakenh/dakenh/ent"
)

// ErrSavepoint marks a failure of the savepoint statements themselves,
// which leaves the transaction unusable: the caller must roll it back.
var ErrSavepoint = errors.New("database: savepoint failed")

// Savepoint runs f inside a savepoint of tx and rolls back to it when f
// fails or panics, so the transaction stays usable (to record the failure,
// or to go on with other work): on PostgreSQL a failed statement, such as a
// unique violation between two replicas, otherwise aborts the whole
// transaction. A panic in f becomes its error. name must be a plain SQL
// identifier.
func Savepoint(ctx context.Context, tx *ent.Tx, name string, f func() error) (err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("%w: %w", ErrSavepoint, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in savepoint %s: %v\n%s", name, r, debug.Stack())
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
