package automessage

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/user"
)

// agentsOnline reports whether someone who answers ch's conversations is
// online: for an ONLY_ME channel the user who connected it, for a SHARED
// one any active user of the organization with presence ONLINE. It is the
// one place that decides who answers a channel, so that distribution rules
// can name a SHARED channel's agents here.
func agentsOnline(ctx context.Context, tx *ent.Tx, ch *ent.Channel) (bool, error) {
	q := tx.User.Query().Where(
		user.OrganizationID(ch.OrganizationID),
		user.Active(true),
		user.PresenceEQ(user.PresenceONLINE),
	)
	if ch.ChatPermission == channel.ChatPermissionONLY_ME {
		if ch.ConnectedByID == "" {
			return false, nil
		}
		q.Where(user.ID(ch.ConnectedByID))
	}
	return q.Exist(ctx)
}
