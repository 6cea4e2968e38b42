package distribute

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

// RouteChoice distributes a conversation a LiveTalk visitor has just
// opened, in its transaction, as the visitor chose in the widget: to
// agentID, who is assigned it at once, or by departmentID's department
// (its method and agents); with neither it is Route. The caller checked
// that the agent or department is one the widget offers. It returns the
// events to append after the conversation's CREATED event.
func (e *Engine) RouteChoice(ctx context.Context, tx *ent.Tx, c *ent.Conversation, ch *ent.Channel, departmentID, agentID gid.ID) ([]event.Entry, error) {
	if ch.ChatPermission != channel.ChatPermissionSHARED || (departmentID == "" && agentID == "") {
		return e.Route(ctx, tx, c, ch)
	}
	s := e.newStep(ctx, tx, c.OrganizationID)
	if agentID != "" {
		c, err := tx.Conversation.UpdateOneID(c.ID).
			SetAssigneeID(agentID).
			SetDistributionState(conversation.DistributionStateASSIGNED).
			ClearOfferExpiresAt().AddOfferSeq(1).
			Save(ctx)
		if err != nil {
			return nil, err
		}
		s.emit(event.TypeAssigned, c, "")
		return s.events, nil
	}
	p, err := s.departmentPool(departmentID)
	if err != nil {
		return nil, err
	}
	if _, err := s.route(c, p, true); err != nil {
		return nil, err
	}
	return s.events, nil
}
