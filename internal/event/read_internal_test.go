package event

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/gid"
)

// TestFlights pins when a read may be shared: any in-flight read for the
// same page serves a caller whose ticket predates it, and never one whose
// ticket was taken after it began, since that caller needs a read that sees
// what committed before its ticket.
func TestFlights(t *testing.T) {
	release := make(chan struct{})
	started := make(chan flightKey, 8)
	var queries atomic.Int64
	f := newFlights(func(_ context.Context, key flightKey) ([]*ent.Event, error) {
		n := queries.Add(1)
		started <- key
		<-release
		return []*ent.Event{{Seq: key.after + n}}, nil
	})
	ctx := context.Background()
	key := flightKey{org: gid.New("Organization"), after: 7}
	other := flightKey{org: key.org, after: 8}

	first := f.join(ctx, key, 0)
	<-started
	if got := f.join(ctx, key, 0); got != first {
		t.Error("a loose read did not share the read in flight")
	}
	otherPage := f.join(ctx, other, 0)
	if otherPage == first {
		t.Error("a read of another page shared the flight")
	}
	<-started
	ticket := ticket()
	second := f.join(ctx, key, ticket)
	if second == first {
		t.Fatal("a read asked for after its ticket joined an earlier one")
	}
	if got := f.join(ctx, key, 0); got != second {
		t.Error("a loose read did not join the latest flight")
	}
	if got := f.join(ctx, key, ticket); got != second {
		t.Error("a read whose ticket predates the second flight did not share it")
	}
	close(release)
	<-started
	for _, fl := range []*flight[[]*ent.Event]{first, second, otherPage} {
		<-fl.done
		if fl.err != nil || len(fl.val) != 1 {
			t.Errorf("flight %d: %v, %v", fl.n, fl.val, fl.err)
		}
	}
	if first.val[0] == second.val[0] || queries.Load() != 3 {
		t.Errorf("%d queries, want 3 (two of the first page, one of the other)", queries.Load())
	}
	f.mu.Lock()
	left := len(f.inFlight)
	f.mu.Unlock()
	if left != 0 {
		t.Errorf("%d finished flights are still registered", left)
	}
}
