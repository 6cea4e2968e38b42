package event

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dakenh/dakenh/internal/gid"
)

// dispatchWorkers bounds the goroutines a dispatcher runs a round with:
// enough that a stream waiting on the database (a visibility check, a
// render) does not hold up the others, few enough that the writes stay
// as sequential as a plain broadcast loop's.
const dispatchWorkers = 8

// errWouldWait is what a dispatcher's delivery returns when the sink is
// full: the stream goes back to a goroutine of its own, which waits.
var errWouldWait = errors.New("event: the delivery would wait")

// A stream with a Sink that has caught up parks with its organization's
// dispatcher instead of keeping a goroutine: the dispatcher holds the one
// bus subscription and poll of the organization's parked streams, applies
// each notice and tick to every one of them, and delivers the events of
// those it made dirty in a round of its own, reading each page once
// (logReads) and handing each sink its delivery without waiting. A stream
// whose sink is full, whose context ends or that fails goes back to a
// goroutine of its own (resume), which behaves exactly as before.
//
// A parked stream keeps no mailbox: parking unsubscribes it once the
// dispatcher's own subscription is in place and the stream's mailbox has
// been drained (see park), and resuming subscribes again and re-reads the
// log from then on (poke), so no notice falls between the two.
type dispatcher struct {
	key dispatchKey

	notices     <-chan Notice
	unsubscribe func()
	tick        <-chan uint64
	stopTick    func()

	mu     sync.Mutex
	parked map[*Stream]struct{}
	// seq and resync are the highest seq and resync ticket of the notices
	// the dispatcher has taken: a stream parking after the bus offered a
	// notice to the dispatcher but before it offered it to the stream's
	// own mailbox learns it from these.
	seq, resync uint64
	// busy counts the streams taken out for a round.
	busy int
	// retired says the dispatcher has stopped: park finds another.
	retired bool
}

// dispatchKey names the streams that can share a dispatcher: the same
// bus, organization and poll interval.
type dispatchKey struct {
	bus  Bus
	org  gid.ID
	poll time.Duration
}

var dispatchers = struct {
	mu sync.Mutex
	m  map[dispatchKey]*dispatcher
}{m: make(map[dispatchKey]*dispatcher)}

// dispatcherFor returns the running dispatcher of key, starting one.
func dispatcherFor(key dispatchKey) *dispatcher {
	dispatchers.mu.Lock()
	defer dispatchers.mu.Unlock()
	if d := dispatchers.m[key]; d != nil {
		return d
	}
	d := &dispatcher{key: key, parked: make(map[*Stream]struct{})}
	d.notices, d.unsubscribe = key.bus.Subscribe(key.org)
	if key.poll > 0 {
		d.tick, d.stopTick = subscribePoll(key.poll)
	}
	dispatchers.m[key] = d
	go d.run()
	return d
}

// parkedStreams counts the streams parked in every dispatcher, for tests.
var parkedStreams atomic.Int64

// park hands an idle stream to its dispatcher; it reports false when the
// stream has something to do after all (a pending notice or tick, its
// context's end), and then keeps its goroutine. Only the stream's
// goroutine calls it, between reads.
func (s *Stream) park() bool {
	for {
		d := dispatcherFor(dispatchKey{s.bus, s.r.viewer.OrgID, s.poll})
		d.mu.Lock()
		if d.retired {
			d.mu.Unlock()
			continue
		}
		ok := s.parkLocked(d)
		d.mu.Unlock()
		return ok
	}
}

// parkLocked parks s in d, whose subscriptions exist: every notice is now
// offered to d, or was offered to s's mailbox before d subscribed (the
// bus offers under its lock), which s drains here. d.mu is held.
func (s *Stream) parkLocked(d *dispatcher) bool {
	if s.ctx.Err() != nil {
		return false
	}
	select {
	case n, ok := <-s.notices:
		if !ok {
			s.r.fail = ErrInterrupted
			return false
		}
		s.r.note(n)
	default:
	}
	select {
	case m := <-s.tick:
		s.r.pokeAt(m)
	default:
	}
	if d.seq > s.r.noted {
		s.r.note(Notice{Seq: int64(d.seq)})
	}
	if d.resync > s.r.resynced {
		s.r.note(Notice{Resync: true, ticket: d.resync})
	}
	if s.r.dirty {
		return false
	}
	s.unsubscribe()
	if s.stopTick != nil {
		s.stopTick()
	}
	s.notices, s.unsubscribe, s.tick, s.stopTick = nil, nil, nil, nil
	s.stopWatch = context.AfterFunc(s.ctx, func() { d.release(s) })
	d.parked[s] = struct{}{}
	parkedStreams.Add(1)
	return true
}

// resume gives s a goroutine of its own again, with its own mailbox and
// poll; it re-reads the log from now, since notices may have reached only
// the dispatcher meanwhile. s is in no dispatcher's set.
func (s *Stream) resume() {
	parkedStreams.Add(-1)
	s.stopWatch()
	s.stopWatch = nil
	s.notices, s.unsubscribe = s.bus.Subscribe(s.r.viewer.OrgID)
	if s.poll > 0 {
		s.tick, s.stopTick = subscribePoll(s.poll)
	}
	s.r.poke()
	go s.run()
}

