package distribute

// What rules and departments share: checking their input, their agent
// lists, and what happens to conversations when the lists change.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Limits of the configuration.
const (
	// DefaultOfferTimeout is the offer timeout, in seconds, of a rule or
	// department created without one.
	DefaultOfferTimeout = 30
	// MinOfferTimeout and MaxOfferTimeout bound offerTimeoutSeconds.
	MinOfferTimeout = 5
	MaxOfferTimeout = 3600
	// maxName is the longest name, in characters.
	maxName = 200
)

// admin returns the viewer when they may configure distribution: an OWNER
// or an ADMIN.
func admin(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can configure distribution")
	}
	return v, nil
}

// checkName returns the trimmed name, or a BAD_USER_INPUT error.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", apierr.BadInput("name", "name is required")
	case utf8.RuneCountInString(name) > maxName:
		return "", apierr.BadInput("name", "name is longer than %d characters", maxName)
	}
	return name, nil
}

// checkTimeout checks an offer timeout, when given.
func checkTimeout(seconds *int) error {
	if seconds != nil && (*seconds < MinOfferTimeout || *seconds > MaxOfferTimeout) {
		return apierr.BadInput("offerTimeoutSeconds", "offerTimeoutSeconds must be between %d and %d", MinOfferTimeout, MaxOfferTimeout)
	}
	return nil
}

// checkMethod checks a method, when given, against those allowed.
func checkMethod(m *schematype.DistributionMethod, allowed ...schematype.DistributionMethod) error {
	if m != nil && !slices.Contains(allowed, *m) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return apierr.BadInput("method", "method must be one of %s", strings.Join(names, ", "))
	}
	return nil
}

// checkIDs refuses an empty list (when required) and duplicates.
func checkIDs(field string, ids []gid.ID, what string) error {
	if len(ids) == 0 {
		return apierr.BadInput(field, "at least one %s is required", what)
	}
	seen := make(map[gid.ID]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return apierr.BadInput(field, "%s %s is listed twice", what, id)
		}
		seen[id] = true
	}
	return nil
}

// loadAgents returns the users of the IDs, in the order given, as the
// viewer sees them: another organization's user is NOT_FOUND, a
// deactivated one BAD_USER_INPUT.
func loadAgents(ctx context.Context, tx *ent.Tx, ids []gid.ID) ([]*ent.User, error) {
	if err := checkIDs("agentIds", ids, "agent"); err != nil {
		return nil, err
	}
	us, err := tx.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	return inOrder(ids, us, func(u *ent.User) gid.ID { return u.ID }, "user", func(u *ent.User) error {
		if !u.Active {
			return apierr.BadInput("agentIds", "user %s is deactivated", u.ID)
		}
		return nil
	})
}

// loadChannels returns the channels of the IDs, in the order given, as the
// viewer sees them: another organization's channel is NOT_FOUND.
func loadChannels(ctx context.Context, tx *ent.Tx, ids []gid.ID) ([]*ent.Channel, error) {
	if err := checkIDs("channelIds", ids, "channel"); err != nil {
		return nil, err
	}
	chs, err := tx.Channel.Query().Where(channel.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	return inOrder(ids, chs, func(ch *ent.Channel) gid.ID { return ch.ID }, "channel", nil)
}

// inOrder returns rows in the order of ids, checking each in that order:
// an ID with no row (another organization's, or none at all) is NOT_FOUND,
// named as noun, and check (if not nil) may refuse a row.
func inOrder[T any](ids []gid.ID, rows []T, idOf func(T) gid.ID, noun string, check func(T) error) ([]T, error) {
	byID := make(map[gid.ID]T, len(rows))
	for _, r := range rows {
		byID[idOf(r)] = r
	}
	out := make([]T, len(ids))
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			return nil, apierr.New(apierr.NotFound, "%s %s not found", noun, id)
		}
		if check != nil {
			if err := check(r); err != nil {
				return nil, err
			}
		}
		out[i] = r
	}
	return out, nil
}

