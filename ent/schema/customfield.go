package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// CustomField defines one typed custom field of customers; customer values
// are validated against it.
type CustomField struct{ ent.Schema }

// Mixin returns the custom field's mixins.
func (CustomField) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("CustomField"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the custom field's fields.
func (CustomField) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Match(customFieldKey).Immutable().
			Annotations(entgql.OrderField("KEY")),
		field.String("label").NotEmpty().MaxLen(200),
		field.Enum("type").Values("TEXT", "NUMBER", "BOOLEAN", "DATE", "SELECT").Immutable(),
		// options are the allowed values of a SELECT field.
		field.Strings("options").Optional(),
	}
}

// Indexes returns the custom field's indexes.
func (CustomField) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "key").Unique()}
}

// Annotations configures GraphQL generation.
func (CustomField) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Policy lets admins define custom fields.
func (CustomField) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}

// customFieldKey is the shape of a custom field key: it appears in CSV
// headers and JSON, so it stays a plain identifier.
var customFieldKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
