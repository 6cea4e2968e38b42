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

// ZnsCampaignRecipient is one customer of a ZNS campaign's segment, fixed
// when the campaign is created: SKIPPED with a reason, or PENDING with the
// number and filled parameters to send until the campaign's runner queues
// its message (QUEUED), in the transaction that creates that message.
type ZnsCampaignRecipient struct{ ent.Schema }

// Mixin returns the recipient's mixins.
func (ZnsCampaignRecipient) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("ZnsCampaignRecipient"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the recipient's fields.
func (ZnsCampaignRecipient) Fields() []ent.Field {
	return []ent.Field{
		field.String("campaign_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Enum("status").Values("PENDING", "QUEUED", "SKIPPED").
			Annotations(entgql.Type("ZnsCampaignRecipientStatus")),
		// skip_reason says why a SKIPPED recipient is not sent to, and
		// skip_detail, for INVALID_PARAMS, which parameter failed.
		field.Enum("skip_reason").Values("NO_PHONE", "INVALID_PHONE", "DO_NOT_CONTACT", "INVALID_PARAMS").
			Optional().Nillable().Immutable().
			Annotations(entgql.Type("ZnsSkipReason")),
		field.String("skip_detail").Optional().Nillable().MaxLen(500).Immutable(),
		// phone (E.164) and params are what the message will carry;
		// empty for a skipped recipient.
		field.String("phone").MaxLen(20).Default("").Immutable(),
		field.JSON("params", map[string]string{}).Optional().Immutable().
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		// tracking_id is derived from the campaign and the customer, so
		// the message can be created once only (unique per channel).
		field.String("tracking_id").MaxLen(48).Immutable().
			Annotations(entgql.Skip(entgql.SkipType)),
		field.String("message_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the recipient's edges.
func (ZnsCampaignRecipient) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("campaign", ZnsCampaign.Type).Field("campaign_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("message", ZnsMessage.Type).Field("message_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes returns the recipient's indexes.
func (ZnsCampaignRecipient) Indexes() []ent.Index {
	return []ent.Index{
		// The runner's scan of the pending recipients, in ID order.
		index.Fields("campaign_id", "status", "id"),
		index.Fields("campaign_id", "tracking_id").Unique(),
		index.Fields("customer_id"),
	}
}

// Annotations configures GraphQL generation.
func (ZnsCampaignRecipient) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// Policy lets every member read the recipients and leaves every change to
// internal/zns.
func (ZnsCampaignRecipient) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
