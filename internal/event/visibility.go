package event

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Sizes of the shared visibility cache. An answer or a staleness mark takes
// well under 200 bytes, so the cache stays below about 20 MB.
const (
	visibilityAnswers = 65536
	visibilityMarks   = 65536
)

// visibility is the process's cache of which conversations a viewer may
// see, shared by every stream: an agent's tabs and an integration's
// connections ask once per conversation, not once per stream, and 10,000
// streams of one viewer cost one query for a conversation new to them all.
//
// The answer comes from the database, asked as the viewer, so the
// Conversation policy decides exactly as it does for queries. An answer is
// kept with the moment its query began, and a stream uses it only if it was
// asked after everything that could have changed it:
//
//   - after the stream started (changes committed before could not be
//     noticed by this process otherwise);
//   - after the latest read of the log holding an event about the
//     conversation, other than a MESSAGE event (an assignment, an offer, a
//     claim); readPage marks these before any stream sees the page;
//   - after the latest read holding an event of the organization that names
//     no conversation (a channel's permission, owner or rule changed), but
//     a USER event (a presence change) or a CALL event, which change no
//     one's view of conversations.
var visibility = newVisibilityCache()

type orgKey struct {
	client *ent.Client
	org    gid.ID
}

type convKey struct {
	orgKey
	conv gid.ID
}

// whoKey is everything of a viewer that conversation visibility depends on.
type whoKey struct {
	userID, apiKeyID gid.ID
	role             viewer.Role
	system           bool
}

type visibilityKey struct {
	convKey
	who whoKey
}

type visibilityAnswer struct {
	ok bool
	// asked is the number of the query that found it.
	asked uint64
}

type visibilityCache struct {
	flights *flights[visibilityKey, bool]

	mu      sync.Mutex
	answers *simplelru.LRU[visibilityKey, visibilityAnswer]
	// stale holds, per conversation, the moment after which answers about
	// it must have been asked. floor is the highest mark evicted from it,
	// which stands for every conversation without one.
	stale *simplelru.LRU[convKey, staleMark]
	floor uint64
	// staleOrg is the same mark for all of an organization's conversations.
	staleOrg map[orgKey]staleMark
}

// staleMark is the moment after the first read of the latest event that
// may have changed answers. Streams read the same event at different times;
// only its first read counts, or each later read would make every stream
// ask again.
type staleMark struct {
	seq    int64
	moment uint64
}

func newVisibilityCache() *visibilityCache {
	c := &visibilityCache{
		flights:  newFlights(askVisibility),
		staleOrg: make(map[orgKey]staleMark),
	}
	c.flights.keep = c.keep
	// Only a size ≤ 0 makes these fail.
	c.answers, _ = simplelru.NewLRU[visibilityKey, visibilityAnswer](visibilityAnswers, nil)
	c.stale, _ = simplelru.NewLRU(visibilityMarks, func(_ convKey, m staleMark) {
		c.floor = max(c.floor, m.moment) // runs under mu, inside Add
	})
	return c
}

// invalidate records that page, just read from org's log, may change
// answers: it runs after the read returned, so every event of the page has
// committed before the moment it records.
func (c *visibilityCache) invalidate(org orgKey, page []*ent.Event) {
	// A message never changes who sees its conversation, nor does a
	// change of a user (their presence).
	first := slices.IndexFunc(page, changesVisibility)
	if first < 0 {
		return
	}
	now := ticket()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range page[first:] {
		switch {
		case !changesVisibility(e):
		case e.ConversationID == "":
			if e.Seq > c.staleOrg[org].seq {
				c.staleOrg[org] = staleMark{e.Seq, now}
			}
		default:
			k := convKey{org, e.ConversationID}
			if old, ok := c.stale.Peek(k); !ok || e.Seq > old.seq {
				c.stale.Add(k, staleMark{e.Seq, now})
			}
		}
	}
}

// changesVisibility reports whether an event may change who sees a
// conversation: any but a MESSAGE, a USER, a CALL, a ZNS or a LIVETALK event (calls,
// call permissions and ZNS messages name no conversation, and would
// otherwise make every stream of the organization ask again about every
// conversation).
func changesVisibility(e *ent.Event) bool {
	return e.Topic != TopicMessage && e.Topic != TopicUser && e.Topic != TopicCall && e.Topic != TopicZNS && e.Topic != TopicLiveTalk
}

// canSee reports whether v may see conversation conv, from an answer asked
// after since (the stream's start) and after every change the log has shown
// this process.
func (c *visibilityCache) canSee(ctx context.Context, client *ent.Client, v *viewer.Viewer, conv gid.ID, since uint64) (bool, error) {
	ck := convKey{orgKey{client, v.OrgID}, conv}
	key := visibilityKey{ck, whoKey{v.UserID, v.APIKeyID, v.Role, v.System}}
	c.mu.Lock()
	need := max(since, c.staleOrg[ck.orgKey].moment, c.floor)
	if m, ok := c.stale.Peek(ck); ok {
		need = max(need, m.moment)
	}
	if a, hit := c.answers.Get(key); hit && a.asked > need {
		c.mu.Unlock()
		return a.ok, nil
	}
	// Joined under mu: a flight that landed has kept its answer (keep
	// takes mu), and one that has not is still in flight.
	fl := c.flights.join(ctx, key, need)
	c.mu.Unlock()
	ok, _, err := fl.wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("event: checking conversation %s: %w", conv, err)
	}
	return ok, nil
}

// keep stores the answer of query n unless a later one is already there.
func (c *visibilityCache) keep(key visibilityKey, ok bool, n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, had := c.answers.Peek(key); !had || old.asked < n {
		c.answers.Add(key, visibilityAnswer{ok, n})
	}
}

// askVisibility asks the database whether the viewer key describes may see
// the conversation. API keys are lent READ: the EVENTS scope is enough to
// follow the stream (docs/api.md, "Subscriptions and resuming"), and FilterConversations treats every
// key alike.
func askVisibility(ctx context.Context, key visibilityKey) (bool, error) {
	v := &viewer.Viewer{
		OrgID:    key.org,
		UserID:   key.who.userID,
		Role:     key.who.role,
		APIKeyID: key.who.apiKeyID,
		System:   key.who.system,
	}
	if v.IsAPIKey() {
		v.Scopes = []viewer.Scope{viewer.ScopeRead, viewer.ScopeEvents}
	}
	return key.client.Conversation.Query().
		Where(conversation.ID(key.conv)).
		Exist(viewer.NewContext(ctx, v))
}
