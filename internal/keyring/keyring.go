// Package keyring keeps the server secret one for every replica: a server
// whose DAKENH_SECRET does not open what its database was sealed with
// refuses to start, saying why, and values sealed under a previous secret
// (DAKENH_SECRET_PREVIOUS) are moved onto the current one in the
// background, so the secret can be rotated without losing a credential.
package keyring

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/keycheck"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The key check: a known text sealed under the secret when the database
// first met it.
const (
	checkName    = "DAKENH_SECRET"
	checkContext = "keycheck:" + checkName
	checkText    = "dakenh: the values of this database are sealed under this key"
)

// ErrWrongKey is returned by Check when the configured secret is not the
// one the database's values are sealed with.
var ErrWrongKey = errors.New("DAKENH_SECRET is not the secret this database's credentials are sealed with: " +
	"every replica must run with the same DAKENH_SECRET (to change it, set DAKENH_SECRET to the new secret " +
	"and DAKENH_SECRET_PREVIOUS to the old one)")

// Column is one column of sealed values.
type Column struct {
	// Table and Column name it; Table's primary key is its string "id".
	Table, Column string
	// Context returns the context a row's value is sealed with, from the
	// row's id (see secret.Box.Seal).
	Context func(id string) string
}

// Check makes sure box's current key (or, while rotating, a previous one)
// is the database's. On the database's first start it seals the key check
// under the current key, after making sure the values already sealed in
// columns (a database older than the key check) open with box; while
// rotating it moves the check onto the current key, after which servers
// with only the old secret refuse to start. Concurrent starts are safe: the
// first check written wins and the others verify against it.
func Check(ctx context.Context, db *database.DB, box *secret.Box, columns []Column) error {
	sys := viewer.SystemContext(ctx, "")
	kc, err := db.Client.KeyCheck.Query().Where(keycheck.Name(checkName)).Only(sys)
	if ent.IsNotFound(err) {
		if err := probe(ctx, db, box, columns); err != nil {
			return err
		}
		err = db.Client.KeyCheck.Create().
			SetName(checkName).
			SetSealed(box.Seal(checkText, checkContext)).
			OnConflictColumns(keycheck.FieldName).DoNothing().
			Exec(sys)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // another replica's check won
			return fmt.Errorf("keyring: storing the key check: %w", err)
		}
		kc, err = db.Client.KeyCheck.Query().Where(keycheck.Name(checkName)).Only(sys)
	}
	if err != nil {
		return fmt.Errorf("keyring: reading the key check: %w", err)
	}
	if plain, err := box.Open(kc.Sealed, checkContext); err != nil || plain != checkText {
		return ErrWrongKey
	}
	moved, changed, err := box.Reseal(kc.Sealed, checkContext)
	if err != nil || !changed {
		return err
	}
	// Compare-and-set: a concurrent start may have moved it already.
	_, err = db.Client.KeyCheck.Update().
		Where(keycheck.Name(checkName), keycheck.Sealed(kc.Sealed)).
		SetSealed(moved).
		Save(sys)
	if err != nil {
		return fmt.Errorf("keyring: moving the key check to the current key: %w", err)
	}
	return nil
}

// probe opens one stored value of each column, so a database that held
// sealed values before it had a key check still refuses a wrong secret.
func probe(ctx context.Context, db *database.DB, box *secret.Box, columns []Column) error {
	for _, c := range columns {
		q, args := entsql.Dialect(db.Dialect).
			Select("id", c.Column).From(entsql.Table(c.Table)).
			Where(entsql.NotNull(c.Column)).
			Limit(1).
			Query()
		var id string
		var v []byte
		err := db.SQL.QueryRowContext(ctx, q, args...).Scan(&id, &v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("keyring: reading %s.%s: %w", c.Table, c.Column, err)
		}
		if _, err := box.Open(v, c.Context(id)); err != nil {
			return ErrWrongKey
		}
	}
	return nil
}

// Result is what one Reseal pass did.
type Result struct {
	// Moved is how many values were sealed anew under the current key.
	Moved int
	// Unopenable is how many values no key of the box opens; they are
	// left as they are.
	Unopenable int
}

// Reseal moves every value of columns that is sealed under a previous key
// of box onto the current key, batch rows at a time. It is idempotent, and
// safe beside other replicas doing the same and beside writers: each value
// is replaced only if it is still the one that was read (a token refreshed
// meanwhile is sealed under the current key by its writer anyway), so no
// write is lost. It works on the table directly, below ent's hooks: a
// value's meaning does not change, so nobody is told.
func Reseal(ctx context.Context, db *database.DB, box *secret.Box, columns []Column, batch int) (Result, error) {
	var res Result
	if batch <= 0 {
		batch = 100
	}
	for _, c := range columns {
		last := ""
		for {
			rows, err := page(ctx, db, c, last, batch)
			if err != nil {
				return res, err
			}
			for _, r := range rows {
				last = r.id
				out, changed, err := box.Reseal(r.value, c.Context(r.id))
				if err != nil {
					res.Unopenable++
					continue
				}
				if !changed {
					continue
				}
				q, args := entsql.Dialect(db.Dialect).
					Update(c.Table).Set(c.Column, out).
					Where(entsql.And(entsql.EQ("id", r.id), entsql.EQ(c.Column, r.value))).
					Query()
				done, err := db.SQL.ExecContext(ctx, q, args...)
				if err != nil {
					return res, fmt.Errorf("keyring: resealing %s.%s of %s: %w", c.Table, c.Column, r.id, err)
				}
				if n, _ := done.RowsAffected(); n > 0 {
					res.Moved++
				}
			}
			if len(rows) < batch {
				break
			}
		}
	}
	return res, nil
}

type sealedRow struct {
	id    string
	value []byte
}

// page reads the next batch of c's values after the row id last.
func page(ctx context.Context, db *database.DB, c Column, last string, batch int) ([]sealedRow, error) {
	q, args := entsql.Dialect(db.Dialect).
		Select("id", c.Column).From(entsql.Table(c.Table)).
		Where(entsql.And(entsql.GT("id", last), entsql.NotNull(c.Column))).
		OrderBy("id").Limit(batch).
		Query()
	rows, err := db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("keyring: reading %s.%s: %w", c.Table, c.Column, err)
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		var r sealedRow
		if err := rows.Scan(&r.id, &r.value); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
