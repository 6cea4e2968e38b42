package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/entql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	entprivacy "github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Organization is a tenant: a business using dakenh.
type Organization struct{ ent.Schema }

// Mixin returns the organization's mixins.
func (Organization) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Organization"), TimeMixin{}}
}

// Fields returns the organization's fields.
func (Organization) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		// event_seq is the last sequence number of the organization's event
		// log; incrementing it in a transaction orders that transaction's
		// events after every committed one.
		field.Int64("event_seq").Default(0).Annotations(entgql.Skip()),
		// call_minutes_quota is the monthly LiveTalk call minutes of the
		// organization's plan; null means the server's default
		// (internal/callminutes).
		field.Int("call_minutes_quota").Optional().Nillable().NonNegative().
			Annotations(entgql.Skip()),
		// call_bonus_minutes is the balance of bonus call minutes; it
		// carries over from month to month until used.
		field.Int("call_bonus_minutes").Default(0).NonNegative().
			Annotations(entgql.Skip()),
	}
}

// Annotations configures GraphQL generation.
func (Organization) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// Policy lets a viewer see only their own organization; only the system
// creates one (signUp) and only its owner renames it.
func (Organization) Policy() ent.Policy {
	own := policy.FilterWhere(func(v *viewer.Viewer, f entprivacy.Filter) error {
		f.(interface{ WhereID(entql.StringP) }).WhereID(entql.StringEQ(string(v.OrgID)))
		return privacy.Skip
	})
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			policy.DenyVisitors(),
			own,
			policy.RequireScope(),
			policy.AllowQuery(),
		},
		Mutation: privacy.MutationPolicy{
			policy.DenyIfNoViewer(),
			policy.DenyVisitors(),
			policy.AllowIfSystem(),
			privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
				if m.Op().Is(ent.OpCreate) {
					return policy.Forbidden("organizations are created by signing up")
				}
				return own.EvalMutation(ctx, m)
			}),
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool {
				return v.IsUser() && v.Role == viewer.RoleOwner
			}),
			policy.AlwaysDeny(),
		},
	}
}