// release resumes s, whose context has ended, unless a round holds it (the
// round resumes it).
func (d *dispatcher) release(s *Stream) {
	d.mu.Lock()
	_, ok := d.parked[s]
	delete(d.parked, s)
	d.mu.Unlock()
	if ok {
		s.resume()
		d.retireIfIdle()
	}
}

// run applies the organization's notices and ticks to the parked streams
// until the bus closes or no stream is left.
func (d *dispatcher) run() {
	for {
		select {
		case n, ok := <-d.notices:
			if !ok {
				d.interrupt()
				return
			}
			if n.Resync && n.ticket == 0 {
				n.ticket = ticket()
			}
			d.mu.Lock()
			d.seq = max(d.seq, uint64(max(n.Seq, 0)))
			if n.Resync {
				d.resync = max(d.resync, n.ticket)
			}
			d.mu.Unlock()
			d.round(func(r *reader) { r.note(n) })
		case m := <-d.tick:
			d.round(func(r *reader) { r.pokeAt(m) })
		}
		if d.retireIfIdle() {
			return
		}
	}
}

// round applies a notice or tick to every parked stream, then delivers
// for those that have something to read.
func (d *dispatcher) round(apply func(*reader)) {
	// Whatever the notices applied announce has committed before now.
	begun := ticket()
	d.mu.Lock()
	var work []*Stream
	for s := range d.parked {
		apply(s.r)
		if s.r.dirty {
			delete(d.parked, s)
			work = append(work, s)
		}
	}
	d.busy += len(work)
	d.mu.Unlock()
	if len(work) == 0 {
		return
	}
	back := make([]bool, len(work))
	var next atomic.Int64
	worker := func() {
		for i := int(next.Add(1) - 1); i < len(work); i = int(next.Add(1) - 1) {
			back[i] = work[i].step(begun)
		}
	}
	var wg sync.WaitGroup
	for range min(dispatchWorkers, (len(work)+63)/64) - 1 {
		wg.Go(worker)
	}
	worker()
	wg.Wait()
	var resume []*Stream
	d.mu.Lock()
	for i, s := range work {
		if back[i] || s.ctx.Err() != nil {
			resume = append(resume, s)
			continue
		}
		d.parked[s] = struct{}{}
	}
	d.busy -= len(work)
	d.mu.Unlock()
	for _, s := range resume {
		s.resume()
	}
}

// step does a parked stream's reads and deliveries in the dispatcher, as
// follow would in the stream's goroutine, but never waits for the sink;
// it reports whether the stream must go back to a goroutine of its own:
// its sink is full (the goroutine waits for room, with the stream's
// slow-consumer threshold), it failed (r.fail), or its context ended.
//
// begun is a ticket taken after the round's notices arrived. A read that
// missed an announced event is retried by one begun after it, as follow
// does with a ticket of its own: here all the round's streams pass the
// same one, so that their retries share one read instead of each, taken
// after the previous stream's read began, needing a query of its own.
func (s *Stream) step(begun uint64) bool {
	r := s.r
	for r.dirty {
		r.dirty = false
		strict := r.strict
		r.strict = false
		if !strict {
			r.minRead = 0
		}
		err := r.catchUp(s.ctx, func(d Delivery) error {
			err := r.sink.Deliver(d)
			if errors.Is(err, ErrFull) {
				return errWouldWait
			}
			return err
		})
		switch {
		case errors.Is(err, errWouldWait):
			return true
		case err != nil:
			if s.ctx.Err() == nil {
				r.fail = err
			}
			return true
		}
		if !strict && r.head > r.read {
			r.pokeAt(begun)
		}
	}
	return false
}

// interrupt resumes every parked stream after the bus closed: each ends
// with ErrInterrupted, as an idle stream whose mailbox closes does.
func (d *dispatcher) interrupt() {
	d.mu.Lock()
	streams := make([]*Stream, 0, len(d.parked))
	for s := range d.parked {
		streams = append(streams, s)
	}
	clear(d.parked)
	d.mu.Unlock()
	d.retire(true)
	for _, s := range streams {
		s.r.fail = ErrInterrupted
		s.resume()
	}
}

// retireIfIdle stops d when no stream is parked in it or held by a round;
// it reports whether it did.
func (d *dispatcher) retireIfIdle() bool { return d.retire(false) }

// retire stops d, if force or it is idle; it reports whether it did.
func (d *dispatcher) retire(force bool) bool {
	dispatchers.mu.Lock()
	defer dispatchers.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.retired {
		return true
	}
	if !force && (len(d.parked) > 0 || d.busy > 0) {
		return false
	}
	d.retired = true
	if dispatchers.m[d.key] == d {
		delete(dispatchers.m, d.key)
	}
	d.unsubscribe()
	if d.stopTick != nil {
		d.stopTick()
	}
	return true
}
