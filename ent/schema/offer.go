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
)

// Offer is a conversation offered to one agent (SEQUENTIAL, BROADCAST and
// RANDOM distribution). The PENDING offers are whom the conversation waits
// on; the others record who was already tried in the current round, so the
// next offer goes to someone else. A new round starts with no offers.
type Offer struct{ ent.Schema }

// Mixin returns the offer's mixins.
func (Offer) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Offer"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the offer's fields.
func (Offer) Fields() []ent.Field {
	return []ent.Field{
		field.String("conversation_id").GoType(gid.ID("")).Immutable(),
		field.String("user_id").GoType(gid.ID("")).Immutable(),
		// status: PENDING until the agent accepts or declines, the offer
		// expires, or it is withdrawn (someone else took the conversation,
		// the agent went away or left the rule).
		field.Enum("status").Values("PENDING", "ACCEPTED", "DECLINED", "EXPIRED", "WITHDRAWN").Default("PENDING"),
	}
}

// Edges returns the offer's edges.
func (Offer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the offer's indexes.
func (Offer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("conversation_id", "user_id").Unique(),
		// Visibility asks "is it offered to me"; presence changes look up
		// an agent's pending offers.
		index.Fields("user_id", "status"),
	}
}

// Annotations keeps offers out of the GraphQL API; conversations expose
// offeredTo.
func (Offer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves offers to the distribution engine, which works as the system
// (the tenant mixin's policy admits it before these rules).
func (Offer) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
