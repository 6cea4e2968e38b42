package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/policy"
)

// CallMinuteMonth is what an organization's LiveTalk calls consumed in one
// month of Vietnam time (README.md, "Call minutes and LiveTalk calls"):
// minutes taken from the month's quota and minutes taken from the bonus
// balance. A month without calls has no row.
type CallMinuteMonth struct{ ent.Schema }

// Mixin returns the month's mixins.
func (CallMinuteMonth) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("CallMinuteMonth"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the month's fields.
func (CallMinuteMonth) Fields() []ent.Field {
	return []ent.Field{
		// month is "2026-12", in Asia/Ho_Chi_Minh.
		field.String("month").NotEmpty().MaxLen(7).Immutable(),
		// quota_minutes counts the minutes charged to the month's quota,
		// including any beyond it (a call that ran past the last minute).
		field.Int("quota_minutes").Default(0).NonNegative(),
		// bonus_minutes counts the minutes taken from the bonus balance.
		field.Int("bonus_minutes").Default(0).NonNegative(),
	}
}

// Indexes returns the month's indexes.
func (CallMinuteMonth) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "month").Unique()}
}

// Annotations keeps the row out of GraphQL; callMinutes exposes it.
func (CallMinuteMonth) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves the rows to internal/callminutes, which works as the
// system.
func (CallMinuteMonth) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
