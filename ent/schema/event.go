package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// Event is one entry of an organization's ordered event log, written in the
// same transaction as the change it reports. Subscriptions replay it from a
// cursor and then follow it live, so a client that reconnects misses
// nothing.
type Event struct{ ent.Schema }

// Mixin returns the event's mixins.
func (Event) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Event"), TenantMixin{}}
}

// Fields returns the event's fields. Events refer to their subjects by ID
// without foreign keys: the log is history and must not block deletes.
func (Event) Fields() []ent.Field {
	id := func(name string) ent.Field {
		return field.String(name).GoType(gid.ID("")).Optional().Immutable()
	}
	return []ent.Field{
		// seq orders the organization's events; it comes from the
		// organization's counter, taken in the writing transaction, so
		// events commit in seq order.
		field.Int64("seq").Immutable(),
		// LIVETALK events are a LiveTalk chat's live signals (an agent
		// typing), for the visitor's stream only (internal/livetalk).
		field.Enum("topic").Values("MESSAGE", "CONVERSATION", "CALL", "CHANNEL", "USER", "ZNS", "LIVETALK").Immutable(),
		field.String("type").NotEmpty().MaxLen(40).Immutable(),
		id("channel_id"),
		id("conversation_id"),
		id("message_id"),
		// user_id names the user a USER event is about (a presence change).
		id("user_id"),
		// call_id and call_permission_id name the subject of a CALL
		// event.
		id("call_id"),
		id("call_permission_id"),
		// zns_message_id names the subject of a ZNS event.
		id("zns_message_id"),
		// audience_user_id limits the event to one user (an ONLY_ME
		// channel's owner); empty means whoever may see the subject.
		id("audience_user_id"),
		// payload is the data of an event whose subject is not a row,
		// such as a LiveTalk call's WebRTC signal (internal/livecall); it
		// is JSON, at most a few kilobytes.
		field.Text("payload").Optional().Immutable(),
		field.Time("created_at").Immutable(),
	}
}

// Indexes returns the event's indexes.
func (Event) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "seq").Unique()}
}

// Annotations keeps the raw log out of the GraphQL schema; subscriptions
// expose it.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves the log to the event package, which works as the system.
func (Event) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
