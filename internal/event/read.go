package event

import (
	"context"
	"sync"
	"time"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// pageSize is how many events one read of the log returns, so a long replay
// never holds the whole backlog in memory.
const pageSize = 500

// readTimeout bounds one read of the log. A read runs detached from the
// context of the stream that started it, because other streams may be
// waiting on it; the timeout is what stops it if the database hangs.
const readTimeout = 30 * time.Second

// logReads shares reads of the log between streams. After a notice every
// caught-up stream of the organization asks for the same page at once; with
// a thousand agents online that is one query instead of a thousand.
//
// A stream may only join a read that began after whatever made it read (a
// notice, a resync, a poll, its own start), or the read could predate the
// very event it was told about. Reads are therefore numbered as they begin,
// and a stream asks for a read numbered above the ticket it took when it
// learned there was something to read.
var logReads = newFlights(readPage)

// flights is a single-flight group whose callers can refuse flights that
// began too early.
type flights struct {
	// query performs one read.
	query func(context.Context, flightKey) ([]*ent.Event, error)

	mu sync.Mutex
	// began numbers reads as they begin.
	began uint64
	// inFlight holds the latest unfinished read per key.
	inFlight map[flightKey]*flight
}

// flightKey identifies one page: the same position of the same log.
type flightKey struct {
	client *ent.Client
	org    gid.ID
	after  int64
}

// newFlights returns an empty group whose reads run query.
func newFlights(query func(context.Context, flightKey) ([]*ent.Event, error)) *flights {
	return &flights{query: query, inFlight: make(map[flightKey]*flight)}
}

// readPage reads the page key names: up to pageSize events after key.after,
// in order, as the system of key.org (the Event policy admits nobody else).
func readPage(ctx context.Context, key flightKey) ([]*ent.Event, error) {
	return key.client.Event.Query().
		Where(entevent.SeqGT(key.after)).
		Order(entevent.BySeq()).
		Limit(pageSize).
		All(viewer.SystemContext(ctx, key.org))
}

// flight is one read of a page; page and err are set before done closes.
type flight struct {
	n    uint64
	done chan struct{}
	page []*ent.Event
	err  error
}

// ticket returns a number below that of every read beginning after this
// call.
func (f *flights) ticket() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.began
}

// read returns up to pageSize events of org's log after seq after, in
// order, from a read numbered above ticket: joining one in flight, or
// beginning one. Any read returns a gap-free prefix of the log after its
// position (events commit in seq order), so a shared page is exactly what a
// private read begun at the same moment would return. The returned events
// are shared between callers.
func (f *flights) read(ctx context.Context, client *ent.Client, org gid.ID, after int64, ticket uint64) ([]*ent.Event, error) {
	fl := f.join(ctx, flightKey{client, org, after}, ticket)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-fl.done:
		return fl.page, fl.err
	}
}

// join returns the latest flight for key if it began after ticket, or
// begins a new one.
func (f *flights) join(ctx context.Context, key flightKey, ticket uint64) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.inFlight[key]; fl != nil && fl.n > ticket {
		return fl
	}
	f.began++
	fl := &flight{n: f.began, done: make(chan struct{})}
	f.inFlight[key] = fl
	// The read's goroutine is owned by the flight: it ends when the query
	// returns, which readTimeout bounds whoever is waiting.
	go f.run(context.WithoutCancel(ctx), key, fl)
	return fl
}

// run performs fl's query and retires it.
func (f *flights) run(ctx context.Context, key flightKey, fl *flight) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	fl.page, fl.err = f.query(ctx, key)
	f.mu.Lock()
	if f.inFlight[key] == fl {
		delete(f.inFlight, key)
	}
	f.mu.Unlock()
	close(fl.done)
}
