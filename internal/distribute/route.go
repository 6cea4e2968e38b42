package distribute

import (
	"context"
	"fmt"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Route distributes a conversation an inbound message has just opened, in
// the transaction that created it, and returns the events to append after
// the conversation's CREATED event. Conversations of ONLY_ME channels, and
// of SHARED channels with neither a rule nor a default department, are not
// distributed: they stay open as before.
func (e *Engine) Route(ctx context.Context, tx *ent.Tx, c *ent.Conversation, ch *ent.Channel) ([]event.Entry, error) {
	if ch.ChatPermission != channel.ChatPermissionSHARED {
		return nil, nil
	}
	s := e.newStep(ctx, tx, c.OrganizationID)
	p, err := s.channelPool(ch)
	if err != nil || p == nil {
		return nil, err
	}
	if _, err := s.route(c, p, true); err != nil {
		return nil, err
	}
	return s.events, nil
}

// route starts a new round of distribution of c by p: earlier offers are
// forgotten (pending ones withdrawn), any assignee is removed, and p's
// method decides. fresh says c was just created, so its CREATED event
// already tells everyone who may see it.
func (s *step) route(c *ent.Conversation, p *pool, fresh bool) (*ent.Conversation, error) {
	prev := c.AssigneeID
	if !fresh { // a new conversation has no offers to forget
		if err := s.newRound(c); err != nil {
			return nil, err
		}
	}
	// offer_expires_at is left to each method: ent cannot both clear and
	// set a column in one update.
	upd := s.tx.Conversation.UpdateOneID(c.ID).ClearAssigneeID()
	if p.ruleID != "" {
		upd.SetRuleID(p.ruleID).ClearDepartmentID()
	} else {
		upd.SetDepartmentID(p.departmentID).ClearRuleID()
	}
	var err error
	switch p.method {
	case schematype.RoundRobin:
		var u *ent.User
		if u, err = s.nextInTurn(p); err != nil {
			return nil, err
		}
		if u == nil {
			c, err = s.wait(c, upd)
			break
		}
		c, err = upd.SetAssigneeID(u.ID).SetDistributionState(conversation.DistributionStateASSIGNED).
			ClearOfferExpiresAt().AddOfferSeq(1).Save(s.ctx)
		if err == nil {
			s.emit(event.TypeAssigned, c, "")
		}
	case schematype.SelfClaim:
		c, err = upd.SetDistributionState(conversation.DistributionStateUNCLAIMED).
			ClearOfferExpiresAt().AddOfferSeq(1).Save(s.ctx)
		if err == nil && !fresh {
			s.emit(event.TypeUpdated, c, "")
		}
	default:
		c, err = s.offer(c, p, upd)
	}
	if err != nil {
		return nil, fmt.Errorf("distribute: routing conversation: %w", err)
	}
	if prev != nil && (c.AssigneeID == nil || *c.AssigneeID != *prev) {
		if err := s.tell(event.TypeAssigned, c, *prev); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newRound forgets c's offers: the agents of pending ones hear that their
// offer ended, and the offer timer is cancelled.
func (s *step) newRound(c *ent.Conversation) error {
	pending, err := s.pendingOffers(c.ID)
	if err != nil {
		return err
	}
	for _, o := range pending {
		s.emit(event.TypeOfferExpired, c, o.UserID)
	}
	if _, err := s.tx.Offer.Delete().Where(offer.ConversationID(c.ID)).Exec(s.ctx); err != nil {
		return fmt.Errorf("distribute: forgetting offers: %w", err)
	}
	return timer.Cancel(s.ctx, s.tx, s.org, TimerOffer, string(c.ID))
}

// pendingOffers returns c's PENDING offers.
func (s *step) pendingOffers(id gid.ID) ([]*ent.Offer, error) {
	os, err := s.tx.Offer.Query().
		Where(offer.ConversationID(id), offer.StatusEQ(offer.StatusPENDING)).
		Order(offer.ByUserID()).
		All(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("distribute: loading offers: %w", err)
	}
	return os, nil
}

// offer offers c to the next ONLINE agents of p who were not tried in this
// round: the first in list order (SEQUENTIAL), a random one (RANDOM), or
// all of them if nobody was tried yet (BROADCAST, which offers once per
// round). With nobody to offer to, c waits. upd, when not nil, carries
// changes the caller is making to c.
func (s *step) offer(c *ent.Conversation, p *pool, upd *ent.ConversationUpdateOne) (*ent.Conversation, error) {
	if upd == nil {
		upd = s.tx.Conversation.UpdateOneID(c.ID)
	}
	tried, err := s.tx.Offer.Query().Where(offer.ConversationID(c.ID)).All(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("distribute: loading offers: %w", err)
	}
	var candidates []gid.ID
	for _, m := range p.online() {
		if !triedBy(tried, m.UserID) {
			candidates = append(candidates, m.UserID)
		}
	}
	var picks []gid.ID
	switch {
	case len(candidates) == 0:
	case p.method == schematype.Sequential:
		picks = candidates[:1]
	case p.method == schematype.Random:
		picks = []gid.ID{candidates[s.e.intn(len(candidates))]}
	case p.method == schematype.Broadcast && len(tried) == 0:
		picks = candidates
	}
	if len(picks) == 0 {
		if err := timer.Cancel(s.ctx, s.tx, s.org, TimerOffer, string(c.ID)); err != nil {
			return nil, err
		}
		return s.wait(c, upd)
	}
	offers := make([]*ent.OfferCreate, len(picks))
	for i, u := range picks {
		offers[i] = s.tx.Offer.Create().SetOrganizationID(s.org).SetConversationID(c.ID).SetUserID(u)
	}
	if err := s.tx.Offer.CreateBulk(offers...).Exec(s.ctx); err != nil {
		return nil, fmt.Errorf("distribute: offering: %w", err)
	}
	due := s.now.Add(p.timeout)
	c, err = upd.ClearAssigneeID().
		SetDistributionState(conversation.DistributionStateOFFERED).
		SetOfferExpiresAt(due).
		AddOfferSeq(1).
		Save(s.ctx)
	if err != nil {
		return nil, err
	}
	// The timer carries the step it ends: any later step (an accept, a
	// decline that moved on) makes it a no-op.
	if err := timer.Schedule(s.ctx, s.tx, timer.Spec{
		OrgID: s.org, Kind: TimerOffer, Key: string(c.ID), Due: due,
		Payload: map[string]any{"seq": c.OfferSeq},
	}); err != nil {
		return nil, err
	}
	// Watchers of every conversation hear of the offer once; each agent
	// offered it hears of it in a copy addressed to them (see the event
	// package's reader), so that a late read never tells an agent of
	// someone else's offer.
	s.emit(event.TypeOffered, c, "")
	for _, u := range picks {
		s.emit(event.TypeOffered, c, u)
	}
	return c, nil
}

func triedBy(offers []*ent.Offer, userID gid.ID) bool {
	return slices.ContainsFunc(offers, func(o *ent.Offer) bool { return o.UserID == userID })
}

// wait leaves c unassigned and WAITING: its pool's agents see it and may
// claim it, admins are told, and it is distributed again when an agent of
// the pool comes ONLINE.
func (s *step) wait(c *ent.Conversation, upd *ent.ConversationUpdateOne) (*ent.Conversation, error) {
	if upd == nil {
		upd = s.tx.Conversation.UpdateOneID(c.ID)
	}
	c, err := upd.ClearAssigneeID().
		SetDistributionState(conversation.DistributionStateWAITING).
		ClearOfferExpiresAt().
		AddOfferSeq(1).
		Save(s.ctx)
	if err != nil {
		return nil, err
	}
	s.emit(event.TypeWaiting, c, "")
	return c, nil
}

// next moves c on after its last pending offer ended unanswered: to the
// next agent, or to waiting. A conversation resolved meanwhile, or whose
// pool now assigns instead of offering, is handled accordingly.
func (s *step) next(c *ent.Conversation) (*ent.Conversation, error) {
	p, err := s.poolOf(c)
	switch {
	case err != nil:
		return nil, err
	case p == nil:
		return s.tx.Conversation.UpdateOneID(c.ID).
			SetDistributionState(conversation.DistributionStateNONE).
			ClearOfferExpiresAt().
			AddOfferSeq(1).
			Save(s.ctx)
	case c.Status == conversation.StatusRESOLVED:
		return s.wait(c, nil)
	case !p.method.Offers():
		return s.route(c, p, false)
	}
	return s.offer(c, p, nil)
}

// expireOffers is the handler of offer timers: the offers still pending
// expire, their agents and the admins hear of it, and the conversation
// moves on. A timer that some later step superseded does nothing.
func (e *Engine) expireOffers(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	seq, _ := t.Payload["seq"].(float64)
	s := e.newStep(ctx, tx, t.OrganizationID)
	c, err := s.lockConversation(gid.ID(t.Key))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.DistributionState != conversation.DistributionStateOFFERED || float64(c.OfferSeq) != seq {
		return nil
	}
	pending, err := s.pendingOffers(c.ID)
	if err != nil {
		return err
	}
	if _, err := s.tx.Offer.Update().
		Where(offer.ConversationID(c.ID), offer.StatusEQ(offer.StatusPENDING)).
		SetStatus(offer.StatusEXPIRED).
		Save(s.ctx); err != nil {
		return err
	}
	agents := make([]gid.ID, len(pending))
	for i, o := range pending {
		agents[i] = o.UserID
		s.emit(event.TypeOfferExpired, c, o.UserID)
	}
	if err := s.emitToAdmins(event.TypeOfferExpired, c, agents...); err != nil {
		return err
	}
	if _, err := s.next(c); err != nil {
		return err
	}
	return s.flush()
}

// endOffer ends u's pending offer of c with status (DECLINED, or WITHDRAWN
// when u went away or left the pool) and tells u with an event of type typ
// (and the admins too when toAdmins). When no other offer is pending, c
// moves on.
func (s *step) endOffer(c *ent.Conversation, u gid.ID, status offer.Status, typ string, toAdmins bool) (*ent.Conversation, error) {
	n, err := s.tx.Offer.Update().
		Where(offer.ConversationID(c.ID), offer.UserID(u), offer.StatusEQ(offer.StatusPENDING)).
		SetStatus(status).
		Save(s.ctx)
	if err != nil || n == 0 {
		return c, err
	}
	s.emit(typ, c, u)
	if toAdmins {
		if err := s.emitToAdmins(typ, c, u); err != nil {
			return nil, err
		}
	}
	left, err := s.tx.Offer.Query().
		Where(offer.ConversationID(c.ID), offer.StatusEQ(offer.StatusPENDING)).
		Exist(s.ctx)
	if err != nil || left {
		return c, err
	}
	return s.next(c)
}

// taken finishes c's being taken by u (an accept, a claim, an admin's
// assignment; c is already saved with u as assignee): u's pending offer is
// ACCEPTED, the others are WITHDRAWN, the offer timer is cancelled, and an
// event of type typ goes to whoever may now see c, and to each agent who
// loses sight of it: the other offered agents and the previous assignee.
func (s *step) taken(c *ent.Conversation, u gid.ID, typ string, prev *gid.ID) error {
	pending, err := s.pendingOffers(c.ID)
	if err != nil {
		return err
	}
	losers := []gid.ID{}
	for _, o := range pending {
		status := offer.StatusWITHDRAWN
		if o.UserID == u {
			status = offer.StatusACCEPTED
		} else {
			losers = append(losers, o.UserID)
		}
		if err := s.tx.Offer.UpdateOne(o).SetStatus(status).Exec(s.ctx); err != nil {
			return err
		}
	}
	if prev != nil && *prev != u {
		losers = append(losers, *prev)
	}
	if err := timer.Cancel(s.ctx, s.tx, s.org, TimerOffer, string(c.ID)); err != nil {
		return err
	}
	s.emit(typ, c, "")
	return s.tell(typ, c, losers...)
}

// tell queues an event of type typ about c addressed to each of the users
// who can no longer see c (as of this transaction): they would miss the
// plain event of the same type, which reaches the others. Whether a user
// sees c is asked of the Conversation policy, as that user.
func (s *step) tell(typ string, c *ent.Conversation, users ...gid.ID) error {
	if len(users) == 0 {
		return nil
	}
	us, err := s.tx.User.Query().Where(user.IDIn(users...)).Order(user.ByID()).All(s.ctx)
	if err != nil {
		return fmt.Errorf("distribute: loading users: %w", err)
	}
	for _, u := range us {
		as := viewer.NewContext(s.ctx, &viewer.Viewer{OrgID: s.org, UserID: u.ID, Role: u.Role})
		sees, err := s.tx.Conversation.Query().Where(conversation.ID(c.ID)).Exist(as)
		if err != nil {
			return fmt.Errorf("distribute: checking who sees a conversation: %w", err)
		}
		if !sees {
			s.emit(typ, c, u.ID)
		}
	}
	return nil
}
