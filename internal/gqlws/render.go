package gqlws

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/dakenh/dakenh/internal/event"
)

// Bounds of the remembered renders: an event reaches the streams of a
// group within moments of each other, or from replays much later, which
// render again.
const (
	rendersKept = 1024
	// renderKeptBytes is the largest payload remembered; larger ones
	// are still rendered once for the subscribers waiting together.
	renderKeptBytes = 64 << 10
)

// renders renders each event once per group: concurrent streams share a
// flight, and later ones find the result among the recent renders.
type renders struct {
	flights singleflight.Group
	recent  *lru.Cache[string, *rendered]
	// ran counts the renders run.
	ran atomic.Int64
}

func newRenders() *renders {
	c, _ := lru.New[string, *rendered](rendersKept) // fails only for a size ≤ 0
	return &renders{recent: c}
}

// rendered is one event's payload for one group, nil when the event is not
// for the group's viewer, with its frames.
type rendered struct {
	payload []byte

	// frames holds the prepared messages by type and operation ID;
	// subscribers mostly share one (clients number their first
	// operation alike), found without a lock.
	frames sync.Map
}

// frame returns the message of type typ with the payload for operation
// id, prepared once for every socket that sends it.
func (r *rendered) frame(typ, id string) *websocket.PreparedMessage {
	key := typ + "\x00" + id
	if pm, ok := r.frames.Load(key); ok {
		return pm.(*websocket.PreparedMessage)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frameOf(id, typ, r.payload))
	if err != nil {
		panic(err) // only fails for an invalid message type
	}
	got, _ := r.frames.LoadOrStore(key, pm)
	return got.(*websocket.PreparedMessage)
}

// get returns group's render of d, running render when no other stream of
// the group has. The flight runs in a goroutine of its own (waiters'
// stacks stay shallow) and is not cancelled with the caller.
func (rs *renders) get(ctx context.Context, group string, d event.Delivery, render func() ([]byte, error)) (*rendered, error) {
	key := group + string(d.Event.OrganizationID) + "/" + strconv.FormatInt(d.Event.Seq, 10)
	// Peek, under the read lock: the thousands of subscribers of one
	// event look it up at once, and a render matters only for moments.
	if r, ok := rs.recent.Peek(key); ok {
		return r, nil
	}
	ch := rs.flights.DoChan(key, func() (any, error) {
		if r, ok := rs.recent.Peek(key); ok {
			return r, nil
		}
		rs.ran.Add(1)
		payload, err := render()
		if err != nil {
			return nil, err
		}
		r := &rendered{payload: payload}
		if len(payload) <= renderKeptBytes {
			rs.recent.Add(key, r)
		}
		return r, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*rendered), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
