package database_test

import (
	"errors"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
)

func TestInTx(t *testing.T) {
	client := dbtest.Open(t).Client
	ctx := system()
	count := func() int { return client.Organization.Query().CountX(ctx) }

	t.Run("OK", func(t *testing.T) {
		o, err := database.InTx(ctx, client, func(tx *ent.Tx) (*ent.Organization, error) {
			return tx.Organization.Create().SetName("Hoa Lan").Save(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		// Detached from the finished transaction: it still works.
		if err := o.Update().SetName("Hoa Lan Shop").Exec(ctx); err != nil {
			t.Fatalf("using the returned entity: %v", err)
		}
		if count() != 1 {
			t.Fatalf("%d organizations", count())
		}
	})
	t.Run("ErrRollsBack", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := database.InTx(ctx, client, func(tx *ent.Tx) (*ent.Organization, error) {
			if _, err := tx.Organization.Create().SetName("Lost").Save(ctx); err != nil {
				return nil, err
			}
			return nil, boom
		})
		if !errors.Is(err, boom) || count() != 1 {
			t.Fatalf("err %v, %d organizations", err, count())
		}
	})
	t.Run("NilEntity", func(t *testing.T) {
		o, err := database.InTx(ctx, client, func(*ent.Tx) (*ent.Organization, error) { return nil, nil })
		if err != nil || o != nil {
			t.Fatalf("%v %v", o, err)
		}
	})
}
