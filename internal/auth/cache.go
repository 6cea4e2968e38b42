package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Every request with a session token used to read the session and its user
// (two statements of a five-statement inbox page). sessionCache remembers,
// for a few seconds, what a session token stands for. What would make an
// answer stale is announced: logout and revocations (deactivation, a
// password reset) and role changes forget the user here at once and, through
// the event bus, on every other replica; a bus that lost notices (Resync)
// makes a replica forget the organization's sessions. A notice that never
// arrives (the bus is down) is bounded by the entry's lifetime.

// Defaults of the session cache.
const (
	DefaultSessionCacheTTL = 10 * time.Second
	sessionCacheSize       = 10_000
)

// sessionCache maps token hashes to the viewer they authenticate.
type sessionCache struct {
	entries *expirable.LRU[string, cachedSession]
	bus     event.Bus
	// gen counts the forgetting done; a lookup begun before one must not
	// store what it read, which may predate what was forgotten.
	gen atomic.Uint64

	mu   sync.Mutex
	orgs map[gid.ID]bool // the organizations followed on the bus
}

// cachedSession is a remembered session.
type cachedSession struct {
	v         viewer.Viewer
	expiresAt time.Time // the session's own expiry
}

func newSessionCache(ttl time.Duration, bus event.Bus) *sessionCache {
	return &sessionCache{
		entries: expirable.NewLRU[string, cachedSession](sessionCacheSize, nil, ttl),
		bus:     bus,
		orgs:    map[gid.ID]bool{},
	}
}

// get returns the viewer of a token hash, if remembered and the session
// has not expired by now.
func (c *sessionCache) get(key string, now time.Time) (*viewer.Viewer, bool) {
	e, ok := c.entries.Get(key)
	if !ok || !now.Before(e.expiresAt) {
		return nil, false
	}
	v := e.v // a copy: callers own the viewer they get
	return &v, true
}

// put remembers a session read from the database when nothing was
// forgotten since gen, the generation taken before the read.
func (c *sessionCache) put(key string, gen uint64, v *viewer.Viewer, expiresAt time.Time) {
	if !c.follow(v.OrgID) {
		return
	}
	if c.gen.Load() != gen {
		return
	}
	c.entries.Add(key, cachedSession{v: *v, expiresAt: expiresAt})
	// A forget may have run between the check and the add.
	if c.gen.Load() != gen {
		c.entries.Remove(key)
	}
}

// follow makes sure the organization's notices reach the cache, so that
// its users' changes on other replicas are heard. It reports whether they
// already did before this lookup's read: the first lookup of an
// organization is not remembered, since a change announced before the
// subscription would go unheard.
func (c *sessionCache) follow(org gid.ID) bool {
	if c.bus == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orgs[org] {
		return true
	}
	c.orgs[org] = true
	// The channel closes when the bus does, which ends the goroutine.
	ch, _ := c.bus.Subscribe(org)
	go func() {
		for n := range ch {
			if n.Resync {
				c.forget(func(v *viewer.Viewer) bool { return v.OrgID == org })
				continue
			}
			for _, u := range n.Users {
				c.forget(func(v *viewer.Viewer) bool { return v.UserID == u })
			}
		}
	}()
	return false
}

// forget drops the remembered sessions whose viewer matches.
func (c *sessionCache) forget(match func(*viewer.Viewer) bool) {
	c.gen.Add(1)
	for _, k := range c.entries.Keys() {
		if e, ok := c.entries.Peek(k); ok && match(&e.v) {
			c.entries.Remove(k)
		}
	}
}

// forgetUser forgets a user's sessions here and announces it to the other
// replicas. A failed announcement is logged by the bus; the other replicas
// then forget when the entries expire.
func (c *sessionCache) forgetUser(ctx context.Context, orgID, userID gid.ID) {
	c.forget(func(v *viewer.Viewer) bool { return v.UserID == userID })
	if c.bus != nil {
		_ = c.bus.Publish(ctx, event.Notice{OrgID: orgID, Users: []gid.ID{userID}})
	}
}
