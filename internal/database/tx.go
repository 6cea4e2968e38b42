package database

import (
	"context"
	"reflect"

	"github.com/dakenh/dakenh/ent"
)

// InTx runs f in a new transaction of client, with ctx's viewer, and
// commits when f returns no error; otherwise, or on a panic, nothing of it
// stays. A change and its activity entry (internal/activity) are made this
// way, so they commit together or not at all.
//
// An ent entity f returns (one it read or wrote in tx) is detached from the finished transaction
// (Unwrap), so resolvers can still load its edges.
func InTx[T any](ctx context.Context, client *ent.Client, f func(tx *ent.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := client.Tx(ctx)
	if err != nil {
		return zero, err
	}
	defer func() { _ = tx.Rollback() }()
	out, err := f(tx)
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, err
	}
	if u, ok := any(out).(interface{ Unwrap() T }); ok {
		if v := reflect.ValueOf(out); v.Kind() != reflect.Pointer || !v.IsNil() {
			out = u.Unwrap()
		}
	}
	return out, nil
}
