package activity

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/apikey"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

// newestFirst orders the log by time, newest first, with the ID breaking
// ties between entries of the same instant.
var newestFirst = &ent.ActivityOrder{Direction: entgql.OrderDirectionDesc, Field: ent.ActivityOrderFieldCreatedAt}

// Log returns a page of the viewer's organization's activity log, newest
// first, filtered by where. Only OWNERs and ADMINs may read it (the
// Activity policy refuses others with FORBIDDEN). A channel, user or API
// key that where names and the viewer cannot see (another organization's)
// is NOT_FOUND, as everywhere else an ID is taken, rather than an empty
// page.
func Log(ctx context.Context, client *ent.Client, after *entgql.Cursor[gid.ID], first *int, before *entgql.Cursor[gid.ID], last *int, where *ent.ActivityWhereInput) (*ent.ActivityConnection, error) {
	if err := checkNamed(ctx, client, where); err != nil {
		return nil, err
	}
	return client.Activity.Query().
		Paginate(ctx, after, first, before, last,
			ent.WithActivityOrder(newestFirst),
			ent.WithActivityFilter(where.Filter))
}

// checkNamed looks up the channels, users and API keys where filters by
// equality, with the viewer's rights.
func checkNamed(ctx context.Context, client *ent.Client, where *ent.ActivityWhereInput) error {
	if where == nil {
		return nil
	}
	var channels, users, keys []gid.ID
	var walk func(w *ent.ActivityWhereInput)
	walk = func(w *ent.ActivityWhereInput) {
		if w == nil {
			return
		}
		channels = append(append(channels, w.ChannelIDIn...), deref(w.ChannelID)...)
		users = append(append(users, w.ActorIDIn...), deref(w.ActorID)...)
		keys = append(append(keys, w.APIKeyIDIn...), deref(w.APIKeyID)...)
		walk(w.Not)
		for _, x := range w.And {
			walk(x)
		}
		for _, x := range w.Or {
			walk(x)
		}
	}
	walk(where)
	for _, c := range []struct {
		noun  string
		ids   []gid.ID
		count func([]gid.ID) (int, error)
	}{
		{"channel", channels, func(ids []gid.ID) (int, error) {
			return client.Channel.Query().Where(channel.IDIn(ids...)).Count(ctx)
		}},
		{"user", users, func(ids []gid.ID) (int, error) { return client.User.Query().Where(user.IDIn(ids...)).Count(ctx) }},
		{"API key", keys, func(ids []gid.ID) (int, error) {
			return client.APIKey.Query().Where(apikey.IDIn(ids...)).Count(ctx)
		}},
	} {
		ids := uniq(c.ids)
		if len(ids) == 0 {
			continue
		}
		n, err := c.count(ids)
		if err != nil {
			return err
		}
		if n != len(ids) {
			return apierr.New(apierr.NotFound, "%s not found", c.noun)
		}
	}
	return nil
}

func deref(id *gid.ID) []gid.ID {
	if id == nil {
		return nil
	}
	return []gid.ID{*id}
}

func uniq(ids []gid.ID) []gid.ID {
	seen := make(map[gid.ID]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
