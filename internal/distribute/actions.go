package distribute

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// action names what an agent tried, for the error that explains a refusal.
type action int

const (
	claiming action = iota
	accepting
	declining
)

// ClaimConversation gives the viewer an unclaimed or waiting conversation
// of a rule or department they belong to (admins may claim any). The claim
// is one conditional UPDATE: the first wins, and every later claim finds
// the conversation taken and gets CONFLICT. The other agents of the pool,
// who saw the conversation as unclaimed, get a CLAIMED event addressed to
// them.
func (e *Engine) ClaimConversation(ctx context.Context, id gid.ID) (*ent.Conversation, error) {
	return e.act(ctx, id, claiming, func(s *step, v *viewer.Viewer) (*ent.Conversation, error) {
		where := []predicate.Conversation{
			conversation.ID(id),
			conversation.AssigneeIDIsNil(),
			conversation.DistributionStateIn(conversation.DistributionStateUNCLAIMED, conversation.DistributionStateWAITING),
			conversation.StatusNEQ(conversation.StatusRESOLVED),
		}
		if !v.IsAdmin() {
			where = append(where, inPoolOf(v.UserID))
		}
		n, err := s.tx.Conversation.Update().Where(where...).
			SetAssigneeID(v.UserID).
			SetDistributionState(conversation.DistributionStateASSIGNED).
			ClearOfferExpiresAt().
			AddOfferSeq(1).
			Save(s.ctx)
		if err != nil || n == 0 {
			return nil, err
		}
		c, err := s.tx.Conversation.Get(s.ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.taken(c, v.UserID, event.TypeClaimed, nil); err != nil {
			return nil, err
		}
		// The pool's other agents saw it unclaimed or waiting.
		p, err := s.poolOf(c)
		if err != nil || p == nil {
			return c, err
		}
		return c, s.tell(event.TypeClaimed, c, p.userIDs()...)
	})
}

// AcceptConversationOffer gives the viewer a conversation offered to them.
// Under BROADCAST the first accept wins and the other offered agents get
// CONFLICT (and an ASSIGNED event addressed to them); an offer that is no
// longer the viewer's is FAILED_PRECONDITION with reason OFFER_NOT_YOURS.
func (e *Engine) AcceptConversationOffer(ctx context.Context, id gid.ID) (*ent.Conversation, error) {
	return e.act(ctx, id, accepting, func(s *step, v *viewer.Viewer) (*ent.Conversation, error) {
		n, err := s.tx.Conversation.Update().
			Where(
				conversation.ID(id),
				conversation.DistributionStateEQ(conversation.DistributionStateOFFERED),
				conversation.StatusNEQ(conversation.StatusRESOLVED),
				pendingFor(v.UserID),
			).
			SetAssigneeID(v.UserID).
			SetDistributionState(conversation.DistributionStateASSIGNED).
			ClearOfferExpiresAt().
			AddOfferSeq(1).
			Save(s.ctx)
		if err != nil || n == 0 {
			return nil, err
		}
		c, err := s.tx.Conversation.Get(s.ctx, id)
		if err != nil {
			return nil, err
		}
		return c, s.taken(c, v.UserID, event.TypeAssigned, nil)
	})
}

// DeclineConversationOffer ends the viewer's offer of a conversation; when
// nobody else's offer is pending (always, but for BROADCAST) it moves on
// at once.
func (e *Engine) DeclineConversationOffer(ctx context.Context, id gid.ID) (*ent.Conversation, error) {
	return e.act(ctx, id, declining, func(s *step, v *viewer.Viewer) (*ent.Conversation, error) {
		// The conditional UPDATE takes the conversation's row lock, so a
		// decline, an accept and the offer's timeout never interleave.
		n, err := s.tx.Conversation.Update().
			Where(
				conversation.ID(id),
				conversation.DistributionStateEQ(conversation.DistributionStateOFFERED),
				pendingFor(v.UserID),
			).
			SetUpdatedAt(s.now).
			Save(s.ctx)
		if err != nil || n == 0 {
			return nil, err
		}
		c, err := s.tx.Conversation.Get(s.ctx, id)
		if err != nil {
			return nil, err
		}
		return s.endOffer(c, v.UserID, offer.StatusDECLINED, event.TypeOfferDeclined, false)
	})
}

// pendingFor selects conversations with a PENDING offer to the user.
func pendingFor(userID gid.ID) predicate.Conversation {
	return conversation.HasOffersWith(offer.UserID(userID), offer.StatusEQ(offer.StatusPENDING))
}

// inPoolOf selects conversations distributed by a rule or a department the
// user belongs to.
func inPoolOf(userID gid.ID) predicate.Conversation {
	return conversation.Or(
		conversation.HasRuleWith(rule.HasMembersWith(member.UserID(userID))),
		conversation.HasDepartmentWith(department.HasMembersWith(member.UserID(userID))),
	)
}

// act runs an agent's claim, accept or decline in a transaction. write
// makes the conditional UPDATE and carries on; it returns nil, nil when
// the UPDATE changed nothing, and act then explains why the caller lost.
func (e *Engine) act(ctx context.Context, id gid.ID, a action, write func(*step, *viewer.Viewer) (*ent.Conversation, error)) (*ent.Conversation, error) {
	v := viewer.FromContext(ctx)
	if !v.IsUser() {
		return nil, apierr.New(apierr.Forbidden, "only users take conversations; API keys cannot")
	}
	var out *ent.Conversation
	err := e.inTx(ctx, v.OrgID, func(s *step) error {
		if err := s.holdOfferTimer(id); err != nil {
			return err
		}
		c, err := write(s, v)
		if err != nil {
			return err
		}
		if c == nil {
			c, err = s.refusal(id, v, a)
		}
		out = c
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// refusal explains why the viewer's conditional write changed nothing. A
// conversation the viewer has nothing to do with is NOT_FOUND, as one that
// does not exist; a conversation the viewer already took is returned as is,
// so a retried claim or accept succeeds.
func (s *step) refusal(id gid.ID, v *viewer.Viewer, a action) (*ent.Conversation, error) {
	c, err := s.tx.Conversation.Query().Where(conversation.ID(id)).WithChannel().Only(s.ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "conversation not found")
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.involved(c, v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.New(apierr.NotFound, "conversation not found")
	}
	mine := c.AssigneeID != nil && *c.AssigneeID == v.UserID
	switch {
	case mine && a == declining:
		return nil, apierr.Precondition(ReasonAlreadyAccepted, "you have already taken this conversation")
	case mine:
		return c, nil
	case c.AssigneeID != nil:
		return nil, &apierr.Error{Code: apierr.Conflict, Reason: ReasonAlreadyTaken,
			Message: "another agent has already taken this conversation"}
	case a == claiming:
		return nil, apierr.Precondition(ReasonNotClaimable, "this conversation is not waiting to be claimed")
	}
	return nil, apierr.Precondition(ReasonOfferNotYours,
		"this conversation is not offered to you: the offer expired, was declined or was withdrawn")
}

// involved reports whether the viewer may learn why they cannot take c: it
// is not another user's ONLY_ME conversation, and the viewer is an admin,
// was offered c, belongs to its pool, or c is open to every member.
func (s *step) involved(c *ent.Conversation, v *viewer.Viewer) (bool, error) {
	if ch := c.Edges.Channel; ch.ChatPermission == channel.ChatPermissionONLY_ME {
		return ch.ConnectedByID == v.UserID, nil
	}
	if v.IsAdmin() || (c.RuleID == nil && c.DepartmentID == nil) {
		return true, nil
	}
	offered, err := s.tx.Offer.Query().Where(offer.ConversationID(c.ID), offer.UserID(v.UserID)).Exist(s.ctx)
	if err != nil || offered {
		return offered, err
	}
	return s.tx.Conversation.Query().Where(conversation.ID(c.ID), inPoolOf(v.UserID)).Exist(s.ctx)
}

// AssignConversation gives a conversation to an active user of the
// organization, or to nobody when userID is nil, appending CONVERSATION
// ASSIGNED. Only OWNERs and ADMINs assign. Pending offers are withdrawn; a
// conversation unassigned in a rule or department waits there.
func (e *Engine) AssignConversation(ctx context.Context, id gid.ID, userID *gid.ID) (*ent.Conversation, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can assign conversations")
	}
	var assignee *ent.User
	if userID != nil {
		u, err := e.client.User.Query().Where(user.ID(*userID)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, apierr.New(apierr.NotFound, "user not found")
		}
		if err != nil {
			return nil, err
		}
		if !u.Active {
			return nil, apierr.BadInput("userId", "the user is deactivated")
		}
		assignee = u
	}
	var out *ent.Conversation
	err := e.inTx(ctx, v.OrgID, func(s *step) error {
		// Loaded as the viewer, so a conversation they may not see is not
		// found; the row lock makes "does it change" and the update one
		// step.
		if err := s.holdOfferTimer(id); err != nil {
			return err
		}
		q := s.tx.Conversation.Query().Where(conversation.ID(id)).WithChannel().Unique(false)
		q.Modify(database.LockRows())
		c, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "conversation not found")
		}
		if err != nil {
			return err
		}
		ch := c.Edges.Channel
		if assignee != nil && ch.ChatPermission == channel.ChatPermissionONLY_ME && ch.ConnectedByID != assignee.ID {
			return apierr.Precondition(ReasonOnlyMeChannel,
				"this conversation's channel is ONLY_ME: only the user who connected it may have it")
		}
		out = c
		prev := c.AssigneeID
		switch {
		case assignee == nil && prev == nil, assignee != nil && prev != nil && *prev == assignee.ID:
			return nil // nothing changes, nothing is announced
		case assignee != nil:
			c, err = s.tx.Conversation.UpdateOneID(id).
				SetAssigneeID(assignee.ID).
				SetDistributionState(conversation.DistributionStateASSIGNED).
				ClearOfferExpiresAt().
				AddOfferSeq(1).
				Save(s.ctx)
			if err != nil {
				return err
			}
			out = c
			return s.taken(c, assignee.ID, event.TypeAssigned, prev)
		}
		// Unassigned: back to waiting in its pool, or open to everyone.
		state := conversation.DistributionStateNONE
		if c.RuleID != nil || c.DepartmentID != nil {
			state = conversation.DistributionStateWAITING
		}
		if c, err = s.tx.Conversation.UpdateOneID(id).
			ClearAssigneeID().
			SetDistributionState(state).
			AddOfferSeq(1).
			Save(s.ctx); err != nil {
			return err
		}
		out = c
		s.emit(event.TypeAssigned, c, "")
		return s.tell(event.TypeAssigned, c, *prev)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}
