package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/ent/schema/schematype"
)

// Department is a receiving department ("bộ phận tiếp nhận", README.md, "Departments"):
// a named group of agents with a distribution method and an offer timeout.
// The organization's default department receives the conversations of its
// SHARED Zalo and Facebook channels that are in no rule. The same engine
// distributes for rules and departments.
type Department struct{ ent.Schema }

// Mixin returns the department's mixins.
func (Department) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Department"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the department's fields.
func (Department) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		// method is SEQUENTIAL, BROADCAST or RANDOM (the department modes
		// of the product); internal/distribute checks it.
		field.Enum("method").GoType(schematype.DistributionMethod("")).
			Annotations(entgql.Type("DistributionMethod")),
		field.Int("offer_timeout_seconds").Range(5, 3600).Default(30),
		field.Bool("is_default").Default(false),
		// turn is the shared round-robin position, as on Rule.
		field.Int("turn").Default(-1).Annotations(entgql.Skip()),
	}
}

// Edges returns the department's edges.
func (Department) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("members", Member.Type).Ref("department").Annotations(entgql.Skip()),
		edge.From("conversations", Conversation.Type).Ref("department").Annotations(entgql.Skip()),
	}
}

// Indexes returns the department's indexes.
func (Department) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "name").Unique(),
		// One default department per organization, whatever races.
		index.Fields("organization_id").Unique().StorageKey("department_one_default").
			Annotations(entsql.IndexWhere("is_default")),
	}
}

// Annotations configures GraphQL generation.
func (Department) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("departments"),
	}
}

// Policy lets every member see the departments and only OWNERs and ADMINs
// configure them.
func (Department) Policy() ent.Policy { return adminConfigured() }
