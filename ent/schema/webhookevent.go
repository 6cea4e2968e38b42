package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// WebhookEvent is a provider event as it arrived, stored before the
// webhook answers 200 and processed afterwards, so an event the provider
// delivered is never lost, even when processing fails or the server stops.
// Events with unknown names are kept for diagnosis.
type WebhookEvent struct{ ent.Schema }

// Mixin returns the webhook event's mixins.
func (WebhookEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("WebhookEvent")}
}

// Fields returns the webhook event's fields.
func (WebhookEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("provider").Values("ZALO", "FACEBOOK").Immutable(),
		// dedupe_key is the provider's message ID (or an equivalent key),
		// so a provider's retry is the same row.
		field.String("dedupe_key").NotEmpty().MaxLen(300).Immutable(),
		field.String("event_name").MaxLen(100).Immutable(),
		field.String("organization_id").GoType(gid.ID("")).Optional().Nillable().Immutable(),
		field.String("channel_id").GoType(gid.ID("")).Optional().Nillable().Immutable(),
		field.Bytes("payload").Immutable(),
		field.Time("received_at").Default(time.Now).Immutable(),
		field.Time("processed_at").Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.String("last_error").Optional().MaxLen(1000),
		field.Time("next_attempt_at").Optional().Nillable(),
		// dead_at is when the event was parked after failing
		// MaxEventAttempts times; it waits for an admin to replay it.
		field.Time("dead_at").Optional().Nillable(),
	}
}

// Indexes returns the webhook event's indexes.
func (WebhookEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("provider", "dedupe_key").Unique(),
		index.Fields("processed_at", "next_attempt_at"),
		index.Fields("organization_id", "dead_at"),
	}
}

// Annotations keeps webhook events out of the GraphQL API.
func (WebhookEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves webhook events to the inbox, which works as the system.
func (WebhookEvent) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
	}
}
