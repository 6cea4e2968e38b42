package event

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Stream defaults and limits.
const (
	// DefaultBuffer is the capacity of a stream's channel when
	// Options.Buffer is not set.
	DefaultBuffer = 256
	// DefaultPoll is how often a stream re-reads the log without a
	// notice. Notices can be lost (a crash between commit and publish, a
	// publish that failed); the poll bounds how late that makes an event.
	// The streams of a process poll together (see pollers).
	DefaultPoll = 5 * time.Second
	// outCapacity caps the capacity of a stream's channel. Buffer, not
	// the channel, is the slow-consumer threshold: a full channel makes
	// the stream wait while it counts the events behind, so the channel
	// needs only a little slack, and 10,000 idle streams do not each hold
	// Buffer slots.
	outCapacity = 16
)

// ReasonResumeFromCursor is the extensions.reason of errors that end a
// stream which the client should simply resubscribe to, passing the cursor
// of the last event it received as after.
const ReasonResumeFromCursor = "RESUME_FROM_CURSOR"

// ErrSlowConsumer ends a stream whose consumer fell too far behind: its
// channel was full and Buffer more events had been committed behind the one
// waiting to go in. Nothing is lost: the log keeps every event, and
// resubscribing after the last received cursor continues exactly there.
var ErrSlowConsumer = &apierr.Error{
	Code:    apierr.FailedPrecondition,
	Reason:  ReasonResumeFromCursor,
	Message: "the event stream fell too far behind and was closed; resubscribe with after set to the cursor of the last event you received",
}

// ErrInterrupted ends the streams of a bus that closed, which happens when
// the server shuts down; the client resumes on another replica or after the
// restart.
var ErrInterrupted = &apierr.Error{
	Code:    apierr.FailedPrecondition,
	Reason:  ReasonResumeFromCursor,
	Message: "the event stream was interrupted; resubscribe with after set to the cursor of the last event you received",
	Err:     ErrClosed,
}

// Interrupted is the error that ends a stream the server could not go on
// feeding because of a failure of its own, such as its database going
// away: like ErrInterrupted, the client resubscribes after its last cursor
// (once the server is back, nothing is lost), rather than treating an
// outage as a broken request. cause is kept for logs.
func Interrupted(cause error) error {
	e := *ErrInterrupted
	e.Err = cause
	return &e
}

// Resumable returns err as a client should see it at the end of a stream:
// API errors (a slow consumer, a closing bus, a refused request) as they
// are, and any other failure, which can only be the server's, as
// Interrupted.
func Resumable(err error) error {
	if _, ok := apierr.As(err); ok || err == nil {
		return err
	}
	return Interrupted(err)
}

// Options selects what a stream delivers and from where.
type Options struct {
	// Topics selects events by topic; empty means every topic.
	Topics []Topic
	// ConversationID, when set, limits the stream to that conversation's
	// events.
	ConversationID gid.ID
	// After is where to start: the stream delivers the events after it.
	// The zero Cursor means from now.
	After Cursor
	// Buffer is the slow-consumer threshold; 0 means DefaultBuffer.
	// While the stream's channel (of capacity min(Buffer, 16)) is full the
	// stream waits, but only until Buffer events of the organization's log
	// (seen by this viewer or not) committed after the stream started are
	// queued behind the waiting one; then it ends with ErrSlowConsumer.
	Buffer int
	// Poll is the safety-poll interval: 0 means DefaultPoll, a negative
	// value turns polling off (for tests proving that notices alone
	// suffice).
	Poll time.Duration
	// Sink, when set, takes the deliveries instead of C, so that a
	// consumer which only forwards (to a socket) needs no goroutine of its
	// own; C is then nil. A stream with a Sink also has none once it has
	// caught up: it waits with its organization's dispatcher (see
	// dispatcher).
	Sink Sink
}

