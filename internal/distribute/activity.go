package distribute

// What the activity log records of rules and departments: their settings
// and their lists, before and after a change.

import (
	"context"
	"slices"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/gid"
)

// ruleState is a rule as the activity log describes it: its settings, its
// agents in list order and its channels.
func (s *step) ruleState(id gid.ID) (map[string]any, error) {
	r, err := s.tx.Rule.Get(s.ctx, id)
	if err != nil {
		return nil, err
	}
	agents, err := s.agentIDs(member.RuleID(id))
	if err != nil {
		return nil, err
	}
	chans, err := s.tx.Channel.Query().Where(channel.RuleID(id)).IDs(s.ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(chans)
	return map[string]any{
		"name": r.Name, "method": r.Method, "offerTimeoutSeconds": r.OfferTimeoutSeconds,
		"oldConversations": r.OldConversations, "agentIds": agents, "channelIds": chans,
	}, nil
}

// departmentState is a department as the activity log describes it.
func (s *step) departmentState(id gid.ID) (map[string]any, error) {
	d, err := s.tx.Department.Get(s.ctx, id)
	if err != nil {
		return nil, err
	}
	agents, err := s.agentIDs(member.DepartmentID(id))
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"name": d.Name, "method": d.Method, "offerTimeoutSeconds": d.OfferTimeoutSeconds,
		"isDefault": d.IsDefault, "agentIds": agents,
	}, nil
}

// agentIDs returns the user IDs of an agent list, in list order.
func (s *step) agentIDs(of predicate.Member) ([]gid.ID, error) {
	ms, err := s.tx.Member.Query().Where(of).Order(member.ByPosition()).All(s.ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]gid.ID, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids, nil
}

// record writes the activity entry of a change of the subject, as the
// user of ctx (the step itself works as the system).
func (s *step) record(ctx context.Context, action activity.Action, subject gid.ID, details map[string]any) error {
	return activity.Record(ctx, s.tx, activity.Entry{Action: action, SubjectID: subject, Details: details})
}

// recordUpdate takes the state of the rule or department id now, through
// state, and returns what the update defers: once the update has done
// everything it does without error, it records action with what changed.
func (s *step) recordUpdate(ctx context.Context, action activity.Action, id gid.ID, state func(gid.ID) (map[string]any, error)) (func(*error), error) {
	before, err := state(id)
	if err != nil {
		return nil, err
	}
	return func(errp *error) {
		if *errp != nil {
			return
		}
		after, err := state(id)
		if err == nil {
			err = s.record(ctx, action, id, changed(before, after))
		}
		*errp = err
	}, nil
}

// changed is the details of an update: what changed between two states.
func changed(before, after map[string]any) map[string]any {
	return map[string]any{"name": after["name"], "changes": activity.Changes(before, after)}
}
