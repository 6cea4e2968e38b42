package inbox

import (
	"context"
	"sync"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/gid"
)

// maxCachedChannels bounds a channelCache; a deployment has far fewer
// channels, so the bound only matters if something goes wrong.
const maxCachedChannels = 1000

// channelCache keeps the channels webhook events were processed for, so
// that the next event of a channel does not read it again. An entry is
// used only while the channel's version (its updated_at, which every
// change through ent moves) is the one the event's own statement read, in
// the event's transaction: a channel changed since is read anew, so
// processing sees it as fresh as when it read the channel every time.
type channelCache struct {
	mu sync.Mutex
	m  map[gid.ID]cachedChannel
}

type cachedChannel struct {
	version string
	ch      *ent.Channel
}

// get returns the channel id of the organization of ctx's viewer at the
// given version, read in tx unless the cache has it, or nil when the
// organization has no such channel.
func (c *channelCache) get(ctx context.Context, tx *ent.Tx, orgID, id gid.ID, version string) (*ent.Channel, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.version == version && e.ch.OrganizationID == orgID {
		return e.ch, nil
	}
	// Under the tenant filter of orgID: another organization's channel is
	// not found.
	ch, err := tx.Channel.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Only the fields are used; the entity outlives tx.
	keep := *ch
	keep.Edges = ent.ChannelEdges{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedChannels {
		c.m = map[gid.ID]cachedChannel{}
	}
	c.m[id] = cachedChannel{version: version, ch: &keep}
	return &keep, nil
}
