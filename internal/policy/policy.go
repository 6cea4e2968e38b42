// Package policy holds the privacy rules every ent schema composes: tenant
// isolation, API key scopes and roles. They are written against ent's generic
// query and mutation interfaces, so the schema can use them before any code
// is generated.
package policy

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/entql"
	"entgo.io/ent/privacy"

	entprivacy "github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// OrgField is the column every tenant-owned table carries.
const OrgField = "organization_id"

// deny returns a privacy.Deny decision that also carries an API error code, so
// the error presenter can tell a missing login from a missing permission.
func deny(code apierr.Code, format string, args ...any) error {
	return fmt.Errorf("%w: %w", privacy.Deny, apierr.New(code, format, args...))
}

// Unauthenticated is the decision for a caller with no identity.
func Unauthenticated() error {
	return fmt.Errorf("%w: %w", privacy.Deny, apierr.NeedCredentials("authentication required"))
}

// Forbidden is the decision for a caller without the needed role or scope.
func Forbidden(format string, args ...any) error { return deny(apierr.Forbidden, format, args...) }

type rule struct {
	query    func(context.Context, ent.Query) error
	mutation func(context.Context, ent.Mutation) error
}

func (r rule) EvalQuery(ctx context.Context, q ent.Query) error {
	if r.query == nil {
		return privacy.Skip
	}
	return r.query(ctx, q)
}

func (r rule) EvalMutation(ctx context.Context, m ent.Mutation) error {
	if r.mutation == nil {
		return privacy.Skip
	}
	return r.mutation(ctx, m)
}

// viewerRule builds a rule that applies the same viewer check to queries and
// mutations.
func viewerRule(f func(*viewer.Viewer) error) privacy.QueryMutationRule {
	return rule{
		query:    func(ctx context.Context, _ ent.Query) error { return f(viewer.FromContext(ctx)) },
		mutation: func(ctx context.Context, _ ent.Mutation) error { return f(viewer.FromContext(ctx)) },
	}
}

// DenyIfNoViewer denies anonymous access.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return viewerRule(func(v *viewer.Viewer) error {
		if v == nil {
			return Unauthenticated()
		}
		return privacy.Skip
	})
}

