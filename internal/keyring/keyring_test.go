package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	_ "github.com/dakenh/dakenh/ent/runtime"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

var (
	oldSecret = []byte("the-old-server-secret-the-old-server")
	newSecret = []byte("the-new-server-secret-the-new-server")
)

func box(t *testing.T, current []byte, previous ...[]byte) *secret.Box {
	t.Helper()
	b, err := secret.New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tokens is the channel access token column, sealed with its own context.
var tokens = keyring.Column{
	Table: channel.Table, Column: channel.FieldAccessToken,
	Context: func(id string) string { return "test:" + id },
}

// seal stores n channels whose access tokens b seals, and returns their ids.
func seal(t *testing.T, db *database.DB, b *secret.Box, n int) []gid.ID {
	t.Helper()
	ctx := viewer.SystemContext(context.Background(), "")
	org := db.Client.Organization.Create().SetName("Khoá").SaveX(ctx)
	ctx = viewer.SystemContext(context.Background(), org.ID)
	var ids []gid.ID
	for i := range n {
		id := gid.New("Channel")
		db.Client.Channel.Create().SetID(id).SetKind(channel.KindZALO_OA).SetExternalID(fmt.Sprint("oa-", id)).
			SetName("OA").SetLastConnectedAt(time.Now()).
			SetAccessToken(b.Seal(fmt.Sprint("token-", i), tokens.Context(string(id)))).
			SaveX(ctx)
		ids = append(ids, id)
	}
	return ids
}

// opened returns the access tokens as b opens them.
func opened(t *testing.T, db *database.DB, b *secret.Box, ids []gid.ID) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		ch := db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), id)
		v, err := b.Open(ch.AccessToken, tokens.Context(string(id)))
		if err != nil {
			t.Fatalf("channel %s does not open: %v", id, err)
		}
		out = append(out, v)
	}
	return out
}

func TestCheck(t *testing.T) {
	cols := []keyring.Column{tokens}
	t.Run("OKSameKeyAgain", func(t *testing.T) {
		db := dbtest.Open(t)
		for range 2 {
			if err := keyring.Check(t.Context(), db, box(t, oldSecret), cols); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("ErrAnotherKey", func(t *testing.T) {
		db := dbtest.Open(t)
		if err := keyring.Check(t.Context(), db, box(t, oldSecret), cols); err != nil {
			t.Fatal(err)
		}
		if err := keyring.Check(t.Context(), db, box(t, newSecret), cols); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("Check with another key = %v, want ErrWrongKey", err)
		}
	})
	t.Run("ErrAnotherKeyThanTheDataWithoutACheck", func(t *testing.T) {
		// A database sealed before it had a key check.
		db := dbtest.Open(t)
		seal(t, db, box(t, oldSecret), 1)
		if err := keyring.Check(t.Context(), db, box(t, newSecret), cols); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("Check with another key than the data's = %v, want ErrWrongKey", err)
		}
		if err := keyring.Check(t.Context(), db, box(t, oldSecret), cols); err != nil {
			t.Fatalf("the data's own key is refused: %v", err)
		}
	})
	t.Run("RotationMovesTheCheck", func(t *testing.T) {
		db := dbtest.Open(t)
		if err := keyring.Check(t.Context(), db, box(t, oldSecret), cols); err != nil {
			t.Fatal(err)
		}
		if err := keyring.Check(t.Context(), db, box(t, newSecret, oldSecret), cols); err != nil {
			t.Fatalf("the new key with the old as previous is refused: %v", err)
		}
		if err := keyring.Check(t.Context(), db, box(t, newSecret), cols); err != nil {
			t.Fatalf("after the rotation the new key alone is refused: %v", err)
		}
		if err := keyring.Check(t.Context(), db, box(t, oldSecret), cols); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("after the rotation the old key = %v, want ErrWrongKey", err)
		}
	})
	t.Run("ConcurrentFirstStarts", func(t *testing.T) {
		db := dbtest.Open(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = keyring.Check(context.Background(), db, box(t, oldSecret), cols) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("a concurrent first start failed: %v", err)
			}
		}
	})
}

func TestReseal(t *testing.T) {
	db := dbtest.Open(t)
	ids := seal(t, db, box(t, oldSecret), 25)
	rotating := box(t, newSecret, oldSecret)
	want := opened(t, db, rotating, ids)

	// Two replicas re-seal at once, in batches smaller than the table.
	var wg sync.WaitGroup
	results := make([]keyring.Result, 2)
	for i := range results {
		wg.Go(func() {
			res, err := keyring.Reseal(context.Background(), db, rotating, []keyring.Column{tokens}, 7)
			if err != nil {
				t.Errorf("Reseal: %v", err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	if moved := results[0].Moved + results[1].Moved; moved != len(ids) {
		t.Fatalf("moved %d values between the two passes, want each of the %d once", moved, len(ids))
	}
	got := opened(t, db, box(t, newSecret), ids)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d is %q after the re-seal, want %q", i, got[i], want[i])
		}
	}
	if res, err := keyring.Reseal(t.Context(), db, rotating, []keyring.Column{tokens}, 7); err != nil || res.Moved != 0 {
		t.Fatalf("a second pass = %+v, %v; want nothing to move", res, err)
	}

	t.Run("UnopenableLeftAlone", func(t *testing.T) {
		stranger := seal(t, db, box(t, []byte("a-stranger-server-secret-a-stranger")), 1)
		res, err := keyring.Reseal(t.Context(), db, rotating, []keyring.Column{tokens}, 7)
		if err != nil || res.Unopenable != 1 || res.Moved != 0 {
			t.Fatalf("Reseal = %+v, %v; want one unopenable value", res, err)
		}
		opened(t, db, box(t, []byte("a-stranger-server-secret-a-stranger")), stranger)
	})
}
