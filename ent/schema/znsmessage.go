package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// ZnsMessage is one ZNS send (README.md, "ZNS"): stored QUEUED by sendZns
// after its parameters passed the template's rules, delivered by the
// durable delivery queue (internal/delivery) and moved to DELIVERED by
// Zalo's receipt. The table is the queue: attempts, lease_until and
// next_attempt_at are the delivery worker's.
type ZnsMessage struct{ ent.Schema }

// Mixin returns the message's mixins.
func (ZnsMessage) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("ZnsMessage"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the message's fields.
func (ZnsMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("template_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		// phone is the number sent to, in E.164 (+84…); Zalo gets it
		// without the plus.
		field.String("phone").NotEmpty().MaxLen(20).Immutable(),
		field.JSON("params", map[string]string{}).Immutable().
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		// tracking_id is the sender's key: unique per channel, so the same
		// send twice is one message.
		field.String("tracking_id").NotEmpty().MaxLen(48).Immutable().
			Annotations(entgql.Skip(entgql.SkipType)),
		field.Enum("status").Values("QUEUED", "SENT", "DELIVERED", "FAILED").Default("QUEUED").
			Annotations(entgql.Type("ZnsMessageStatus")),
		field.String("failure_reason").Optional().Nillable().MaxLen(500),
		field.String("last_error").Optional().Nillable().MaxLen(500).
			Annotations(entgql.Skip()),
		field.String("provider_message_id").Optional().Nillable().MaxLen(200).
			Annotations(entgql.Skip(entgql.SkipType)),
		// development sends with mode development (the channel is
		// isTesting): only the OA's admins receive it.
		field.Bool("development").Default(false).Immutable(),
		// cost is the template's price when Zalo accepted the send, in
		// VND; 0 until then.
		field.Int("cost").NonNegative().Default(0),
		field.Time("sent_at").Optional().Nillable(),
		field.Time("delivered_at").Optional().Nillable(),
		// campaign_id is the campaign that queued the message, if any.
		field.String("campaign_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.String("sender_user_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Int("attempts").NonNegative().Default(0).
			Annotations(entgql.Skip()),
		field.Time("next_attempt_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Time("lease_until").Optional().Nillable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the message's edges.
func (ZnsMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("template", ZnsTemplate.Type).Field("template_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("campaign", ZnsCampaign.Type).Field("campaign_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("sender", User.Type).Field("sender_user_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
	}
}

// Indexes returns the message's indexes.
func (ZnsMessage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "tracking_id").Unique(),
		index.Fields("channel_id", "provider_message_id").Unique(),
		// The delivery worker's claim.
		index.Fields("status", "next_attempt_at"),
		index.Fields("organization_id", "created_at"),
		index.Fields("customer_id", "created_at"),
	}
}

// Annotations configures GraphQL generation.
func (ZnsMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("znsMessages"),
	}
}

// Policy lets every member read the organization's ZNS messages and leaves
// every change to internal/zns, which checks the sender and writes as the
// system.
func (ZnsMessage) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
