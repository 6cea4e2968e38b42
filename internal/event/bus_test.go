package event_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

// TestBus is the contract both buses keep; the PostgreSQL one runs in the
// PostgreSQL suite.
func TestBus(t *testing.T) {
	for _, impl := range []struct {
		name string
		open func(t *testing.T) event.Bus
	}{
		{"Memory", func(t *testing.T) event.Bus {
			b := event.NewMemoryBus()
			t.Cleanup(func() { b.Close() })
			return b
		}},
		{"Postgres", func(t *testing.T) event.Bus {
			requirePostgres(t)
			return newPostgresBus(t, postgresDSN(t, dbtest.Open(t)))
		}},
	} {
		t.Run(impl.name, func(t *testing.T) {
			ctx := context.Background()

			t.Run("DeliversToTheOrganizationOnly", func(t *testing.T) {
				bus := impl.open(t)
				a, b := gid.New("Organization"), gid.New("Organization")
				a1, cancel := bus.Subscribe(a)
				defer cancel()
				a2, cancel := bus.Subscribe(a)
				defer cancel()
				b1, cancel := bus.Subscribe(b)
				defer cancel()
				publish(t, bus, event.Notice{OrgID: a, Seq: 1})
				publish(t, bus, event.Notice{OrgID: b, Seq: 7})
				for i, ch := range []<-chan event.Notice{a1, a2} {
					if n := <-ch; !reflect.DeepEqual(n, event.Notice{OrgID: a, Seq: 1}) {
						t.Errorf("subscriber %d of a got %+v", i, n)
					}
				}
				// a's notice was published first, so had it reached b's
				// subscriber it would be what b1 holds now.
				if n := <-b1; !reflect.DeepEqual(n, event.Notice{OrgID: b, Seq: 7}) {
					t.Errorf("subscriber of b got %+v, want only b's notice", n)
				}
			})

			t.Run("SlowSubscriberNeverBlocksPublish", func(t *testing.T) {
				bus := impl.open(t)
				org := gid.New("Organization")
				slow, cancel := bus.Subscribe(org)
				defer cancel()
				// Nobody reads slow while 100 notices go out: a blocking
				// bus would hang here.
				for seq := range int64(100) {
					publish(t, bus, event.Notice{OrgID: org, Seq: seq + 1})
				}
				var last int64
				for last < 100 {
					n := <-slow
					if n.OrgID != org || n.Seq <= last {
						t.Fatalf("after seq %d got %+v: notices must only move forward", last, n)
					}
					last = n.Seq
				}
			})

			t.Run("CancelClosesTheChannel", func(t *testing.T) {
				bus := impl.open(t)
				org := gid.New("Organization")
				ch, cancel := bus.Subscribe(org)
				cancel()
				cancel() // idempotent
				for range ch {
				}
				publish(t, bus, event.Notice{OrgID: org, Seq: 1})
			})

			t.Run("CloseEndsEverything", func(t *testing.T) {
				bus := impl.open(t)
				org := gid.New("Organization")
				ch, cancel := bus.Subscribe(org)
				defer cancel()
				if err := bus.Close(); err != nil {
					t.Fatal(err)
				}
				for range ch {
				}
				if err := bus.Publish(ctx, event.Notice{OrgID: org, Seq: 1}); !errors.Is(err, event.ErrClosed) {
					t.Errorf("Publish after Close = %v, want ErrClosed", err)
				}
				late, cancel := bus.Subscribe(org)
				defer cancel()
				if _, ok := <-late; ok {
					t.Error("Subscribe after Close returned an open channel")
				}
			})
		})
	}
}

// TestMemoryBusCoalesces pins the overflow rule: a subscriber that has not
// taken its notice finds one notice carrying the highest seq, and a resync
// survives the merge.
func TestMemoryBusCoalesces(t *testing.T) {
	bus := event.NewMemoryBus()
	defer bus.Close()
	org := gid.New("Organization")
	ch, cancel := bus.Subscribe(org)
	defer cancel()
	for _, seq := range []int64{3, 9, 5} {
		publish(t, bus, event.Notice{OrgID: org, Seq: seq})
	}
	if n := <-ch; !reflect.DeepEqual(n, event.Notice{OrgID: org, Seq: 9}) {
		t.Errorf("got %+v, want one notice with seq 9", n)
	}
	select {
	case n := <-ch:
		t.Errorf("a second notice %+v; the three should have merged", n)
	default:
	}
	publish(t, bus, event.Notice{OrgID: org, Resync: true})
	publish(t, bus, event.Notice{OrgID: org, Seq: 10})
	if n := <-ch; !reflect.DeepEqual(n, event.Notice{OrgID: org, Seq: 10, Resync: true}) {
		t.Errorf("got %+v, want seq 10 with the resync kept", n)
	}
}

// TestMemoryBusConcurrentPublishers runs publishers, subscribers and
// cancellations at once under the race detector; every subscriber that
// stays ends up with the highest seq.
func TestMemoryBusConcurrentPublishers(t *testing.T) {
	const publishers, perPublisher = 8, 500
	bus := event.NewMemoryBus()
	defer bus.Close()
	org := gid.New("Organization")
	var subs []<-chan event.Notice
	for range 4 {
		ch, cancel := bus.Subscribe(org)
		defer cancel()
		subs = append(subs, ch)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				publish(t, bus, event.Notice{OrgID: org, Seq: int64(p*perPublisher + i + 1)})
				// Churn: subscriptions come and go while notices flow.
				_, cancel := bus.Subscribe(org)
				cancel()
			}
		})
	}
	for _, ch := range subs {
		wg.Go(func() {
			for n := range ch {
				if n.Seq == publishers*perPublisher {
					return
				}
			}
		})
	}
	wg.Wait()
}

// publish is Publish that fails the test on error; safe from any goroutine.
func publish(t *testing.T, bus event.Bus, n event.Notice) {
	if err := bus.Publish(context.Background(), n); err != nil {
		t.Error(err)
	}
}
