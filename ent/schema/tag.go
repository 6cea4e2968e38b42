package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Tag is a label on customers, unique by name within an organization.
type Tag struct{ ent.Schema }

// Mixin returns the tag's mixins.
func (Tag) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Tag"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the tag's fields.
func (Tag) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.String("color").Optional().MaxLen(20),
	}
}

// Edges returns the tag's edges.
func (Tag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customers", Customer.Type).Ref("tags").
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes returns the tag's indexes.
func (Tag) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "name").Unique()}
}

// Annotations configures GraphQL generation.
func (Tag) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy lets every user label customers; removing a tag is for admins.
func (Tag) Policy() ent.Policy {
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
