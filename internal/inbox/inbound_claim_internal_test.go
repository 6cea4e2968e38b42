package inbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// newClaimFixture opens a database with n due webhook events of one
// channel and returns its client.
func newClaimFixture(t *testing.T, n int) *ent.Client {
	t.Helper()
	client := dbtest.Open(t).Client
	ctx := viewer.SystemContext(context.Background(), "")
	org, err := client.Organization.Create().SetName("Claims").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx = viewer.SystemContext(ctx, org.ID)
	ch, err := client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-claims").
		SetName("OA").SetLastConnectedAt(time.Now()).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]*ent.WebhookEventCreate, n)
	for i := range rows {
		rows[i] = client.WebhookEvent.Create().SetProvider(webhookevent.ProviderZALO).
			SetDedupeKey(fmt.Sprint("oa-claims:user_send_text:", i)).SetEventName("user_send_text").
			SetOrganizationID(org.ID).SetChannelID(ch.ID).SetPayload([]byte(`{}`))
	}
	if err := client.WebhookEvent.CreateBulk(rows...).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return client
}

// TestConcurrentClaimsNeverOverlap runs processors that claim batches at
// the same time, as replicas on one database do, until nothing is left:
// every event is claimed exactly once. On PostgreSQL the claims really run
// concurrently (FOR UPDATE SKIP LOCKED); on SQLite they serialize.
func TestConcurrentClaimsNeverOverlap(t *testing.T) {
	const events, processors = 60, 4
	client := newClaimFixture(t, events)
	box, err := secret.New([]byte("test-secret-test-secret-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	svc := New(client, box)

	var mu sync.Mutex
	claimedBy := map[gid.ID]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, processors)
	for p := range processors {
		in := NewInbound(svc, InboundConfig{BatchSize: 4, Now: func() time.Time { return now }})
		wg.Go(func() {
			<-start
			for {
				ids, err := in.claim(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if len(ids) == 0 {
					return
				}
				mu.Lock()
				for _, id := range ids {
					if prev, dup := claimedBy[id]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("event %s claimed by processors %d and %d", id, prev, p)
						return
					}
					claimedBy[id] = p
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimedBy) != events {
		t.Fatalf("%d of %d events claimed", len(claimedBy), events)
	}
	// Claimed events are leased: until the lease ends nobody takes them
	// again, after it they are due again (a processor died holding them).
	later := NewInbound(svc, InboundConfig{Now: func() time.Time { return now.Add(claimLease - time.Second) }})
	if ids, err := later.claim(context.Background()); err != nil || len(ids) != 0 {
		t.Fatalf("claim during the lease = %d events, %v", len(ids), err)
	}
	expired := NewInbound(svc, InboundConfig{BatchSize: events, Now: func() time.Time { return now.Add(claimLease) }})
	if ids, err := expired.claim(context.Background()); err != nil || len(ids) != events {
		t.Fatalf("claim after the lease = %d events, %v", len(ids), err)
	}
}

func TestRetryDelayDoublesUpToTheCap(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, 5 * time.Second},
		{2, 10 * time.Second},
		{3, 20 * time.Second},
		{9, 1280 * time.Second},
		{10, 30 * time.Minute},
		{11, 30 * time.Minute},
		{1000, 30 * time.Minute},
	} {
		t.Run(fmt.Sprint(tc.failures), func(t *testing.T) {
			if got := retryDelay(tc.failures); got != tc.want {
				t.Fatalf("retryDelay(%d) = %s, want %s", tc.failures, got, tc.want)
			}
		})
	}
}
