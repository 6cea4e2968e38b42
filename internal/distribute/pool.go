package distribute

import (
	"context"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
)

// pool is what distributes a conversation: a rule or a department, seen the
// same way by every method.
type pool struct {
	// ruleID or departmentID (exactly one) says which.
	ruleID, departmentID gid.ID
	method               schematype.DistributionMethod
	timeout              time.Duration
	// policy is the rule's old-conversation policy; departments have none
	// and keep an agent's conversations when the agent leaves.
	policy rule.OldConversations
	// members are the agents in list order.
	members []*ent.Member
}

// rulePool loads a rule's pool.
func (s *step) rulePool(id gid.ID) (*pool, error) {
	r, err := s.tx.Rule.Get(s.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("distribute: loading rule %s: %w", id, err)
	}
	p := &pool{ruleID: r.ID, method: r.Method, timeout: seconds(r.OfferTimeoutSeconds), policy: r.OldConversations}
	return p, s.loadMembers(p)
}

// departmentPool loads a department's pool.
func (s *step) departmentPool(id gid.ID) (*pool, error) {
	d, err := s.tx.Department.Get(s.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("distribute: loading department %s: %w", id, err)
	}
	p := &pool{departmentID: d.ID, method: d.Method, timeout: seconds(d.OfferTimeoutSeconds), policy: rule.OldConversationsKEEP}
	return p, s.loadMembers(p)
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// loadMembers loads the pool's agents, with their users, in list order.
func (s *step) loadMembers(p *pool) error {
	ms, err := s.tx.Member.Query().
		Where(p.memberOf()).
		WithUser().
		Order(member.ByPosition()).
		All(s.ctx)
	if err != nil {
		return fmt.Errorf("distribute: loading agents: %w", err)
	}
	p.members = ms
	return nil
}

// poolOf loads the pool that distributes c, or nil when none does.
func (s *step) poolOf(c *ent.Conversation) (*pool, error) {
	switch {
	case c.RuleID != nil:
		return s.rulePool(*c.RuleID)
	case c.DepartmentID != nil:
		return s.departmentPool(*c.DepartmentID)
	}
	return nil, nil
}

// channelPool loads the pool of a channel's new conversations: its rule,
// or for a Zalo OA or Facebook page in no rule the organization's default
// department. It is nil when neither exists.
func (s *step) channelPool(ch *ent.Channel) (*pool, error) {
	if ch.RuleID != nil {
		return s.rulePool(*ch.RuleID)
	}
	if ch.Kind != channel.KindZALO_OA && ch.Kind != channel.KindFACEBOOK_PAGE {
		return nil, nil
	}
	d, err := s.tx.Department.Query().Where(department.IsDefault(true)).Only(s.ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("distribute: loading the default department: %w", err)
	}
	return s.departmentPool(d.ID)
}

// memberOf selects the pool's members.
func (p *pool) memberOf() predicate.Member {
	if p.ruleID != "" {
		return member.RuleID(p.ruleID)
	}
	return member.DepartmentID(p.departmentID)
}

// conversations selects the conversations the pool distributes.
func (p *pool) conversations() predicate.Conversation {
	if p.ruleID != "" {
		return conversation.RuleID(p.ruleID)
	}
	return conversation.DepartmentID(p.departmentID)
}

// online returns the members who may receive conversations now: active
// users whose presence is ONLINE, in list order.
func (p *pool) online() []*ent.Member {
	var out []*ent.Member
	for _, m := range p.members {
		if u := m.Edges.User; u != nil && u.Active && u.Presence == user.PresenceONLINE {
			out = append(out, m)
		}
	}
	return out
}

// userIDs returns the members' user IDs in list order.
func (p *pool) userIDs() []gid.ID {
	ids := make([]gid.ID, len(p.members))
	for i, m := range p.members {
		ids[i] = m.UserID
	}
	return ids
}

// nextInTurn returns the ONLINE member whose turn it is, and moves the turn
// to them; nil when nobody is ONLINE. The turn is the list position of the
// last member served. It is read under the rule's or department's row lock
// (PostgreSQL; SQLite transactions are serial), which the assigning
// transaction holds until it commits, so concurrent arrivals on every
// replica take consecutive turns and the pool stays even.
func (s *step) nextInTurn(p *pool) (*ent.User, error) {
	online := p.online()
	if len(online) == 0 {
		return nil, nil
	}
	var turn int
	if p.ruleID != "" {
		q := s.tx.Rule.Query().Where(rule.ID(p.ruleID)).Unique(false)
		q.Modify(database.LockRows())
		r, err := q.Only(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("distribute: taking the turn of rule %s: %w", p.ruleID, err)
		}
		turn = r.Turn
	} else {
		q := s.tx.Department.Query().Where(department.ID(p.departmentID)).Unique(false)
		q.Modify(database.LockRows())
		d, err := q.Only(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("distribute: taking the turn of department %s: %w", p.departmentID, err)
		}
		turn = d.Turn
	}
	next := online[0]
	for _, m := range online {
		if m.Position > turn {
			next = m
			break
		}
	}
	var err error
	if p.ruleID != "" {
		err = s.tx.Rule.UpdateOneID(p.ruleID).SetTurn(next.Position).Exec(s.ctx)
	} else {
		err = s.tx.Department.UpdateOneID(p.departmentID).SetTurn(next.Position).Exec(s.ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("distribute: advancing the turn: %w", err)
	}
	return next.Edges.User, nil
}

// Answerers returns the predicate, on users, of those who answer ch's new
// conversations: for an ONLY_ME channel the user who connected it; for a
// SHARED one the agents of its pool (its rule, or the default department),
// or every user of the organization when no pool distributes it. Other
// features (the OFFLINE and NO_REPLY auto-messages) ask whether any of
// them is online.
func Answerers(ctx context.Context, tx *ent.Tx, ch *ent.Channel) (predicate.User, error) {
	if ch.ChatPermission != channel.ChatPermissionSHARED {
		return user.ID(ch.ConnectedByID), nil
	}
	s := &step{ctx: ctx, tx: tx}
	p, err := s.channelPool(ch)
	if err != nil || p == nil {
		return user.OrganizationID(ch.OrganizationID), err
	}
	ids := make([]gid.ID, len(p.members))
	for i, m := range p.members {
		ids[i] = m.UserID
	}
	return user.IDIn(ids...), nil
}
