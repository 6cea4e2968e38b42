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

// ZnsCampaign is one ZNS template sent to a customer segment (README.md,
// "ZNS campaigns"). Its recipients are fixed when it is created; a durable
// timer of internal/zns queues them in batches paced to the template's
// quota, and the counts follow the messages' statuses in the transactions
// that change them.
type ZnsCampaign struct{ ent.Schema }

// Mixin returns the campaign's mixins.
func (ZnsCampaign) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("ZnsCampaign"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the campaign's fields.
func (ZnsCampaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("template_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		// params are the template's parameters as given, placeholders
		// such as {{name}} included; each recipient has them filled.
		field.JSON("params", map[string]any{}).Immutable().
			Annotations(entgql.Type("Map")),
		field.Enum("status").Values("RUNNING", "PAUSED", "DONE", "CANCELLED").Default("RUNNING").
			Annotations(entgql.Type("ZnsCampaignStatus")),
		// waiting_for says why a RUNNING campaign sends nothing for now:
		// the template's quota is used up, promotions' quiet hours, or
		// the template or OA cannot send.
		field.Enum("waiting_for").Values("QUOTA", "QUIET_HOURS", "TEMPLATE", "CHANNEL").Optional().Nillable().
			Annotations(entgql.Type("ZnsCampaignWait")),
		// The counts: total recipients, those skipped at creation, and of
		// the others how many were queued, accepted by Zalo (delivered
		// ones included), delivered and failed.
		field.Int("total").NonNegative().Default(0),
		field.Int("queued").NonNegative().Default(0),
		field.Int("sent").NonNegative().Default(0),
		field.Int("delivered").NonNegative().Default(0),
		field.Int("failed").NonNegative().Default(0),
		field.Int("skipped").NonNegative().Default(0),
		field.Time("finished_at").Optional().Nillable(),
		field.String("created_by_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the campaign's edges.
func (ZnsCampaign) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("template", ZnsTemplate.Type).Field("template_id").Unique().Required().Immutable(),
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.From("recipients", ZnsCampaignRecipient.Type).Ref("campaign").
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes returns the campaign's indexes.
func (ZnsCampaign) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "created_at"),
	}
}

// Annotations configures GraphQL generation.
func (ZnsCampaign) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("znsCampaigns"),
	}
}

// Policy lets every member read the campaigns and leaves every change to
// internal/zns, which checks who creates and writes as the system.
func (ZnsCampaign) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
