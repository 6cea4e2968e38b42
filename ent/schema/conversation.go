package schema

import (
	"context"
	"fmt"
	"time"

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
// channel (README.md, "Conversations and messages"). At most one per channel and customer is open at a
// time; a resolved one stays as history.
type Conversation struct{ ent.Schema }

// Mixin returns the conversation's mixins.
func (Conversation) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Conversation"), TimeMixin{}, TenantMixin{Visitor: policy.VisitorOwnConversation}}
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
		// resolved_at is when the conversation was last resolved; empty
		// while it is not RESOLVED. The hook below keeps it, for the
		// conversation report's resolution times.
		field.Time("resolved_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.String("assignee_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Int("unread_count").Default(0).NonNegative(),
		field.Time("last_message_at").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_MESSAGE_AT")),
		// last_message_id is the newest message, the one last_message_at
		// dates; it is set in the transaction that stores a message, so
		// an inbox page reads each conversation's last message by its key
		// instead of searching the conversation's messages.
		field.String("last_message_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		// last_inbound_at starts Messenger's 24-hour reply window.
		field.Time("last_inbound_at").Optional().Nillable(),
		// The distribution state (internal/distribute): the rule or
		// department that distributes the conversation (neither: it is
		// open to every member, or its channel is ONLY_ME), and where it
		// stands. Only OFFERED conversations have PENDING offers.
		field.String("rule_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.String("department_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Enum("distribution_state").Values("NONE", "UNCLAIMED", "OFFERED", "WAITING", "ASSIGNED").Default("NONE").
			Annotations(entgql.Type("DistributionState")),
		// offer_seq numbers the steps of the distribution; an offer's
		// timeout fires only if no step came since it was scheduled.
		field.Int("offer_seq").Default(0).Annotations(entgql.Skip()),
		// offer_expires_at is when the pending offers time out.
		field.Time("offer_expires_at").Optional().Nillable(),
	}
}

// Edges returns the conversation's edges.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("assignee", User.Type).Field("assignee_id").Unique(),
		edge.To("rule", Rule.Type).Field("rule_id").Unique(),
		edge.To("department", Department.Type).Field("department_id").Unique(),
		edge.From("offers", Offer.Type).Ref("conversation").Annotations(entgql.Skip()),
		// lastMessage is resolved by graph (the page loads them at once).
		edge.To("last_message", Message.Type).Field("last_message_id").Unique().
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.SetNull)),
		edge.From("messages", Message.Type).Ref("conversation").
			Annotations(entgql.RelayConnection(), entgql.OrderField("MESSAGES_COUNT")),
	}
}

// Hooks stamp resolved_at whenever a mutation sets the status, whoever
// makes it (an agent, a merge resolving the source's conversations), so
// the report's resolution times cannot miss a path.
func (Conversation) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if _, given := m.Field("resolved_at"); given {
					// A caller that knows when (a backfill, a test's
					// history) says so itself.
					return next.Mutate(ctx, m)
				}
				if status, ok := m.Field("status"); ok {
					if fmt.Sprint(status) == "RESOLVED" {
						if err := m.SetField("resolved_at", time.Now()); err != nil {
							return nil, err
						}
					} else if err := m.ClearField("resolved_at"); err != nil {
						return nil, err
					}
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// Indexes returns the conversation's indexes.
func (Conversation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "last_message_at"),
		// The conversation report reads conversations opened and resolved
		// in a range.
		index.Fields("organization_id", "created_at"),
		index.Fields("organization_id", "resolved_at"),
		index.Fields("customer_id"),
		index.Fields("assignee_id"),
		// Presence and membership changes look for a pool's waiting
		// conversations.
		index.Fields("rule_id", "distribution_state"),
		index.Fields("department_id", "distribution_state"),
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
// channels agents see what distribution gives them (policy.FilterConversations).
func (Conversation) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.FilterConversations(""), policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.FilterConversations(""), policy.AlwaysAllow()},
	}
}
