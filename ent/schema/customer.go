package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
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

// Customer is a person or business an organization sells to and cares for
// (README.md, "Customers").
type Customer struct{ ent.Schema }

// Mixin returns the customer's mixins.
func (Customer) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Customer"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the customer's fields.
func (Customer) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		// phone is E.164 (+84912345678), normalized by
		// the customer hooks; unique per organization.
		field.String("phone").Optional().Nillable().MaxLen(20),
		field.String("email").Optional().Nillable().MaxLen(254),
		field.String("avatar_url").Optional().Nillable().MaxLen(2048),
		field.Enum("gender").Values("MALE", "FEMALE", "OTHER").Optional().Nillable(),
		field.Time("birthday").Optional().Nillable(),
		field.String("address").Optional().Nillable().MaxLen(500),
		field.Enum("stage").
			Values("LEAD", "CONTACT", "OPPORTUNITY", "CUSTOMER", "CHURNED").
			Default("LEAD").
			Annotations(entgql.OrderField("STAGE")),
		field.String("owner_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		// source_channel_id is the channel the customer first wrote from.
		field.String("source_channel_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Int("score").Default(0).
			Annotations(entgql.OrderField("SCORE")),
		field.JSON("custom_fields", map[string]any{}).Optional().
			Annotations(entgql.Type("Map")),
		field.Bool("do_not_contact").Default(false),
		// search_text folds name, phone forms and email (no diacritics, lower
		// case) for search that ignores Vietnamese accents.
		field.Text("search_text").Default("").
			Annotations(entgql.Skip()),
	}
}

// Edges returns the customer's edges.
func (Customer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("owner", User.Type).Field("owner_id").Unique(),
		edge.To("tags", Tag.Type),
		edge.To("source_channel", Channel.Type).Field("source_channel_id").Unique().Immutable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		// For policies: who may see a customer's calls depends on their
		// conversations.
		edge.From("conversations", Conversation.Type).Ref("customer").
			Annotations(entgql.Skip()),
	}
}

// Indexes returns the customer's indexes.
func (Customer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "phone").Unique(),
		index.Fields("organization_id", "email").Unique(),
		index.Fields("organization_id", "created_at"),
		index.Fields("organization_id", "owner_id"),
		// A trigram index makes substring search fast on PostgreSQL.
		index.Fields("search_text").
			Annotations(
				entsql.IndexTypes(map[string]string{dialect.Postgres: "GIN"}),
				entsql.OpClass("gin_trgm_ops"),
			),
	}
}

// Annotations configures GraphQL generation.
func (Customer) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		// The customers query is declared in schema.graphqls: it adds search.
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
		entgql.MultiOrder(),
	}
}

// Policy lets every user and WRITE key create and edit customers; deleting is
// for admins and WRITE keys.
func (Customer) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, m ent.Mutation) bool {
				if m.Op().Is(ent.OpDelete) || m.Op().Is(ent.OpDeleteOne) {
					return v.IsAdmin() || v.IsAPIKey()
				}
				return true
			}),
			policy.AlwaysDeny(),
		},
	}
}
