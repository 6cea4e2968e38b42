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

// Timer is a durable timer: work of some kind that is due at a time, such as
// an offer's timeout. internal/timer runs each one once, on whichever
// replica claims it, in the transaction that deletes it, so a restart or a
// dead replica neither loses nor doubles a step.
type Timer struct{ ent.Schema }

// Mixin returns the timer's mixins.
func (Timer) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Timer"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the timer's fields.
func (Timer) Fields() []ent.Field {
	return []ent.Field{
		// kind selects the handler, e.g. "distribute.offer".
		field.String("kind").NotEmpty().MaxLen(100).Immutable(),
		// key tells apart the timers of one kind (a conversation's ID, say);
		// scheduling the same organization, kind and key again replaces the
		// pending timer.
		field.String("key").MaxLen(200).Immutable(),
		field.Time("due_at"),
		// payload is the handler's data; it goes through JSON, so numbers
		// come back as float64.
		field.JSON("payload", map[string]any{}).Optional(),
		// attempts counts failed runs; each failure moves due_at further
		// out.
		field.Int("attempts").Default(0).NonNegative(),
		field.String("last_error").Optional().MaxLen(1000),
	}
}

// Indexes returns the timer's indexes.
func (Timer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "kind", "key").Unique(),
		// Workers look for due timers across organizations.
		index.Fields("due_at"),
	}
}

// Annotations keeps timers out of the GraphQL API.
func (Timer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves timers to the timer package, which works as the system (the
// tenant mixin's policy admits it before these rules).
func (Timer) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
