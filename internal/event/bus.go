package event

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/dakenh/dakenh/internal/gid"
)

// Notice tells subscribers that an organization's log has grown. It carries
// no event: receivers re-read the log from their own position, which is why a
// notice may be merged with others or lost without losing an event.
type Notice struct {
	// OrgID is the organization whose log grew.
	OrgID gid.ID
	// Seq is the highest sequence number known to be committed.
	Seq int64
	// Resync says notices may have been lost (the bus was disconnected), so
	// the receiver must re-read the log whatever Seq says.
	Resync bool
	// Users are users whose authentication changed (sessions revoked,
	// deactivated, role changed): whoever remembers what a token stands
	// for forgets them (internal/auth). Such a notice carries Seq 0, which
	// log readers ignore; a Resync means any of them may have been lost.
	Users []gid.ID
	// ticket, on a resync, is the moment (see ticket) the bus noticed the
	// loss; receivers' re-reads then share queries begun after it instead
	// of each taking its own ticket.
	ticket uint64
}

// Bus carries notices between the writers of the event log and its readers,
// in one process or across replicas. Delivery is best effort and never
// blocks: a subscriber that has not taken its last notice gets it merged with
// the next one.
type Bus interface {
	// Publish announces n to the subscribers of n.OrgID, in this process
	// and, for a shared bus, in every other one.
	Publish(ctx context.Context, n Notice) error
	// Subscribe returns a channel of notices for orgID, and a cancel
	// function that unsubscribes and closes the channel. The channel is
	// also closed when the bus closes. Its capacity is one: an undelivered
	// notice is merged with the next (highest Seq, Resync if either was),
	// so a slow subscriber never blocks Publish or other subscribers.
	Subscribe(orgID gid.ID) (ch <-chan Notice, cancel func())
	// Close stops the bus and closes every subscription's channel.
	Close() error
}

// ErrClosed is returned by Publish on a closed bus.
var ErrClosed = errors.New("event: bus closed")

// hub fans notices out to the subscriptions of one process; both buses
// embed it and differ only in how notices reach it.
type hub struct {
	mu     sync.RWMutex
	closed bool
	subs   map[gid.ID]map[*subscription]struct{}
}

// subscription is one subscriber's mailbox.
type subscription struct {
	org gid.ID
	// mu serializes senders, so that after one empties the full slot it
	// is the only one who can fill it again and its send cannot block.
	mu     sync.Mutex
	closed bool
	// ch has capacity 1; see offer for the overflow rule.
	ch chan Notice
}

// offer puts n in the mailbox without ever blocking: if the previous notice
// has not been taken yet, the two are merged into one. Receivers re-read the
// log from their own position, so the highest Seq is all they need.
func (s *subscription) offer(n Notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- n:
		return
	default:
	}
	select {
	case old := <-s.ch:
		n = merge(old, n)
	default:
		// The receiver took the pending notice meanwhile.
	}
	s.ch <- n
}

// close closes the mailbox once; offer checks closed under the same lock,
// so it never sends on a closed channel.
func (s *subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// maxNoticeUsers bounds the users one merged notice names; past it the
// merge says Resync instead, which tells every receiver to start over.
const maxNoticeUsers = 64

// merge combines two notices for the same organization.
func merge(a, b Notice) Notice {
	n := Notice{OrgID: a.OrgID, Seq: max(a.Seq, b.Seq), Resync: a.Resync || b.Resync, ticket: max(a.ticket, b.ticket)}
	if len(a.Users)+len(b.Users) > 0 {
		n.Users = append(slices.Clone(a.Users), b.Users...)
		slices.Sort(n.Users)
		n.Users = slices.Compact(n.Users)
		if len(n.Users) > maxNoticeUsers {
			n.Users, n.Resync = nil, true
		}
	}
	return n
}

// subscribe registers a mailbox for orgID.
func (h *hub) subscribe(orgID gid.ID) (<-chan Notice, func()) {
	s := &subscription{org: orgID, ch: make(chan Notice, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.close()
		return s.ch, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[gid.ID]map[*subscription]struct{})
	}
	if h.subs[orgID] == nil {
		h.subs[orgID] = make(map[*subscription]struct{})
	}
	h.subs[orgID][s] = struct{}{}
	h.mu.Unlock()

	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			if set := h.subs[orgID]; set != nil {
				delete(set, s)
				if len(set) == 0 {
					delete(h.subs, orgID)
				}
			}
			h.mu.Unlock()
			s.close()
		})
	}
}

// deliver offers n to every subscriber of its organization.
func (h *hub) deliver(n Notice) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[n.OrgID] {
		s.offer(n)
	}
}

// resyncAll tells every subscriber of every organization that notices may
// have been lost.
func (h *hub) resyncAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := ticket()
	for org, set := range h.subs {
		for s := range set {
			s.offer(Notice{OrgID: org, Resync: true, ticket: m})
		}
	}
}

// shut closes every mailbox and refuses new ones; it reports whether this
// call was the one that closed the hub.
func (h *hub) shut() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			s.close()
		}
	}
	h.subs = nil
	return true
}

// isClosed reports whether shut has run.
func (h *hub) isClosed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

// MemoryBus is the Bus of a single process, for the embedded SQLite server,
// where every writer and reader lives in the same binary.
type MemoryBus struct {
	h hub
}

// NewMemoryBus returns an empty in-process bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{} }

// Publish offers n to the organization's subscribers; it never blocks.
func (b *MemoryBus) Publish(_ context.Context, n Notice) error {
	if b.h.isClosed() {
		return ErrClosed
	}
	b.h.deliver(n)
	return nil
}

// Subscribe implements Bus.
func (b *MemoryBus) Subscribe(orgID gid.ID) (<-chan Notice, func()) {
	return b.h.subscribe(orgID)
}

// Close closes every subscription; later Publishes fail with ErrClosed.
func (b *MemoryBus) Close() error {
	b.h.shut()
	return nil
}