// ErrFull is what a Sink's Deliver returns when it has no room for the
// delivery now: the stream waits for Room, counting the events behind as it
// does for a full channel, and ends with ErrSlowConsumer once Buffer are.
var ErrFull = errors.New("event: the sink is full")

// Sink consumes a stream's deliveries, in the stream's goroutine or in its
// organization's dispatcher, never in both at once.
type Sink interface {
	// Deliver takes d without waiting for the consumer: it returns ErrFull
	// when it has no room (the stream tries again once Room fires), and
	// any other error ends the stream with that error.
	Deliver(d Delivery) error
	// Room returns a channel that receives when room may have been made.
	Room() <-chan struct{}
	// End is called once the stream has ended, with the error Err
	// returns.
	End(err error)
}

// Delivery is one event a stream delivers, with the cursor to resume after
// it.
type Delivery struct {
	// Cursor is the position just after Event.
	Cursor Cursor
	// Event is the log entry; its subjects are IDs, which the caller loads
	// as the viewer. Streams of one organization share the value, so it
	// must be treated as read-only.
	Event *ent.Event
}

// Stream is one subscriber's ordered view of its organization's log: the
// replay after a cursor, then live events, each delivered once and in
// order. One goroutine, owned by the context given to Subscribe, feeds it;
// cancelling that context ends it.
type Stream struct {
	// out has capacity min(Options.Buffer, outCapacity). When it is full the feeding
	// goroutine waits for the consumer, but only while fewer than Buffer
	// events committed after the stream started are queued in the log
	// behind the waiting one (the replay asked for never counts); then it
	// ends the stream with ErrSlowConsumer. Waiting never blocks the bus:
	// the stream's mailbox merges notices meanwhile.
	out  chan Delivery
	sink Sink
	done chan struct{}
	err  error

	// What the feeding goroutine uses; a parked stream (see dispatcher)
	// has no goroutine, mailbox or poll, and stopWatch stops its
	// dispatcher's watch of ctx.
	ctx         context.Context
	r           *reader
	bus         Bus
	poll        time.Duration
	notices     <-chan Notice
	unsubscribe func()
	tick        <-chan uint64
	stopTick    func()
	stopWatch   func() bool
}

// C returns the channel of deliveries. It is closed when the stream ends;
// Err then says why.
func (s *Stream) C() <-chan Delivery { return s.out }

