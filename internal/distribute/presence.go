package distribute

import (
	"context"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// expireBatch bounds how many stale users one ExpirePresence round takes;
// the next round takes the rest.
const expireBatch = 200

// SetPresence sets the signed-in user's presence (ONLINE, AWAY or OFFLINE)
// and stamps them as seen, appending a USER PRESENCE_CHANGED event when it
// changes. Coming ONLINE distributes the waiting conversations of the
// user's rules and departments, oldest first; going AWAY or OFFLINE hands
// the user's pending offers on, since only ONLINE agents get conversations.
func (e *Engine) SetPresence(ctx context.Context, status user.Presence) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	if !v.IsUser() {
		return nil, apierr.New(apierr.Forbidden, "presence belongs to users; API keys have none")
	}
	if err := user.PresenceValidator(status); err != nil {
		return nil, apierr.BadInput("status", "status must be ONLINE, AWAY or OFFLINE")
	}
	var out *ent.User
	err := e.inTx(ctx, v.OrgID, func(s *step) error {
		u, err := s.setPresence(v.UserID, status, true, nil)
		out = u
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// ExpirePresence makes OFFLINE the ONLINE and AWAY users of every
// organization not seen since cutoff: their last subscription socket, on
// whichever replica, closed longer ago than the grace period (see
// internal/presence). It returns how many it changed. Each user changes in
// a transaction of their own that checks again, under the user's row lock,
// that they are still stale, so replicas sweeping at once change each user
// once.
func (e *Engine) ExpirePresence(ctx context.Context, cutoff time.Time) (int, error) {
	stale := []predicate.User{
		user.PresenceNEQ(user.PresenceOFFLINE),
		user.Or(user.LastSeenAtIsNil(), user.LastSeenAtLT(cutoff)),
	}
	us, err := e.client.User.Query().Where(stale...).Limit(expireBatch).All(viewer.SystemContext(ctx, ""))
	if err != nil {
		return 0, fmt.Errorf("distribute: looking for stale presence: %w", err)
	}
	n := 0
	for _, u := range us {
		changed := false
		err := e.inTx(viewer.SystemContext(ctx, u.OrganizationID), u.OrganizationID, func(s *step) error {
			got, err := s.setPresence(u.ID, user.PresenceOFFLINE, false, stale)
			changed = got != nil && err == nil
			return err
		})
		if err != nil {
			return n, err
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// setPresence moves the user to status, stamping them as seen when seen
// says so. With cond, the user's row is changed only if it still matches
// cond under its lock; otherwise nothing happens and the user is nil.
func (s *step) setPresence(id gid.ID, status user.Presence, seen bool, cond []predicate.User) (*ent.User, error) {
	q := s.tx.User.Query().Where(user.ID(id)).Where(cond...).Unique(false)
	q.Modify(database.LockRows())
	u, err := q.Only(s.ctx)
	if ent.IsNotFound(err) && cond != nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	upd := s.tx.User.UpdateOneID(id)
	if seen {
		upd.SetLastSeenAt(s.now)
	}
	if u.Presence == status {
		if !seen {
			return u, nil
		}
		return upd.Save(s.ctx)
	}
	if u, err = upd.SetPresence(status).Save(s.ctx); err != nil {
		return nil, err
	}
	s.events = append(s.events, event.Entry{
		OrgID: s.org, Topic: event.TopicUser, Type: event.TypePresenceChanged, UserID: id,
	})
	if status == user.PresenceONLINE {
		return u, s.drainPoolsOf(id)
	}
	return u, s.withdrawOffersOf(id, nil)
}

// drainPoolsOf distributes the waiting conversations of every rule and
// department the user belongs to.
func (s *step) drainPoolsOf(userID gid.ID) error {
	rules, err := s.tx.Rule.Query().Where(rule.HasMembersWith(member.UserID(userID))).Order(rule.ByID()).IDs(s.ctx)
	if err != nil {
		return err
	}
	for _, id := range rules {
		p, err := s.rulePool(id)
		if err != nil {
			return err
		}
		if err := s.drainWaiting(p); err != nil {
			return err
		}
	}
	deps, err := s.tx.Department.Query().Where(department.HasMembersWith(member.UserID(userID))).Order(department.ByID()).IDs(s.ctx)
	if err != nil {
		return err
	}
	for _, id := range deps {
		p, err := s.departmentPool(id)
		if err != nil {
			return err
		}
		if err := s.drainWaiting(p); err != nil {
			return err
		}
	}
	return nil
}

// drainWaiting distributes p's waiting conversations again, oldest first,
// while it has ONLINE agents. Self-claimed pools are left alone: their
// waiting conversations are there to be claimed.
func (s *step) drainWaiting(p *pool) error {
	if p.method == schematype.SelfClaim || len(p.online()) == 0 {
		return nil
	}
	ids, err := s.tx.Conversation.Query().
		Where(
			p.conversations(),
			conversation.DistributionStateEQ(conversation.DistributionStateWAITING),
			conversation.StatusNEQ(conversation.StatusRESOLVED),
		).
		Order(conversation.ByCreatedAt(), conversation.ByID()).
		IDs(s.ctx)
	if err != nil {
		return fmt.Errorf("distribute: loading waiting conversations: %w", err)
	}
	for _, id := range ids {
		c, err := s.lockConversation(id)
		if err != nil {
			return err
		}
		if c.DistributionState != conversation.DistributionStateWAITING || c.AssigneeID != nil {
			continue // taken meanwhile
		}
		if c, err = s.route(c, p, false); err != nil {
			return err
		}
		if c.DistributionState == conversation.DistributionStateWAITING {
			return nil // nobody left to take the rest
		}
	}
	return nil
}

// withdrawOffersOf hands on the user's pending offers (of the pool's
// conversations only, when within is given): the user and the admins hear
// that each offer ended, and each conversation moves on.
func (s *step) withdrawOffersOf(userID gid.ID, within predicate.Conversation) error {
	q := s.tx.Offer.Query().Where(offer.UserID(userID), offer.StatusEQ(offer.StatusPENDING))
	if within != nil {
		q.Where(offer.HasConversationWith(within))
	}
	os, err := q.Order(offer.ByConversationID()).All(s.ctx)
	if err != nil {
		return fmt.Errorf("distribute: loading offers: %w", err)
	}
	for _, o := range os {
		c, err := s.lockConversation(o.ConversationID)
		if err != nil {
			return err
		}
		if c.DistributionState != conversation.DistributionStateOFFERED {
			continue
		}
		if _, err := s.endOffer(c, userID, offer.StatusWITHDRAWN, event.TypeOfferExpired, true); err != nil {
			return err
		}
	}
	return nil
}
