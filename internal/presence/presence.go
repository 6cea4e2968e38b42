// Package presence notices users who are gone. Each replica counts the
// subscription WebSockets its users have open (Tracker) and periodically
// stamps those users as seen in the database (Stamp), so a user counts as
// present while a socket is open on any replica. Users whose last stamp is
// older than the grace period are then made OFFLINE by the distribution
// engine, which hands their offers on.
package presence

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Timing of presence. A socket's user is stamped every Heartbeat; a user
// unseen for Grace (several heartbeats, so one slow stamp never counts)
// becomes OFFLINE.
const (
	Heartbeat = 30 * time.Second
	Grace     = 2 * time.Minute
)

// Tracker counts the open subscription sockets of each user in this
// process. It is safe for concurrent use.
type Tracker struct {
	mu   sync.Mutex
	open map[gid.ID]int
}

// NewTracker returns a tracker with no sockets.
func NewTracker() *Tracker { return &Tracker{open: map[gid.ID]int{}} }

// Open records a socket of the user and returns the function that records
// its closing; calling that more than once counts once. first says this is
// the user's only open socket here, so the caller can stamp them at once.
func (t *Tracker) Open(userID gid.ID) (closed func(), first bool) {
	t.mu.Lock()
	t.open[userID]++
	first = t.open[userID] == 1
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.open[userID]--; t.open[userID] <= 0 {
				delete(t.open, userID)
			}
		})
	}, first
}

// Sockets returns how many sockets the user has open in this process.
func (t *Tracker) Sockets(userID gid.ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open[userID]
}

// users returns the users with an open socket, sorted.
func (t *Tracker) users() []gid.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]gid.ID, 0, len(t.open))
	for id := range t.open {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// stampBatch bounds the IDs of one UPDATE.
const stampBatch = 500

// Stamp records now as the last time the users with an open socket in
// this process were seen.
func (t *Tracker) Stamp(ctx context.Context, client *ent.Client, now time.Time) error {
	return Seen(ctx, client, now, t.users()...)
}

// Seen records now as the last time the users were seen. It works across
// organizations, as the system.
func Seen(ctx context.Context, client *ent.Client, now time.Time, users ...gid.ID) error {
	sys := viewer.SystemContext(ctx, "")
	for len(users) > 0 {
		n := min(len(users), stampBatch)
		if err := client.User.Update().Where(user.IDIn(users[:n]...)).SetLastSeenAt(now).Exec(sys); err != nil {
			return fmt.Errorf("presence: stamping users as seen: %w", err)
		}
		users = users[n:]
	}
	return nil
}
