package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// APIKey lets a partner system act for an organization. The key is shown
// once; only its SHA-256 is stored.
type APIKey struct{ ent.Schema }

// Mixin returns the API key's mixins.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("APIKey"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the API key's fields.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		// prefix is the start of the key, shown so people can tell keys apart.
		field.String("prefix").Immutable(),
		field.Bytes("key_hash").Sensitive().Unique().Immutable(),
		field.JSON("scopes", []viewer.Scope{}).
			Annotations(entgql.Type("[ApiKeyScope!]")),
		field.String("created_by_id").GoType(gid.ID("")).Optional().Immutable().
			Annotations(entgql.Skip()),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges returns the API key's edges.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Immutable(),
	}
}

// Annotations configures GraphQL generation.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Type("ApiKey"),
		entgql.RelayConnection(),
		entgql.QueryField("apiKeys"),
		entgql.Skip(entgql.SkipWhereInput),
	}
}

// Policy limits API keys to OWNERs and ADMINs: a key cannot mint keys.
func (APIKey) Policy() ent.Policy {
	admin := func(v *viewer.Viewer) bool { return v.IsAdmin() }
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQueryIf(admin), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return admin(v) }),
			policy.AlwaysDeny(),
		},
	}
}
