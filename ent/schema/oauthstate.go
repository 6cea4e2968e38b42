package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// OAuthState is one attempt to connect a channel by a provider's consent
// screen: the hash of the state sent to the provider, the PKCE code
// verifier (sealed) and who started it. It is used once and expires, so a
// callback can only finish an attempt its admin started, once.
type OAuthState struct{ ent.Schema }

// Mixin returns the OAuth state's mixins.
func (OAuthState) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("OAuthState")}
}

// Fields returns the OAuth state's fields.
func (OAuthState) Fields() []ent.Field {
	return []ent.Field{
		// state_hash is the hex SHA-256 of the state; the state itself is
		// never stored, so reading the table does not let anyone finish
		// an attempt.
		field.String("state_hash").MaxLen(64).Unique().Immutable(),
		field.Enum("provider").Values("ZALO").Immutable(),
		field.String("organization_id").GoType(gid.ID("")).Immutable(),
		field.String("user_id").GoType(gid.ID("")).Immutable(),
		// code_verifier is sealed under the server secret.
		field.Bytes("code_verifier").Sensitive().Immutable(),
		field.String("redirect_uri").MaxLen(2000).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes returns the OAuth state's indexes.
func (OAuthState) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations keeps OAuth states out of the GraphQL API.
func (OAuthState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves OAuth states to the connect package, which works as the
// system.
func (OAuthState) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
	}
}
