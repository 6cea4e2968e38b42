package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// CallOperator is a user who makes and takes a Zalo OA's voice calls. An OA
// has at most five (internal/call enforces it under a lock on the channel);
// a deactivated user keeps the row but is no operator while inactive.
type CallOperator struct{ ent.Schema }

// Mixin returns the call operator's mixins.
func (CallOperator) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("CallOperator"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the call operator's fields.
func (CallOperator) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("user_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.Enum("role").Values("ADMIN", "CUSTOMER_CARE").
			Annotations(entgql.Type("CallOperatorRole")),
		// added_by_id is the admin who added the operator; empty when an
		// API key did.
		field.String("added_by_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the call operator's edges.
func (CallOperator) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
		edge.To("added_by", User.Type).Field("added_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes returns the call operator's indexes.
func (CallOperator) Indexes() []ent.Index {
	return []ent.Index{
		// The same user twice on one OA is a CONFLICT; the index settles
		// two concurrent adds.
		index.Fields("channel_id", "user_id").Unique(),
		index.Fields("user_id"),
	}
}

// Policy lets every member see who the operators are and only OWNERs and
// ADMINs add or remove them.
func (CallOperator) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
