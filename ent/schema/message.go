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

	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// Message is one message of a conversation, inbound or outbound. Outbound
// messages are also the delivery queue: a worker claims QUEUED rows whose
// next_attempt_at has come, so nothing accepted is lost to a crash.
type Message struct{ ent.Schema }

// Mixin returns the message's mixins.
func (Message) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Message"), TimeMixin{}, TenantMixin{Visitor: policy.VisitorOwnMessages}}
}

// Fields returns the message's fields.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.String("conversation_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		// channel_id repeats the conversation's so provider IDs can be
		// unique per channel.
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.Enum("direction").Values("INBOUND", "OUTBOUND").Immutable().
			Annotations(entgql.Type("MessageDirection")),
		field.Enum("kind").
			// FORM, PROMOTION and TRANSACTION are OA messages
			// (internal/oamessage).
			Values("TEXT", "IMAGE", "FILE", "STICKER", "LINK", "LOCATION", "AUDIO", "VIDEO", "OTHER",
				"FORM", "PROMOTION", "TRANSACTION").
			Default("TEXT").
			Annotations(entgql.Type("MessageKind")),
		field.Text("text").Optional(),
		field.JSON("attachments", []schematype.Attachment{}).Optional().
			Annotations(entgql.Type("[Attachment!]")),
		// content is what an OA message carries besides text and
		// attachments: a form's picture, a template and its data.
		field.JSON("content", &schematype.OAContent{}).Optional().
			Annotations(entgql.Type("OAMessageContent"), entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)),
		field.String("provider_message_id").Optional().Nillable().MaxLen(200).
			Annotations(entgql.Skip()),
		field.Enum("status").
			Values("RECEIVED", "QUEUED", "SENT", "DELIVERED", "SEEN", "FAILED", "CANCELLED").
			Annotations(entgql.Type("MessageStatus")),
		field.String("failure_reason").Optional().MaxLen(500),
		field.Enum("sender_type").Values("CUSTOMER", "USER", "SYSTEM").Immutable().
			Annotations(entgql.Type("SenderType")),
		field.String("sender_user_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		// auto_message_id names the auto-message a SYSTEM message was sent
		// for; it also tells auto-messages from replies.
		field.String("auto_message_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Time("sent_at").Optional().Nillable(),
		field.Time("delivered_at").Optional().Nillable(),
		field.Time("seen_at").Optional().Nillable(),
		// The delivery queue: attempts made, when to try next, why the
		// last attempt failed, and until when a worker holds the row. The
		// first three are shown so an agent sees a reply in trouble before
		// it is FAILED.
		field.Int("attempts").Default(0).
			Annotations(entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)),
		field.Time("next_attempt_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)),
		field.String("last_error").Optional().Nillable().MaxLen(500).
			Annotations(entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)),
		field.Time("lease_until").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges returns the message's edges.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().Immutable(),
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.To("sender_user", User.Type).Field("sender_user_id").Unique().Immutable(),
		// Deleting an auto-message keeps the messages it sent.
		edge.To("auto_message", AutoMessage.Type).Field("auto_message_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes returns the message's indexes.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		// Providers retry webhooks: the same provider ID is one message.
		index.Fields("channel_id", "provider_message_id").Unique(),
		index.Fields("conversation_id", "created_at"),
		index.Fields("status", "next_attempt_at"),
		// The conversation report counts an organization's messages in a
		// range.
		index.Fields("organization_id", "created_at"),
	}
}

// Annotations configures GraphQL generation.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy shows a message to whoever sees its conversation.
func (Message) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.FilterConversations("conversation"), policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.FilterConversations("conversation"), policy.AlwaysAllow()},
	}
}
