package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Channel is a Zalo Official Account, a Facebook page or a website widget an
// organization talks to customers through (README.md, "Channels"). Its credentials
// are sealed by internal/secret and never leave the server.
type Channel struct{ ent.Schema }

// Mixin returns the channel's mixins.
func (Channel) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Channel"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the channel's fields.
func (Channel) Fields() []ent.Field {
	sealed := func(name string) ent.Field {
		return field.Bytes(name).Optional().Sensitive().Annotations(entgql.Skip())
	}
	return []ent.Field{
		field.Enum("kind").Values("ZALO_OA", "FACEBOOK_PAGE", "LIVETALK").Immutable().
			Annotations(entgql.Type("ChannelKind")),
		// external_id is the OA ID or page ID; webhooks find the channel by
		// it. schema.graphqls exposes it as externalId, the name clients
		// know it by.
		field.String("external_id").NotEmpty().MaxLen(100).Immutable().
			Annotations(entgql.Skip()),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("status").Values("CONNECTED", "DISCONNECTED").Default("CONNECTED").
			Annotations(entgql.Type("ChannelStatus")),
		// status_reason says why a channel was disconnected.
		field.String("status_reason").Optional().MaxLen(500),
		field.Enum("chat_permission").Values("ONLY_ME", "SHARED").Default("ONLY_ME").
			Annotations(entgql.Type("ChatPermission")),
		field.String("description").Optional().MaxLen(1000),
		field.Bool("published").Default(false),
		field.Bool("is_testing").Default(false),
		// app_id is the Zalo or Facebook app the channel was authorized for.
		field.String("app_id").Optional().MaxLen(100).
			Annotations(entgql.Skip()),
		sealed("access_token"),
		sealed("refresh_token"),
		// app_secret signs OAuth refreshes (Zalo) and webhooks (Facebook).
		sealed("app_secret"),
		// webhook_secret verifies Zalo webhook signatures; for Facebook it
		// is the verify token of the subscription handshake.
		sealed("webhook_secret"),
		field.Time("access_token_expires_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.String("connected_by_id").GoType(gid.ID("")).Optional().
			Annotations(entgql.Skip()),
		field.Time("last_connected_at"),
		// connection_lost_at is when the provider last refused the
		// channel's token or the page stopped sending it webhooks; a
		// reconnect clears it. connectionStatus is CONNECTION_LOST while
		// it is set.
		field.Time("connection_lost_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		// rule_id is the distribution rule of the channel's conversations,
		// if any; set through the rule's channel list.
		field.String("rule_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		// widget_key is a LIVETALK channel's public key: the website's
		// widget names its channel by it (internal/livetalk). It is in the
		// page, so it is no secret; rotating it retires the old one.
		field.String("widget_key").Optional().Nillable().Unique().MaxLen(64).
			Annotations(entgql.Skip()),
		// allowed_origins are the website origins (scheme://host[:port])
		// a LIVETALK channel's visitor API answers.
		field.JSON("allowed_origins", []string{}).Optional().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the channel's edges.
func (Channel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("connected_by", User.Type).Field("connected_by_id").Unique(),
		edge.To("rule", Rule.Type).Field("rule_id").Unique(),
		edge.From("conversations", Conversation.Type).Ref("channel").
			Annotations(entgql.Skip()),
		edge.From("auto_messages", AutoMessage.Type).Ref("channel"),
		// For policies: an OA's operators see its calls.
		edge.From("call_operators", CallOperator.Type).Ref("channel").
			Annotations(entgql.Skip()),
	}
}

// Indexes returns the channel's indexes.
func (Channel) Indexes() []ent.Index {
	return []ent.Index{
		// One OA or page belongs to one organization, so a webhook names
		// exactly one channel.
		index.Fields("kind", "external_id").Unique(),
	}
}

// Annotations configures GraphQL generation.
func (Channel) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
	}
}

// Policy lets every member see the organization's channels and only OWNERs
// and ADMINs configure them.
func (Channel) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
