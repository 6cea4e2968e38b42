package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Identity is who a customer is on one channel: a Zalo user ID of an OA, a
// Facebook PSID of a page, a widget visitor ID. Inbound messages find their
// customer through it.
type Identity struct{ ent.Schema }

// Mixin returns the identity's mixins.
func (Identity) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Identity"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the identity's fields.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).
			Annotations(entgql.Skip()),
		field.String("external_id").NotEmpty().MaxLen(100).Immutable(),
		field.String("display_name").Optional().MaxLen(200),
		field.String("avatar_url").Optional().MaxLen(2048),
		field.Bool("follower").Optional().Nillable(),
		// profile_fetched_at is set once the provider's profile was read.
		field.Time("profile_fetched_at").Optional().Nillable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the identity's edges.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
	}
}

// Indexes returns the identity's indexes.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "external_id").Unique(),
		index.Fields("customer_id"),
		// The profile worker looks for identities whose profile was never
		// read; only those rows are indexed.
		index.Fields("channel_id").Annotations(entsql.IndexWhere("profile_fetched_at IS NULL")),
	}
}

// Annotations configures GraphQL generation.
func (Identity) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// Policy leaves creating identities to the inbox, which works from webhooks
// as the system; moving one to another customer (a merge) is for those who
// may merge.
func (Identity) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, m ent.Mutation) bool {
				return m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) && (v.IsAdmin() || v.IsAPIKey())
			}),
			policy.AlwaysDeny(),
		},
	}
}