// setMembers replaces the agent list of the pool selected by owner with
// agents, in order, as the viewer (ctx), and returns the users who left it.
func setMembers(ctx context.Context, tx *ent.Tx, owner predicate.Member, create func(*ent.MemberCreate), agents []*ent.User) ([]gid.ID, error) {
	old, err := tx.Member.Query().Where(owner).All(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Member.Delete().Where(owner).Exec(ctx); err != nil {
		return nil, fmt.Errorf("distribute: replacing agents: %w", err)
	}
	rows := make([]*ent.MemberCreate, len(agents))
	stays := make(map[gid.ID]bool, len(agents))
	for i, u := range agents {
		rows[i] = tx.Member.Create().SetUserID(u.ID).SetPosition(i)
		create(rows[i])
		stays[u.ID] = true
	}
	if err := tx.Member.CreateBulk(rows...).Exec(ctx); err != nil {
		return nil, fmt.Errorf("distribute: saving agents: %w", err)
	}
	var left []gid.ID
	for _, m := range old {
		if !stays[m.UserID] {
			left = append(left, m.UserID)
		}
	}
	return left, nil
}

// join puts a channel in the rule of p and applies the rule's
// old-conversation policy to the channel's open conversations: KEEP leaves
// them, UNASSIGNED distributes those nobody has, ALL distributes every one
// (their assignees lose them). A channel already in a rule is a CONFLICT.
func (s *step) join(ctx context.Context, ch *ent.Channel, p *pool) error {
	n, err := s.tx.Channel.Update().
		Where(channel.ID(ch.ID), channel.RuleIDIsNil()).
		SetRuleID(p.ruleID).
		Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return apierr.New(apierr.Conflict, "channel %q already belongs to another rule", ch.Name)
	}
	s.channelEvent(ch.ID)
	if ch.ChatPermission != channel.ChatPermissionSHARED || p.policy == rule.OldConversationsKEEP {
		return nil
	}
	q := s.tx.Conversation.Query().
		Where(conversation.ChannelID(ch.ID), conversation.StatusNEQ(conversation.StatusRESOLVED))
	if p.policy == rule.OldConversationsUNASSIGNED {
		q.Where(conversation.AssigneeIDIsNil())
	}
	ids, err := q.Order(conversation.ByCreatedAt(), conversation.ByID()).IDs(s.ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c, err := s.lockConversation(id)
		if err != nil {
			return err
		}
		if p.policy == rule.OldConversationsUNASSIGNED && c.AssigneeID != nil {
			continue // taken meanwhile
		}
		if _, err := s.route(c, p, false); err != nil {
			return err
		}
	}
	return nil
}

// agentLeft handles an agent who left p (already reloaded without them):
// their pending offers in p move on at once, and their open conversations
// of p are distributed again unless p keeps them (KEEP, and departments).
func (s *step) agentLeft(p *pool, userID gid.ID) error {
	if err := s.withdrawOffersOf(userID, p.conversations()); err != nil {
		return err
	}
	if p.policy == rule.OldConversationsKEEP {
		return nil
	}
	ids, err := s.tx.Conversation.Query().
		Where(p.conversations(), conversation.AssigneeID(userID), conversation.StatusNEQ(conversation.StatusRESOLVED)).
		Order(conversation.ByCreatedAt(), conversation.ByID()).
		IDs(s.ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c, err := s.lockConversation(id)
		if err != nil {
			return err
		}
		if c.AssigneeID == nil || *c.AssigneeID != userID {
			continue
		}
		if _, err := s.route(c, p, false); err != nil {
			return err
		}
	}
	return nil
}

// release takes the selected open conversations out of distribution (their
// channel left the rule, or the rule or department is deleted): pending
// offers end, unassigned conversations become open to every member, and
// assigned ones stay with their agent.
func (s *step) release(which predicate.Conversation) error {
	ids, err := s.tx.Conversation.Query().
		Where(which, conversation.StatusNEQ(conversation.StatusRESOLVED)).
		Order(conversation.ByCreatedAt(), conversation.ByID()).
		IDs(s.ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c, err := s.lockConversation(id)
		if err != nil {
			return err
		}
		if err := s.newRound(c); err != nil {
			return err
		}
		upd := s.tx.Conversation.UpdateOneID(id).ClearRuleID().ClearDepartmentID().ClearOfferExpiresAt().AddOfferSeq(1)
		if c.AssigneeID == nil {
			upd.SetDistributionState(conversation.DistributionStateNONE)
		}
		if err := upd.Exec(s.ctx); err != nil {
			return err
		}
		s.channelEvent(c.ChannelID)
	}
	return nil
}

// visibilityChanged appends a CHANNEL event for each channel with open
// conversations in p, whose agents changed: who sees its waiting and
// unclaimed conversations changed with them.
func (s *step) visibilityChanged(p *pool) error {
	ids, err := s.tx.Conversation.Query().
		Where(p.conversations(), conversation.StatusNEQ(conversation.StatusRESOLVED)).
		Unique(true).
		Select(conversation.FieldChannelID).
		Strings(s.ctx)
	if err != nil {
		return err
	}
	slices.Sort(ids)
	for _, id := range ids {
		s.channelEvent(gid.ID(id))
	}
	return nil
}

// forget clears the pool from the resolved conversations it distributed, so
// the rule or department can be deleted; their history stays.
func (s *step) forget(which predicate.Conversation) error {
	if _, err := s.tx.Offer.Delete().Where(offer.HasConversationWith(which)).Exec(s.ctx); err != nil {
		return err
	}
	return s.tx.Conversation.Update().Where(which).ClearRuleID().ClearDepartmentID().Exec(s.ctx)
}

// deleteMembers removes a pool's agent list, as the viewer.
func deleteMembers(ctx context.Context, tx *ent.Tx, owner predicate.Member) error {
	_, err := tx.Member.Delete().Where(owner).Exec(ctx)
	return err
}
