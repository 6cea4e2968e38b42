package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/policy"
)

// LoginAttempt records a failed login, keyed by account or by client
// address, so login rate limits hold across server replicas. It belongs to no
// organization: it is written before anyone is known.
type LoginAttempt struct{ ent.Schema }

// Mixin returns the login attempt's mixins.
func (LoginAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("LoginAttempt")}
}

// Fields returns the login attempt's fields.
func (LoginAttempt) Fields() []ent.Field {
	return []ent.Field{
		// key is "pair:<email> <address>", "email:<email>" or
		// "ip:<address>" (hashed when too long); never a password.
		field.String("key").MaxLen(300).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Indexes returns the login attempt's indexes.
func (LoginAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("key", "created_at")}
}

// Annotations keeps login attempts out of the GraphQL API.
func (LoginAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves login attempts to the auth package, which works as the
// system.
func (LoginAttempt) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
	}
}