// AllowIfSystem lets trusted background work through. Tenant filtering still
// applies when the system context names an organization, because it runs
// before this rule in TenantPolicy.
func AllowIfSystem() privacy.QueryMutationRule {
	return viewerRule(func(v *viewer.Viewer) error {
		if v != nil && v.System {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AlwaysDeny ends a policy: whatever no earlier rule allowed is refused.
func AlwaysDeny() privacy.QueryMutationRule {
	return viewerRule(func(*viewer.Viewer) error { return Forbidden("permission denied") })
}

// AlwaysAllow ends a policy whose earlier rules already filtered or refused.
func AlwaysAllow() privacy.QueryMutationRule {
	return viewerRule(func(*viewer.Viewer) error { return privacy.Allow })
}

// FilterTenant restricts every query and every update or delete to the
// viewer's organization, and refuses a create that names another one. Rows of
// other organizations therefore look exactly like rows that do not exist.
func FilterTenant() privacy.QueryMutationRule {
	filter := FilterWhere(func(v *viewer.Viewer, f entprivacy.Filter) error {
		tf, ok := f.(interface{ WhereOrganizationID(entql.StringP) })
		if !ok {
			return privacy.Denyf("policy: %T has no organization to filter by", f)
		}
		tf.WhereOrganizationID(entql.StringEQ(string(v.OrgID)))
		return privacy.Skip
	})
	return rule{
		query: filter.EvalQuery,
		mutation: func(ctx context.Context, m ent.Mutation) error {
			if !m.Op().Is(ent.OpCreate) {
				return filter.EvalMutation(ctx, m)
			}
			v := viewer.FromContext(ctx)
			if v == nil || v.OrgID == "" {
				if v != nil && v.System {
					return privacy.Skip
				}
				return Unauthenticated()
			}
			if got, ok := m.Field(OrgField); ok && orgOf(got) != v.OrgID {
				return Forbidden("cannot create records in another organization")
			}
			return privacy.Skip
		},
	}
}

// FilterWhere builds a rule that narrows queries, updates and deletes with
// the filter f adds for the viewer. A system viewer with no organization
// (token lookups, which precede knowing the tenant) is not narrowed.
func FilterWhere(f func(*viewer.Viewer, entprivacy.Filter) error) privacy.QueryMutationRule {
	return entprivacy.FilterFunc(func(ctx context.Context, filter entprivacy.Filter) error {
		v := viewer.FromContext(ctx)
		switch {
		case v == nil:
			return Unauthenticated()
		case v.OrgID == "" && v.System:
			return privacy.Skip
		case v.OrgID == "":
			return Unauthenticated()
		}
		return f(v, filter)
	})
}

func orgOf(v ent.Value) gid.ID {
	switch x := v.(type) {
	case gid.ID:
		return x
	case string:
		return gid.ID(x)
	}
	return ""
}

// RequireScope makes API keys hold READ to query and WRITE to mutate; users
// and the system pass through to the rules that follow.
func RequireScope() privacy.QueryMutationRule {
	return rule{
		query: func(ctx context.Context, _ ent.Query) error {
			if v := viewer.FromContext(ctx); v.IsAPIKey() && !v.Has(viewer.ScopeRead) {
				return Forbidden("this API key lacks the READ scope")
			}
			return privacy.Skip
		},
		mutation: func(ctx context.Context, _ ent.Mutation) error {
			if v := viewer.FromContext(ctx); v.IsAPIKey() && !v.Has(viewer.ScopeWrite) {
				return Forbidden("this API key lacks the WRITE scope")
			}
			return privacy.Skip
		},
	}
}

// QueryRuleFunc adapts a function to a privacy.QueryRule; ent's generic
// privacy package has only the mutation variant.
type QueryRuleFunc func(context.Context, ent.Query) error

// EvalQuery calls f.
func (f QueryRuleFunc) EvalQuery(ctx context.Context, q ent.Query) error { return f(ctx, q) }

// AllowQuery allows any query that reached it; tenant filtering happened
// earlier in the policy.
func AllowQuery() privacy.QueryRule {
	return QueryRuleFunc(func(context.Context, ent.Query) error { return privacy.Allow })
}

// AllowMutationIf allows a mutation when ok says so for the viewer, and skips
// otherwise.
func AllowMutationIf(ok func(*viewer.Viewer, ent.Mutation) bool) privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if ok(viewer.FromContext(ctx), m) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowQueryIf allows a query when ok says so for the viewer, and skips
// otherwise.
func AllowQueryIf(ok func(*viewer.Viewer) bool) privacy.QueryRule {
	return QueryRuleFunc(func(ctx context.Context, _ ent.Query) error {
		if ok(viewer.FromContext(ctx)) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// Tenant is the policy of every tenant-owned entity: an identity is required,
// rows are filtered to the viewer's organization, API keys need their scope,
// and system work is then allowed. Entity policies follow with role rules.
//
// A LiveTalk visitor is refused everything (see TenantFor).
func Tenant() ent.Policy { return TenantFor(VisitorNone) }

// TenantFor is Tenant for an entity a LiveTalk visitor may read some of, as
// a says (FilterVisitor).
func TenantFor(a VisitorAccess) ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			DenyIfNoViewer(), FilterTenant(), FilterVisitor(a), RequireScope(), AllowIfSystem(),
		},
		Mutation: privacy.MutationPolicy{
			DenyIfNoViewer(), FilterTenant(), FilterVisitor(a), RequireScope(), AllowIfSystem(),
		},
	}
}

// VisitorAccess is what of an entity a LiveTalk visitor may read.
type VisitorAccess int

// The kinds of VisitorAccess.
const (
	// VisitorNone: nothing; every query and mutation is refused.
	VisitorNone VisitorAccess = iota
	// VisitorOwnConversation: the visitor's conversation (the row whose
	// id is theirs).
	VisitorOwnConversation
	// VisitorOwnMessages: the rows of the visitor's conversation (its
	// conversation_id column).
	VisitorOwnMessages
)

// FilterVisitor confines a LiveTalk visitor (viewer.Visitor) to their own
// conversation, as FilterTenant confines staff to their organization:
// queries of an entity with access a are narrowed to the visitor's
// conversation and then allowed, so no later rule widens or narrows them
// (a visitor is nobody on the staff); queries of any other entity and
// every mutation are refused. Visitors' writes (their messages, their
// chat's opening) are made by internal/livetalk as the system, after it
// has authenticated the visitor's token. Other viewers pass through.
func FilterVisitor(a VisitorAccess) privacy.QueryMutationRule {
	filter := FilterWhere(func(v *viewer.Viewer, f entprivacy.Filter) error {
		if !v.IsVisitor() {
			return privacy.Skip
		}
		conv := string(v.Visitor.ConversationID)
		switch a {
		case VisitorOwnConversation:
			f.Where(entql.FieldEQ("id", conv))
		case VisitorOwnMessages:
			f.Where(entql.FieldEQ("conversation_id", conv))
		default:
			return Forbidden("a visitor cannot read this")
		}
		return privacy.Allow
	})
	return rule{
		query: func(ctx context.Context, q ent.Query) error {
			if !viewer.FromContext(ctx).IsVisitor() {
				return privacy.Skip
			}
			return filter.EvalQuery(ctx, q)
		},
		mutation: func(ctx context.Context, _ ent.Mutation) error {
			if viewer.FromContext(ctx).IsVisitor() {
				return Forbidden("a visitor cannot change anything")
			}
			return privacy.Skip
		},
	}
}

// DenyVisitors refuses LiveTalk visitors, for the entities outside
// TenantFor's policy.
func DenyVisitors() privacy.QueryMutationRule {
	return viewerRule(func(v *viewer.Viewer) error {
		if v.IsVisitor() {
			return Forbidden("a visitor cannot reach this")
		}
		return privacy.Skip
	})
}

// FilterConversations narrows conversations (path "") or the entities
// reached from one (path "conversation" for messages) to those the viewer
// may see:
//
//   - ONLY_ME channels: only the user who connected the channel.
//   - SHARED channels: OWNERs, ADMINs and API keys see every conversation;
//     an AGENT sees those assigned to them, those offered to them, the
//     unassigned ones waiting or unclaimed in a rule or department they
//     belong to, and every conversation in no rule and no department.
//
// System work sees everything in its organization.
//
// A query whose context says VisibilityChecked is not narrowed again.
func FilterConversations(path string) privacy.QueryMutationRule {
	var edges []string
	if path != "" {
		edges = strings.Split(path, ".")
	}
	filter := FilterWhere(func(v *viewer.Viewer, f entprivacy.Filter) error {
		if v.System {
			return privacy.Skip
		}
		p := conversationsOf(v)
		for i := len(edges) - 1; i >= 0; i-- {
			p = entql.HasEdgeWith(edges[i], p)
		}
		f.Where(p)
		return privacy.Skip
	})
	return rule{
		query: func(ctx context.Context, q ent.Query) error {
			if ctx.Value(visibilityCheckedKey{}) != nil {
				return privacy.Skip
			}
			return filter.EvalQuery(ctx, q)
		},
		mutation: filter.EvalMutation,
	}
}

type visibilityCheckedKey struct{}

// VisibilityChecked returns a context for reading what belongs to
// conversations the viewer was just shown under FilterConversations (a
// page's last messages, and the edges under them): their visibility is
// settled, so the queries skip the filter's subqueries. Tenant isolation,
// scopes and roles still apply; mutations are always filtered.
func VisibilityChecked(ctx context.Context) context.Context {
	return context.WithValue(ctx, visibilityCheckedKey{}, true)
}

// conversationsOf is the predicate, on conversations, of those v may see.
func conversationsOf(v *viewer.Viewer) entql.P {
	shared := entql.HasEdgeWith("channel", entql.FieldEQ("chat_permission", "SHARED"))
	if !v.IsUser() {
		// API keys are nobody: they see no ONLY_ME channel.
		return shared
	}
	me := string(v.UserID)
	mine := entql.HasEdgeWith("channel",
		entql.FieldEQ("chat_permission", "ONLY_ME"), entql.FieldEQ("connected_by_id", me))
	// SHARED is tested first: it is what most conversations are.
	if v.IsAdmin() {
		return entql.Or(shared, mine)
	}
	member := entql.HasEdgeWith("members", entql.FieldEQ("user_id", me))
	// The column tests come first: OR stops at the first true term, and
	// most conversations are settled by them before any subquery runs.
	given := entql.Or(
		entql.FieldEQ("assignee_id", me),
		// Distribution has not reached it: open to every member.
		entql.And(entql.FieldNil("rule_id"), entql.FieldNil("department_id")),
		entql.And(
			entql.FieldEQ("distribution_state", "OFFERED"),
			entql.HasEdgeWith("offers", entql.FieldEQ("user_id", me), entql.FieldEQ("status", "PENDING")),
		),
		entql.And(
			entql.FieldNil("assignee_id"),
			entql.FieldIn("distribution_state", "UNCLAIMED", "WAITING"),
			entql.Or(entql.HasEdgeWith("rule", member), entql.HasEdgeWith("department", member)),
		),
	)
	return entql.Or(entql.And(shared, given), mine)
}

// FilterCalls narrows an AGENT's calls to those of the OAs they operate and
// those of customers with a conversation the agent may see (as
// FilterConversations decides). Owners, admins, API keys and the system
// see every call of the organization.
func FilterCalls() privacy.QueryMutationRule {
	return FilterWhere(func(v *viewer.Viewer, f entprivacy.Filter) error {
		if v.System || !v.IsUser() || v.IsAdmin() {
			return privacy.Skip
		}
		f.Where(entql.Or(
			entql.HasEdgeWith("channel", entql.HasEdgeWith("call_operators", entql.FieldEQ("user_id", string(v.UserID)))),
			entql.HasEdgeWith("customer", entql.HasEdgeWith("conversations", conversationsOf(v))),
		))
		return privacy.Skip
	})
}

// RequireAdmin returns the viewer of ctx when it is an OWNER or ADMIN user;
// otherwise UNAUTHENTICATED without a viewer, or FORBIDDEN saying "only an
// OWNER or ADMIN can " followed by what.
func RequireAdmin(ctx context.Context, what string) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	if !v.IsAdmin() {
		return nil, &apierr.Error{Code: apierr.Forbidden, Message: "only an OWNER or ADMIN can " + what}
	}
	return v, nil
}
