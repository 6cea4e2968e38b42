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

// Conversation is the thread between a customer and an organization on one
// channel (product.md §5). At most one per channel and customer is open at a
// time; a resolved one stays as history.
type Conversation struct{ ent.Schema }

// Mixin returns the conversation's mixins.
func (Conversation) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Conversation"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the conversation's fields.
func (Conversation) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).
			Annotations(entgql.Skip()),
		field.Enum("status").Values("OPEN", "PENDING", "RESOLVED").Default("OPEN").
			Annotations(entgql.Type("ConversationStatus"), entgql.OrderField("STATUS")),
		field.String("assignee_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Int("unread_count").Default(0).NonNegative(),
		field.Time("last_message_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_MESSAGE_AT")),
		// last_inbound_at starts Messenger's 24-hour reply window.
		field.Time("last_inbound_at").Optional().Nillable(),
	}
}

// Edges returns the conversation's edges.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("assignee", User.Type).Field("assignee_id").Unique(),
		edge.From("messages", Message.Type).Ref("conversation").
			Annotations(entgql.RelayConnection(), entgql.OrderField("MESSAGES_COUNT")),
	}
}

// Indexes returns the conversation's indexes.
func (Conversation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "last_message_at"),
		index.Fields("customer_id"),
		index.Fields("assignee_id"),
		// Concurrent webhooks for a new customer must not open two
		// conversations: only one unresolved per channel and customer.
		index.Fields("channel_id", "customer_id").Unique().
			Annotations(entsql.IndexWhere("status <> 'RESOLVED'")),
	}
}

// Annotations configures GraphQL generation.
func (Conversation) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		// The conversations query is declared in schema.graphqls: it adds
		// a customer search.
	}
}

// Policy hides the conversations of ONLY_ME channels from everyone but the
// user who connected the channel (admins and API keys included); on SHARED
// channels every member sees them until distribution rules say otherwise.
func (Conversation) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.FilterConversations("channel"), policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.FilterConversations("channel"), policy.AlwaysAllow()},
	}
}
