package graph

import (
	"context"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/viewer"
)

// messageLoader loads the message of a MESSAGE event once per process for
// every stream that delivers the event. Without it, one message to 10,000
// subscribers was 10,000 identical queries. It is safe to share because the
// stream has already decided that the viewer may see the event's
// conversation; the message is loaded as the system of the event's
// organization and is only read afterwards.
type messageLoader struct {
	flights singleflight.Group
	// recent keeps loaded messages by event, for streams that reach an
	// event after its flight ended; an event names one state of its
	// message, so the entry never goes stale for that event.
	recent *lru.Cache[string, *ent.Message]
}

// messageLoaderSize bounds the remembered events (a few hundred bytes each).
const messageLoaderSize = 4096

func newMessageLoader() *messageLoader {
	c, _ := lru.New[string, *ent.Message](messageLoaderSize) // only fails for a size ≤ 0
	return &messageLoader{recent: c}
}

// load returns the message of e.
func (l *messageLoader) load(ctx context.Context, client *ent.Client, e *ent.Event) (*ent.Message, error) {
	key := fmt.Sprintf("%s/%d", e.OrganizationID, e.Seq)
	if m, ok := l.recent.Get(key); ok {
		return m, nil
	}
	v, err, _ := l.flights.Do(key, func() (any, error) {
		// Detached from the first caller's cancellation: other streams
		// wait on this flight too.
		sys := viewer.SystemContext(context.WithoutCancel(ctx), e.OrganizationID)
		m, err := client.Message.Get(sys, e.MessageID)
		if err == nil {
			l.recent.Add(key, m)
		}
		return m, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*ent.Message), nil
}
