package distribute

import (
	"context"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
)

// ruleMethods are the methods a rule may use: all of them.
var ruleMethods = []schematype.DistributionMethod{
	schematype.RoundRobin, schematype.SelfClaim, schematype.Sequential, schematype.Broadcast, schematype.Random,
}

// RuleInput is what createRule takes (schema.graphqls).
type RuleInput struct {
	Name                string
	ChannelIDs          []gid.ID
	AgentIDs            []gid.ID
	Method              schematype.DistributionMethod
	OfferTimeoutSeconds *int
	OldConversations    *rule.OldConversations
}

// RuleUpdate is what updateRule takes: nil fields keep their value, and a
// list given replaces the old one.
type RuleUpdate struct {
	Name                *string
	ChannelIDs          []gid.ID
	AgentIDs            []gid.ID
	Method              *schematype.DistributionMethod
	OfferTimeoutSeconds *int
	OldConversations    *rule.OldConversations
}

// checkPolicy checks an old-conversation policy, when given.
func checkPolicy(p *rule.OldConversations) error {
	if p != nil && rule.OldConversationsValidator(*p) != nil {
		return apierr.BadInput("oldConversations", "oldConversations must be KEEP, UNASSIGNED or ALL")
	}
	return nil
}

// CreateRule creates a distribution rule (OWNERs and ADMINs). Its channels
// join it at once, under its old-conversation policy.
func (e *Engine) CreateRule(ctx context.Context, in RuleInput) (*ent.Rule, error) {
	v, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	name, err := checkName(in.Name)
	if err != nil {
		return nil, err
	}
	for _, err := range []error{checkMethod(&in.Method, ruleMethods...), checkTimeout(in.OfferTimeoutSeconds), checkPolicy(in.OldConversations)} {
		if err != nil {
			return nil, err
		}
	}
	var out *ent.Rule
	err = e.inTx(ctx, v.OrgID, func(s *step) error {
		agents, err := loadAgents(ctx, s.tx, in.AgentIDs)
		if err != nil {
			return err
		}
		chans, err := loadChannels(ctx, s.tx, in.ChannelIDs)
		if err != nil {
			return err
		}
		create := s.tx.Rule.Create().SetName(name).SetMethod(in.Method)
		if in.OfferTimeoutSeconds != nil {
			create.SetOfferTimeoutSeconds(*in.OfferTimeoutSeconds)
		}
		if in.OldConversations != nil {
			create.SetOldConversations(*in.OldConversations)
		}
		r, err := create.Save(ctx)
		if ent.IsConstraintError(err) {
			return apierr.New(apierr.Conflict, "a rule named %q already exists", name)
		}
		if err != nil {
			return err
		}
		out = r
		if _, err := setMembers(ctx, s.tx, member.RuleID(r.ID), func(m *ent.MemberCreate) { m.SetRuleID(r.ID) }, agents); err != nil {
			return err
		}
		p, err := s.rulePool(r.ID)
		if err != nil {
			return err
		}
		for _, ch := range chans {
			if err := s.join(ctx, ch, p); err != nil {
				return err
			}
		}
		state, err := s.ruleState(r.ID)
		if err != nil {
			return err
		}
		return s.record(ctx, activity.RuleCreated, r.ID, state)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// UpdateRule changes a rule (OWNERs and ADMINs). Channels that join it
// follow its old-conversation policy; channels that leave take their open
// conversations out of it (the unassigned ones become open to every member
// again); agents who leave hand on their pending offers, and their
// conversations are distributed again unless the policy is KEEP; and
// waiting conversations are distributed to agents who join.
func (e *Engine) UpdateRule(ctx context.Context, id gid.ID, in RuleUpdate) (*ent.Rule, error) {
	v, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	var name string
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	for _, err := range []error{checkMethod(in.Method, ruleMethods...), checkTimeout(in.OfferTimeoutSeconds), checkPolicy(in.OldConversations)} {
		if err != nil {
			return nil, err
		}
	}
	var out *ent.Rule
	err = e.inTx(ctx, v.OrgID, func(s *step) (err error) {
		// The row lock orders concurrent changes of one rule.
		q := s.tx.Rule.Query().Where(rule.ID(id)).Unique(false)
		q.Modify(database.LockRows())
		if _, err := q.Only(ctx); ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "rule not found")
		} else if err != nil {
			return err
		}
		recorded, err := s.recordUpdate(ctx, activity.RuleUpdated, id, s.ruleState)
		if err != nil {
			return err
		}
		defer recorded(&err)
		upd := s.tx.Rule.UpdateOneID(id)
		if in.Name != nil {
			upd.SetName(name)
		}
		if in.Method != nil {
			upd.SetMethod(*in.Method)
		}
		if in.OfferTimeoutSeconds != nil {
			upd.SetOfferTimeoutSeconds(*in.OfferTimeoutSeconds)
		}
		if in.OldConversations != nil {
			upd.SetOldConversations(*in.OldConversations)
		}
		r, err := upd.Save(ctx)
		if ent.IsConstraintError(err) {
			return apierr.New(apierr.Conflict, "a rule named %q already exists", name)
		}
		if err != nil {
			return err
		}
		out = r

		var left []gid.ID
		if in.AgentIDs != nil {
			agents, err := loadAgents(ctx, s.tx, in.AgentIDs)
			if err != nil {
				return err
			}
			if left, err = setMembers(ctx, s.tx, member.RuleID(id), func(m *ent.MemberCreate) { m.SetRuleID(id) }, agents); err != nil {
				return err
			}
		}
		var joining []*ent.Channel
		if in.ChannelIDs != nil {
			chans, err := loadChannels(ctx, s.tx, in.ChannelIDs)
			if err != nil {
				return err
			}
			current, err := s.tx.Channel.Query().Where(channel.RuleID(id)).All(ctx)
			if err != nil {
				return err
			}
			for _, ch := range current {
				if !hasChannel(chans, ch.ID) {
					if err := s.leave(ctx, ch, id); err != nil {
						return err
					}
				}
			}
			for _, ch := range chans {
				if !hasChannel(current, ch.ID) {
					joining = append(joining, ch)
				}
			}
		}
		p, err := s.rulePool(id)
		if err != nil {
			return err
		}
		for _, u := range left {
			if err := s.agentLeft(p, u); err != nil {
				return err
			}
		}
		for _, ch := range joining {
			if err := s.join(ctx, ch, p); err != nil {
				return err
			}
		}
		if in.AgentIDs != nil {
			if err := s.visibilityChanged(p); err != nil {
				return err
			}
			return s.drainWaiting(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// leave takes a channel out of its rule, with its open conversations.
func (s *step) leave(ctx context.Context, ch *ent.Channel, ruleID gid.ID) error {
	if err := s.tx.Channel.UpdateOneID(ch.ID).ClearRuleID().Exec(ctx); err != nil {
		return err
	}
	s.channelEvent(ch.ID)
	return s.release(conversation.And(conversation.ChannelID(ch.ID), conversation.RuleID(ruleID)))
}

func hasChannel(chs []*ent.Channel, id gid.ID) bool {
	return slices.ContainsFunc(chs, func(ch *ent.Channel) bool { return ch.ID == id })
}

// DeleteRule deletes a rule (OWNERs and ADMINs): its channels leave it,
// taking their open conversations out of distribution, and the resolved
// conversations it distributed forget it.
func (e *Engine) DeleteRule(ctx context.Context, id gid.ID) error {
	v, err := admin(ctx)
	if err != nil {
		return err
	}
	return e.inTx(ctx, v.OrgID, func(s *step) error {
		if _, err := s.tx.Rule.Get(ctx, id); ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "rule not found")
		} else if err != nil {
			return err
		}
		before, err := s.ruleState(id)
		if err != nil {
			return err
		}
		if err := s.record(ctx, activity.RuleDeleted, id, before); err != nil {
			return err
		}
		chans, err := s.tx.Channel.Query().Where(channel.RuleID(id)).All(ctx)
		if err != nil {
			return err
		}
		for _, ch := range chans {
			if err := s.leave(ctx, ch, id); err != nil {
				return err
			}
		}
		if err := s.release(conversation.RuleID(id)); err != nil {
			return err
		}
		if err := s.forget(conversation.RuleID(id)); err != nil {
			return err
		}
		if err := deleteMembers(ctx, s.tx, member.RuleID(id)); err != nil {
			return err
		}
		return s.tx.Rule.DeleteOneID(id).Exec(ctx)
	})
}
