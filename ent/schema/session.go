package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// Session is a user's login: a bearer token stored only as its SHA-256, with
// an expiry, revoked by logout or by deactivating the user.
type Session struct{ ent.Schema }

// Mixin returns the session's mixins.
func (Session) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Session"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the session's fields.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(gid.ID("")).Immutable(),
		field.Bytes("token_hash").Sensitive().Unique().Immutable(),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges returns the session's edges.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the session's indexes.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Annotations keeps sessions out of the GraphQL API.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves sessions to the auth package, which works as the system.
func (Session) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