// Done returns a channel closed when the stream has ended, before C is
// closed; events already in C can still be received.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err returns why the stream ended: ErrSlowConsumer, ErrInterrupted, the
// context's error when the subscriber cancelled, or Interrupted with the
// cause when the server failed (a database error). It returns nil while
// the stream runs.
func (s *Stream) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Subscribe starts a stream of v's organization's events, as v may see them:
// events addressed to a user (AudienceUserID) reach only that user, whether
// or not they still see the conversation, and other events about a
// conversation are delivered only if v may see that conversation (ONLY_ME
// channels' conversations only to the user who connected the channel). API
// keys need the EVENTS scope.
//
// The stream first replays the events after opts.After, then follows the
// log. It subscribes to bus before reading where the log ends, so an event
// committed while the stream starts is either part of the replay or
// announced by a notice it is already subscribed to; since every read
// continues from the last sequence number read, no event is delivered twice
// or skipped.
//
// The stream's goroutine stops when ctx is cancelled or the stream ends.
func Subscribe(ctx context.Context, client *ent.Client, bus Bus, v *viewer.Viewer, opts Options) (*Stream, error) {
	if client == nil || bus == nil {
		return nil, errors.New("event: Subscribe needs a client and a bus")
	}
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	if !v.Has(viewer.ScopeEvents) {
		return nil, apierr.New(apierr.Forbidden, "this API key lacks the EVENTS scope")
	}
	topics := make(map[Topic]bool, len(opts.Topics))
	for _, t := range opts.Topics {
		if err := entevent.TopicValidator(t); err != nil {
			return nil, apierr.BadInput("topics", "%q is not an event topic", t)
		}
		topics[t] = true
	}
	buffer := opts.Buffer
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	poll := opts.Poll
	if poll == 0 {
		poll = DefaultPoll
	}
	r := &reader{
		client: client,
		viewer: v,
		since:  ticket(),
		topics: topics,
		conv:   opts.ConversationID,
		buffer: buffer,
	}
	if r.conv != "" {
		ok, err := r.canSee(ctx, r.conv)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apierr.New(apierr.NotFound, "conversation not found")
		}
	}

	// Subscribe first, read the head second: see the seam argument above.
	notices, unsubscribe := bus.Subscribe(v.OrgID)
	org, err := client.Organization.Get(viewer.SystemContext(ctx, v.OrgID), v.OrgID)
	if err != nil {
		unsubscribe()
		return nil, fmt.Errorf("event: reading the log's head: %w", err)
	}
	switch head := org.EventSeq; {
	case opts.After.IsZero():
		r.last = head
	case opts.After.seq > head:
		// Cursors do not name their organization, so one from elsewhere
		// (or from a restored backup) can point past this log's end.
		unsubscribe()
		return nil, apierr.BadInput("after", "after is not a position in this organization's event log")
	default:
		r.last = opts.After.seq
	}
	r.read, r.replayTo, r.head = r.last, org.EventSeq, org.EventSeq
	// The first read must begin after the head was read, or it could miss
	// an event committed before the bus subscription (so never announced)
	// yet not replayed.
	r.poke()

	s := &Stream{sink: opts.Sink, done: make(chan struct{}), ctx: ctx, r: r, bus: bus, poll: poll,
		notices: notices, unsubscribe: unsubscribe}
	if s.sink == nil {
		s.out = make(chan Delivery, min(buffer, outCapacity))
	}
	r.sink = s.sink
	if poll > 0 {
		s.tick, s.stopTick = subscribePoll(poll)
	}
	go s.run()
	return s, nil
}

// run feeds the stream until it ends or parks (see dispatcher), then
// releases the bus subscription and closes the channels: done first, so
// Err is set once C is closed.
func (s *Stream) run() {
	parked, err := s.follow()
	if parked {
		return
	}
	s.err = err
	if s.ctx.Err() == nil {
		s.err = Resumable(s.err)
	}
	s.unsubscribe()
	if s.stopTick != nil {
		s.stopTick()
	}
	close(s.done)
	if s.sink != nil {
		s.sink.End(s.err)
		return
	}
	close(s.out)
}

// reader is a stream's position and filters; after Subscribe returns only
// the stream's goroutine uses it, or, while the stream is parked, its
// dispatcher.
type reader struct {
	client *ent.Client
	viewer *viewer.Viewer
	// since is the moment the stream started: visibility answers asked
	// before it are not used (see visibility).
	since  uint64
	topics map[Topic]bool
	conv   gid.ID
	buffer int
	// sink, when set, takes the deliveries instead of the channel.
	sink Sink
	// fail is what the stream ends with once its goroutine resumes: the
	// dispatcher's delivery failed, or the bus closed while it was parked.
	fail error

	// last is the sequence number of the last event processed (delivered
	// or filtered out); the next read starts after it.
	last int64
	// read is the highest sequence number fetched from the log, possibly
	// ahead of last while a page is being delivered.
	read int64
	// replayTo is the log's head when the stream started; the events up to
	// it are the replay the subscriber asked for and never count as lag.
	replayTo int64
	// head is the highest sequence number known to exist, from reads and
	// notices; head minus the waiting event is how far behind the
	// consumer is.
	head int64
	// dirty says the log must be read again before waiting for the next
	// notice: one arrived, or a poll came due, while a delivery waited.
	dirty bool
	// strict says the next reads must begin after minRead was taken
	// (logReads' ticket): a resync, a poll or the stream's start asks for
	// whatever has committed by then, which a read already under way may
	// not see. A notice's read may share any read, because it can check
	// what it got against the notice's seq.
	strict  bool
	minRead uint64
	// noted and resynced are the highest seq and resync ticket of the
	// notices applied (see parkLocked).
	noted, resynced uint64
}

