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

// VisitorSession is a LiveTalk visitor's chat: the token startChat handed
// them, stored only as its SHA-256, with an expiry, and the one
// conversation it reaches (internal/livetalk).
type VisitorSession struct{ ent.Schema }

// Mixin returns the visitor session's mixins.
func (VisitorSession) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("VisitorSession"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the visitor session's fields.
func (VisitorSession) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable(),
		field.String("conversation_id").GoType(gid.ID("")).Immutable(),
		// visitor_id is the visitor's identity on the channel (its
		// external_id).
		field.String("visitor_id").NotEmpty().MaxLen(100).Immutable(),
		field.Bytes("token_hash").Sensitive().Unique().Immutable(),
		field.Time("expires_at"),
		// page_url is the page the visitor started the chat on, for agents.
		field.String("page_url").Optional().MaxLen(2000).Immutable(),
	}
}

// Edges returns the visitor session's edges.
func (VisitorSession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		// A conversation deleted with its customer takes its visitors'
		// sessions along.
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes returns the visitor session's indexes.
func (VisitorSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("conversation_id"), index.Fields("expires_at")}
}

// Annotations keeps visitor sessions out of the GraphQL API.
func (VisitorSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves visitor sessions to internal/livetalk, which works as the
// system.
func (VisitorSession) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
