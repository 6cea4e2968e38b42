package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
)

// WebhookAttempt is one POST of a delivery, for the delivery log: when,
// what the partner answered and how fast. Attempts are kept 30 days.
type WebhookAttempt struct{ ent.Schema }

// Mixin returns the attempt's mixins.
func (WebhookAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("WebhookAttempt"), TenantMixin{}}
}

// Fields returns the attempt's fields.
func (WebhookAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.String("delivery_id").GoType(gid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.Time("at").Immutable(),
		// status_code is the partner's HTTP status; empty when no answer
		// came.
		field.Int("status_code").Optional().Nillable().Immutable(),
		field.Int("duration_ms").Immutable(),
		// error says why the attempt failed without an answer, or with a
		// refused one.
		field.String("error").MaxLen(500).Optional().Nillable().Immutable(),
		// response is the start of the partner's answer.
		field.String("response").MaxLen(2048).Default("").Immutable(),
	}
}

// Edges returns the attempt's edges.
func (WebhookAttempt) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("delivery", WebhookDelivery.Type).Field("delivery_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes returns the attempt's indexes.
func (WebhookAttempt) Indexes() []ent.Index {
	return []ent.Index{index.Fields("delivery_id", "at"), index.Fields("at")}
}

// Annotations keeps attempts out of mutations; they are read through
// their delivery.
func (WebhookAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipOrderField),
	}
}

// Policy: the endpoints' (see WebhookEndpoint.Policy).
func (WebhookAttempt) Policy() ent.Policy { return endpointManagers() }