// follow reads the log after r.last whenever there may be more: at start
// (Subscribe has poked the reader), on a notice for a seq it has not read,
// on a resync and on each poll. A stream with a sink parks once it has
// caught up, and follow then returns with parked set.
func (s *Stream) follow() (parked bool, err error) {
	r, ctx := s.r, s.ctx
	send := func(d Delivery) error { return r.send(ctx, s.out, s.notices, s.tick, d) }
	for {
		if r.fail != nil {
			return false, r.fail
		}
		for !r.dirty {
			if r.sink != nil && s.park() {
				return true, nil
			}
			if r.fail != nil {
				return false, r.fail
			}
			if r.dirty {
				break
			}
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case n, ok := <-s.notices:
				if !ok {
					return false, ErrInterrupted
				}
				r.note(n)
			case m := <-s.tick:
				r.pokeAt(m)
			}
		}
		r.dirty = false
		strict := r.strict
		r.strict = false
		if !strict {
			r.minRead = 0
		}
		if err := r.catchUp(ctx, send); err != nil {
			return false, err
		}
		if !strict && r.head > r.read {
			// A shared read began before the announced event committed;
			// one that begins now is sure to see it. Only one: a notice
			// that even such a read cannot confirm must not make us spin.
			r.poke()
		}
	}
}

// note records what a notice says about the log.
func (r *reader) note(n Notice) {
	r.head = max(r.head, n.Seq)
	r.noted = max(r.noted, uint64(max(n.Seq, 0)))
	if n.Resync && n.ticket == 0 {
		n.ticket = ticket()
	}
	switch {
	case n.Resync:
		r.resynced = max(r.resynced, n.ticket)
		r.pokeAt(n.ticket)
	case n.Seq > r.read:
		r.dirty = true
	}
}

// poke marks the log as worth reading again by reads that begin from now
// on.
func (r *reader) poke() { r.pokeAt(ticket()) }

// pokeAt marks the log as worth reading again by reads numbered above m, a
// ticket taken by whoever noticed the reason (the poller, the bus).
func (r *reader) pokeAt(m uint64) {
	if !r.strict {
		r.minRead = 0
	}
	r.dirty, r.strict = true, true
	r.minRead = max(r.minRead, m)
}

