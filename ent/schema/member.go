package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
)

// Member is an agent's place in the ordered agent list of a rule or of a
// department (exactly one of the two). The order is what SEQUENTIAL offers
// and round robin follow.
type Member struct{ ent.Schema }

// Mixin returns the member's mixins.
func (Member) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Member"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the member's fields.
func (Member) Fields() []ent.Field {
	return []ent.Field{
		field.String("rule_id").GoType(gid.ID("")).Optional().Nillable().Immutable(),
		field.String("department_id").GoType(gid.ID("")).Optional().Nillable().Immutable(),
		field.String("user_id").GoType(gid.ID("")).Immutable(),
		field.Int("position").NonNegative(),
	}
}

// Edges returns the member's edges.
func (Member) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("rule", Rule.Type).Field("rule_id").Unique().Immutable(),
		edge.To("department", Department.Type).Field("department_id").Unique().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the member's indexes.
func (Member) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("rule_id", "user_id").Unique(),
		index.Fields("department_id", "user_id").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations keeps members out of the GraphQL API: rules and departments
// expose their agents as an ordered list.
func (Member) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy lets every member of the organization read the lists and only
// OWNERs and ADMINs change them.
func (Member) Policy() ent.Policy { return adminConfigured() }
