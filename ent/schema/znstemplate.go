package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// ZnsTemplate is a ZNS template of a Zalo OA, as the last sync (or a
// template webhook) saw it on Zalo (README.md, "ZNS"). Templates are
// created and approved on Zalo; internal/zns keeps these rows in step. A
// template gone from Zalo is DELETE, never deleted: sent messages point at
// it.
type ZnsTemplate struct{ ent.Schema }

// Mixin returns the template's mixins.
func (ZnsTemplate) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("ZnsTemplate"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the template's fields.
func (ZnsTemplate) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		// template_id is Zalo's ID of the template, unique per OA.
		// Its GraphQL name, templateId, is declared in schema.graphqls
		// (as are previewUrl and timeoutMs), since entgql would spell it
		// templateID.
		field.String("template_id").NotEmpty().MaxLen(64).Immutable().
			Annotations(entgql.Skip(entgql.SkipType)),
		field.String("name").MaxLen(500),
		field.Enum("status").Values("ENABLE", "PENDING_REVIEW", "REJECT", "DISABLE", "DELETE").
			Annotations(entgql.Type("ZnsTemplateStatus")),
		// tag is Zalo's templateTag: TRANSACTION, CUSTOMER_CARE or
		// PROMOTION; promotions are not sent between 22:00 and 06:00.
		field.String("tag").MaxLen(64).Default(""),
		field.JSON("params", []schematype.ZnsParam{}).
			Annotations(entgql.Type("[ZnsParam!]")),
		// price is what one send costs, in VND.
		field.Int("price").NonNegative().Default(0),
		field.String("quality").MaxLen(64).Default(""),
		field.String("preview_url").MaxLen(2048).Default("").
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)),
		field.Int("timeout_ms").NonNegative().Default(0).
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)),
		// daily_quota and remaining_quota are the template's sends per day
		// and what is left today, from the sync, each send's answer and
		// the quota webhook.
		field.Int("daily_quota").NonNegative().Default(0),
		field.Int("remaining_quota").NonNegative().Default(0),
		field.Time("synced_at").
			Annotations(entgql.OrderField("SYNCED_AT")),
	}
}

// Edges returns the template's edges.
func (ZnsTemplate) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the template's indexes.
func (ZnsTemplate) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "template_id").Unique(),
		index.Fields("organization_id", "status"),
	}
}

// Annotations configures GraphQL generation.
func (ZnsTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("znsTemplates"),
	}
}

// Policy lets every member read the templates and leaves every change to
// internal/zns, which checks who syncs and writes as the system.
func (ZnsTemplate) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
