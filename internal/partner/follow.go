package partner

import (
	"context"
	"sync"
	"time"

	"github.com/dakenh/dakenh/ent/webhookendpoint"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// feedRetry is how soon the feed runs again after it skipped an endpoint
// another replica was feeding, rather than at the next poll (that replica
// may have read the log before the latest events were committed), or left
// more of the log than one batch.
const feedRetry = 50 * time.Millisecond

// follower wakes the feed when the log of an organization with enabled
// endpoints grows: it follows those organizations on the event bus, in
// this process and (with a shared bus) on every replica. Polling remains
// the fallback for a notice lost or a bus down.
type follower struct {
	bus event.Bus
	// wake has capacity 1: a wake-up that finds one pending is merged
	// with it, since one feed reads every endpoint's new events.
	wake chan struct{}

	mu   sync.Mutex
	orgs map[gid.ID]func() // followed organizations, and their unsubscribes
}

func newFollower(bus event.Bus) *follower {
	return &follower{bus: bus, wake: make(chan struct{}, 1), orgs: map[gid.ID]func(){}}
}

// poke wakes the feed without waiting.
func (f *follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// refresh follows the organizations that have enabled endpoints, and only
// them.
func (f *follower) refresh(ctx context.Context, d *Deliveries) error {
	if f.bus == nil {
		return nil
	}
	orgs, err := d.client.WebhookEndpoint.Query().
		Where(webhookendpoint.Enabled(true)).
		Unique(true).
		Select(webhookendpoint.FieldOrganizationID).
		Strings(viewer.SystemContext(ctx, ""))
	if err != nil {
		return err
	}
	want := make(map[gid.ID]bool, len(orgs))
	for _, o := range orgs {
		want[gid.ID(o)] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for org, cancel := range f.orgs {
		if !want[org] {
			cancel()
			delete(f.orgs, org)
		}
	}
	for org := range want {
		if f.orgs[org] != nil {
			continue
		}
		ch, cancel := f.bus.Subscribe(org)
		f.orgs[org] = cancel
		// The channel closes on cancel or when the bus closes, which
		// ends the goroutine.
		go func() {
			for range ch {
				f.poke()
			}
		}()
		// Events appended before the subscription are found by this
		// round's feed, which runs after the refresh.
	}
	return nil
}

// stop unsubscribes from every organization.
func (f *follower) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for org, cancel := range f.orgs {
		cancel()
		delete(f.orgs, org)
	}
}