// catchUp delivers every visible event after r.last, page by page, until
// the log is exhausted.
func (r *reader) catchUp(ctx context.Context, send func(Delivery) error) error {
	for {
		page, _, err := logReads.do(ctx, flightKey{r.client, r.viewer.OrgID, r.last}, r.minRead)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("event: reading the log after %d: %w", r.last, err)
		}
		if len(page) > 0 {
			r.read = page[len(page)-1].Seq
			r.head = max(r.head, r.read)
		}
		for _, e := range page {
			before := r.last
			r.last = e.Seq
			ok, err := r.wants(ctx, e)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := send(Delivery{Cursor: cursorAt(e.Seq), Event: e}); err != nil {
				if errors.Is(err, errWouldWait) {
					// Not delivered: the stream's goroutine reads it again.
					r.last, r.dirty = before, true
				}
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}

// send puts d in out. While out is full it keeps draining notices, so it
// learns how far the log has moved on, and gives up with ErrSlowConsumer
// once Buffer events committed after the stream started are waiting behind
// d. The replay (events up to replayTo) never counts: the subscriber asked
// for it, and the log, not memory, holds it.
func (r *reader) send(ctx context.Context, out chan<- Delivery, notices <-chan Notice, tick <-chan uint64, d Delivery) error {
	if r.sink != nil {
		return r.sendSink(ctx, notices, tick, d)
	}
	for {
		if r.head-max(d.Event.Seq, r.replayTo) >= int64(r.buffer) {
			select {
			case out <- d:
				return nil
			default:
				return ErrSlowConsumer
			}
		}
		select {
		case out <- d:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case n, ok := <-notices:
			if !ok {
				return ErrInterrupted
			}
			r.note(n)
		case m := <-tick:
			r.pokeAt(m)
		}
	}
}

// sendSink is send for a Sink: the same wait and the same threshold, with
// the sink's Room in place of a free slot.
func (r *reader) sendSink(ctx context.Context, notices <-chan Notice, tick <-chan uint64, d Delivery) error {
	for {
		err := r.sink.Deliver(d)
		if !errors.Is(err, ErrFull) {
			return err
		}
		if r.head-max(d.Event.Seq, r.replayTo) >= int64(r.buffer) {
			return ErrSlowConsumer
		}
		select {
		case <-r.sink.Room():
		case <-ctx.Done():
			return ctx.Err()
		case n, ok := <-notices:
			if !ok {
				return ErrInterrupted
			}
			r.note(n)
		case m := <-tick:
			r.pokeAt(m)
		}
	}
}

// wants reports whether the viewer may see e and asked for it.
func (r *reader) wants(ctx context.Context, e *ent.Event) (bool, error) {
	if len(r.topics) > 0 && !r.topics[e.Topic] {
		return false, nil
	}
	if r.conv != "" && e.ConversationID != r.conv {
		return false, nil
	}
	if e.Type == TypeOffered && e.Topic == TopicConversation {
		return r.wantsOffer(ctx, e)
	}
	if e.Topic == TopicCall && e.ConversationID != "" {
		return r.wantsLiveCall(ctx, e)
	}
	if e.AudienceUserID != "" {
		// The writer chose the audience, which may concern a conversation
		// the user no longer sees: the offer that expired, the claim lost.
		return r.viewer.System || e.AudienceUserID == r.viewer.UserID, nil
	}
	if e.ConversationID != "" {
		return r.canSee(ctx, e.ConversationID)
	}
	return true, nil
}

// wantsOffer decides for an OFFERED event. An offer is announced twice:
// once addressed to each agent it is made to, and once unaddressed for
// those who watch every conversation (owners, admins, API keys, the
// system). Visibility is decided when a stream reads an event, so an
// agent's stream reading late, or replaying, would otherwise also deliver
// an earlier offer made to someone else of a conversation since offered to
// this agent.
func (r *reader) wantsOffer(ctx context.Context, e *ent.Event) (bool, error) {
	if r.viewer.IsUser() && r.viewer.Role == viewer.RoleAgent {
		return e.AudienceUserID == r.viewer.UserID, nil
	}
	if e.AudienceUserID != "" {
		return false, nil
	}
	return r.canSee(ctx, e.ConversationID)
}

// wantsLiveCall decides for an event of a LiveTalk call (a CALL event
// naming its conversation, internal/livecall). Like an offer it is
// announced to each agent it rang (and to the agent who answered, for
// signals), addressed to them, and once unaddressed for whoever else may
// see the conversation; an agent takes only the addressed ones, so a rung
// agent who can see the conversation is not told twice.
func (r *reader) wantsLiveCall(ctx context.Context, e *ent.Event) (bool, error) {
	if e.AudienceUserID != "" {
		return r.viewer.System || e.AudienceUserID == r.viewer.UserID, nil
	}
	if r.viewer.IsUser() && r.viewer.Role == viewer.RoleAgent {
		return false, nil
	}
	return r.canSee(ctx, e.ConversationID)
}

// canSee reports whether the viewer may see the conversation, as the
// Conversation policy decides, sharing the answer with the process's other
// streams (see visibility).
func (r *reader) canSee(ctx context.Context, id gid.ID) (bool, error) {
	return visibility.canSee(ctx, r.client, r.viewer, id, r.since)
}
