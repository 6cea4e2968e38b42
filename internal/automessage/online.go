package automessage

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/distribute"
)

// agentsOnline reports whether someone who answers ch's conversations is
// online: the user who connected an ONLY_ME channel, or for a SHARED one the
// agents of its rule or of the default department (everyone when neither
// distributes it), as distribution decides.
func agentsOnline(ctx context.Context, tx *ent.Tx, ch *ent.Channel) (bool, error) {
	answerers, err := distribute.Answerers(ctx, tx, ch)
	if err != nil {
		return false, err
	}
	return tx.User.Query().Where(
		answerers,
		user.OrganizationID(ch.OrganizationID),
		user.Active(true),
		user.PresenceEQ(user.PresenceONLINE),
	).Exist(ctx)
}
