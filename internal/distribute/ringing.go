package distribute

import (
	"context"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/gid"
)

// Ringers returns the users a call from conversation c rings, as its
// distribution would offer the conversation (README.md, "Call minutes and
// LiveTalk calls"): its assignee when it has one; else the agents with a
// pending offer of it; else the online agents of its rule or department;
// else the online users who answer its channel's new conversations
// (Answerers). Only active users are rung, and only online ones unless the
// conversation is theirs or offered to them. The result is in a stable
// order and may be empty.
func Ringers(ctx context.Context, tx *ent.Tx, c *ent.Conversation, ch *ent.Channel) ([]*ent.User, error) {
	active := user.Active(true)
	if c.AssigneeID != nil {
		return tx.User.Query().Where(user.ID(*c.AssigneeID), active).All(ctx)
	}
	offered, err := tx.Offer.Query().
		Where(offer.ConversationID(c.ID), offer.StatusEQ(offer.StatusPENDING)).
		Order(offer.ByUserID()).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("distribute: loading offers: %w", err)
	}
	if len(offered) > 0 {
		ids := make([]gid.ID, len(offered))
		for i, o := range offered {
			ids[i] = o.UserID
		}
		return tx.User.Query().Where(user.IDIn(ids...), active).Order(user.ByID()).All(ctx)
	}
	s := &step{ctx: ctx, tx: tx}
	p, err := s.poolOf(c)
	if err != nil {
		return nil, err
	}
	if p != nil {
		var out []*ent.User
		for _, m := range p.online() {
			out = append(out, m.Edges.User)
		}
		return out, nil
	}
	who, err := Answerers(ctx, tx, ch)
	if err != nil {
		return nil, err
	}
	return tx.User.Query().
		Where(who, active, user.PresenceEQ(user.PresenceONLINE)).
		Order(user.ByID()).
		All(ctx)
}
