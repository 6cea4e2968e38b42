package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// MessageTemplate is a canned answer agents insert ("tin nhắn mẫu"); its
// name is unique within the organization.
type MessageTemplate struct{ ent.Schema }

// Mixin returns the template's mixins.
func (MessageTemplate) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("MessageTemplate"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the template's fields.
func (MessageTemplate) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Text("content").NotEmpty().MaxLen(4000),
	}
}

// Indexes returns the template's indexes.
func (MessageTemplate) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "name").Unique()}
}

// Annotations configures GraphQL generation.
func (MessageTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy lets every member use templates and OWNERs and ADMINs manage them.
func (MessageTemplate) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
