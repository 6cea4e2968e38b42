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

// WebhookDelivery is one event of the log on its way to one endpoint
// (README.md, "Partner webhooks"): created once per endpoint and event by
// the feeder, then claimed by the delivery worker (internal/delivery) until
// the partner accepts it or it is given up. Its ID is the X-Dakenh-Delivery
// header, the same on every retry and redelivery.
type WebhookDelivery struct{ ent.Schema }

// Mixin returns the delivery's mixins.
func (WebhookDelivery) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("WebhookDelivery"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the delivery's fields.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.String("endpoint_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		// event_seq is the event's number in the organization's log: the
		// endpoint's order of delivery.
		field.Int64("event_seq").Immutable().Annotations(entgql.Skip()),
		field.String("event_id").GoType(gid.ID("")).Immutable().Annotations(entgql.Skip()),
		field.String("event_type").MaxLen(60).Immutable(),
		// payload is the JSON body, rendered once when the delivery is
		// made, so every retry sends the same bytes.
		field.Bytes("payload").Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("PENDING", "DELIVERED", "FAILED").Default("PENDING").
			Annotations(entgql.Type("WebhookDeliveryStatus")),
		// tries counts the claims since the delivery was made or last
		// redelivered; it fences each outcome (internal/delivery).
		field.Int("tries").Default(0).Annotations(entgql.Skip()),
		field.Time("next_attempt_at").Optional().Nillable(),
		field.Time("lease_until").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("last_error").MaxLen(500).Optional().Nillable(),
		field.Time("delivered_at").Optional().Nillable(),
	}
}

// Edges returns the delivery's edges.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("endpoint", WebhookEndpoint.Type).Field("endpoint_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.From("attempts", WebhookAttempt.Type).Ref("delivery"),
	}
}

// Indexes returns the delivery's indexes.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		// One delivery per endpoint and event, whichever replica feeds.
		index.Fields("endpoint_id", "event_seq").Unique(),
		index.Fields("status", "next_attempt_at"),
		index.Fields("created_at"),
		// The claim's two look-ups per endpoint (internal/partner,
		// deliveries.go): its oldest pending delivery, and whether one of
		// its deliveries is in flight. Partial, so they hold only the few
		// pending rows, not the log of delivered ones.
		index.Fields("endpoint_id", "event_seq").
			Annotations(entsql.IndexWhere("status = 'PENDING'")).
			StorageKey("webhookdelivery_pending_endpoint_id_event_seq"),
		index.Fields("endpoint_id").
			Annotations(entsql.IndexWhere("status = 'PENDING' AND lease_until IS NOT NULL")).
			StorageKey("webhookdelivery_leased_endpoint_id"),
	}
}

// Annotations makes deliveries a connection; schema.graphqls lists an
// endpoint's (webhookDeliveries).
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}

// Policy: the endpoints' (see WebhookEndpoint.Policy).
func (WebhookDelivery) Policy() ent.Policy { return endpointManagers() }
