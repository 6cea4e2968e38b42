package event

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// pageSize is how many events one read of the log returns, so a long replay
// never holds the whole backlog in memory.
const pageSize = 500

// readTimeout bounds one shared query. A query runs detached from the
// context of the stream that started it, because other streams may be
// waiting on it; the timeout is what stops it if the database hangs.
const readTimeout = 30 * time.Second

// moments numbers the beginnings of shared queries (log reads and
// visibility checks) across the process. A stream that learns something
// committed (a notice, a poll, an event it read) takes the current moment
// as a ticket; any query numbered above it began afterwards and so sees
// what had committed.
var moments atomic.Uint64

// ticket returns a number below that of every shared query beginning after
// this call.
func ticket() uint64 { return moments.Load() }

// logReads shares reads of the log between streams. After a notice every
// caught-up stream of the organization asks for the same page at once; with
// a thousand agents online that is one query instead of a thousand.
//
// A stream may only join a read that began after whatever made it read (a
// notice, a resync, a poll, its own start), or the read could predate the
// very event it was told about: it passes the ticket it took when it
// learned there was something to read.
var logReads = func() *flights[flightKey, []*ent.Event] {
	f := newFlights(readPage)
	f.retain = landedPages
	return f
}()

// landedPages bounds the landed reads logReads keeps for streams that come
// to the same position after the read has ended. A read of the log stays
// valid for any caller whose ticket it is numbered above, however long
// ago it landed: the log only grows, at its end, so the page is still a
// gap-free prefix of what follows its position (a caller that needs
// more reads again). After a notice the organization's streams reach
// the read over tens of milliseconds, not all while it is in flight.
const landedPages = 64

// flightKey identifies one page: the same position of the same log.
type flightKey struct {
	client *ent.Client
	org    gid.ID
	after  int64
}

// readPage reads the page key names: up to pageSize events after key.after,
// in order, as the system of key.org (the Event policy admits nobody else).
// Before any stream sees the page, it tells the shared visibility cache
// which answers the page's events may have changed.
func readPage(ctx context.Context, key flightKey) ([]*ent.Event, error) {
	page, err := key.client.Event.Query().
		Where(entevent.SeqGT(key.after)).
		Order(entevent.BySeq()).
		Limit(pageSize).
		All(viewer.SystemContext(ctx, key.org))
	if err == nil {
		visibility.invalidate(orgKey{key.client, key.org}, page)
	}
	return page, err
}

// flights is a single-flight group whose callers can refuse flights that
// began too early: each caller passes a ticket, and joins only a flight
// numbered above it.
type flights[K comparable, V any] struct {
	// query performs one flight.
	query func(context.Context, K) (V, error)
	// keep, if set, receives each successful result with its flight's
	// number before the flight retires. A cache of results that looks
	// itself up and joins under one lock, which keep also takes, then has
	// no window in which a caller finds neither the result nor the flight.
	keep func(K, V, uint64)

	// retain, if positive, keeps the latest successful flight per key
	// once it has landed, for up to retain keys: callers whose ticket it is
	// numbered above take its result without a query. Only for queries
	// whose result stays valid for such callers (see logReads).
	retain int

	mu sync.Mutex
	// inFlight holds the latest unfinished flight per key.
	inFlight map[K]*flight[V]
	// landed holds retained flights; it is cleared when it reaches
	// retain keys.
	landed map[K]*flight[V]
}

// newFlights returns an empty group whose flights run query.
func newFlights[K comparable, V any](query func(context.Context, K) (V, error)) *flights[K, V] {
	return &flights[K, V]{query: query, inFlight: make(map[K]*flight[V])}
}

// flight is one query; val and err are set before done closes.
type flight[V any] struct {
	n    uint64
	done chan struct{}
	val  V
	err  error
}

// do returns the result of a flight for key numbered above ticket, joining
// one in flight or beginning one, and that flight's number. The result is
// shared between callers and must be treated as read-only.
//
// For the log this is sound because any read returns a gap-free prefix of
// the log after its position (events commit in seq order), so a shared page
// is exactly what a private read begun at the same moment would return.
func (f *flights[K, V]) do(ctx context.Context, key K, ticket uint64) (V, uint64, error) {
	return f.join(ctx, key, ticket).wait(ctx)
}

// wait returns the flight's result once it has landed.
func (fl *flight[V]) wait(ctx context.Context) (V, uint64, error) {
	select {
	case <-fl.done: // landed already (a kept read): no need to park
		return fl.val, fl.n, fl.err
	default:
	}
	select {
	case <-ctx.Done():
		var zero V
		return zero, 0, ctx.Err()
	case <-fl.done:
		return fl.val, fl.n, fl.err
	}
}

// join returns the latest flight for key if it began after ticket, or
// begins a new one.
func (f *flights[K, V]) join(ctx context.Context, key K, ticket uint64) *flight[V] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.inFlight[key]; fl != nil && fl.n > ticket {
		return fl
	}
	if fl := f.landed[key]; fl != nil && fl.n > ticket {
		return fl
	}
	fl := &flight[V]{n: moments.Add(1), done: make(chan struct{})}
	f.inFlight[key] = fl
	// The query's goroutine is owned by the flight: it ends when the query
	// returns, which readTimeout bounds whoever is waiting.
	go f.run(context.WithoutCancel(ctx), key, fl)
	return fl
}

// run performs fl's query and retires it.
func (f *flights[K, V]) run(ctx context.Context, key K, fl *flight[V]) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	fl.val, fl.err = f.query(ctx, key)
	if fl.err == nil && f.keep != nil {
		f.keep(key, fl.val, fl.n)
	}
	f.mu.Lock()
	if f.inFlight[key] == fl {
		delete(f.inFlight, key)
	}
	if f.retain > 0 && fl.err == nil {
		if len(f.landed) >= f.retain || f.landed == nil {
			f.landed = make(map[K]*flight[V], f.retain)
		}
		if old := f.landed[key]; old == nil || old.n < fl.n {
			f.landed[key] = fl
		}
	}
	f.mu.Unlock()
	close(fl.done)
}
