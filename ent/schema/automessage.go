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
	"github.com/dakenh/dakenh/internal/viewer"
)

// AutoMessage is a message a channel sends customers on its own
// (README.md, "Auto-messages"): a GREETING popup of the website widget, optionally
// re-sent as the first message; START messages when a conversation opens;
// NO_REPLY messages when agents are online but nobody answers; OFFLINE
// messages when no agent is online. The rules that tie the fields to the
// kind are the hook in automessage_rules.go.
type AutoMessage struct{ ent.Schema }

// Mixin returns the auto-message's mixins.
func (AutoMessage) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("AutoMessage"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the auto-message's fields.
func (AutoMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.Enum("kind").Values("GREETING", "START", "NO_REPLY", "OFFLINE").Immutable().
			Annotations(entgql.Type("AutoMessageKind"), entgql.OrderField("KIND")),
		field.String("title").Optional().MaxLen(200),
		// path is the page of the website where a GREETING pops up; the
		// other kinds have none, so it is NULL for them and the partial
		// unique index below only compares greetings.
		field.String("path").Optional().Nillable().MaxLen(maxAutoMessagePathLen),
		// contents are sent in order, one message each.
		field.Strings("contents"),
		field.Int("delay_seconds").Default(0),
		field.Int("interval_seconds").Default(0),
		field.Bool("resend_as_message").Default(false),
		field.Bool("enabled").Default(true),
	}
}

// Edges returns the auto-message's edges.
func (AutoMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the auto-message's indexes.
func (AutoMessage) Indexes() []ent.Index {
	return []ent.Index{
		// A page shows one greeting: paths are unique among a channel's
		// greetings. The hook reports a clash as CONFLICT on path; the
		// index settles two concurrent creations.
		index.Fields("channel_id", "path").Unique().
			Annotations(entsql.IndexWhere("kind = 'GREETING'")),
		// START, NO_REPLY and OFFLINE each hold a sequence of contents, so
		// one of each per channel is enough, and two would both be sent.
		index.Fields("channel_id", "kind").Unique().
			Annotations(entsql.IndexWhere("kind <> 'GREETING'")),
	}
}

// Annotations configures GraphQL generation. The mutations are declared in
// schema.graphqls, whose inputs keep the names clients depend on.
func (AutoMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
	}
}

// Policy lets every member and READ key see the auto-messages (the widget
// needs the greetings) and only OWNERs and ADMINs configure them.
func (AutoMessage) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
