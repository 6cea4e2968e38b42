package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/dakenh/dakenh/internal/policy"
)

// KeyCheck is a known value sealed under the server secret when the
// database first met it. Every server opens it at start, so a replica
// given another DAKENH_SECRET refuses to start instead of failing on every
// sealed credential later. It belongs to no organization.
type KeyCheck struct{ ent.Schema }

// Mixin returns the key check's mixins.
func (KeyCheck) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("KeyCheck")}
}

// Fields returns the key check's fields.
func (KeyCheck) Fields() []ent.Field {
	return []ent.Field{
		// name says which secret the row checks, e.g. DAKENH_SECRET.
		field.String("name").NotEmpty().MaxLen(100).Unique().Immutable(),
		field.Bytes("sealed").Sensitive(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Annotations keeps key checks out of the GraphQL API.
func (KeyCheck) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves key checks to the server's start, which works as the
// system.
func (KeyCheck) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
	}
}
