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

// Call is one voice call of a Zalo OA with a customer (README.md, "Voice
// calls"), or one audio or video call of a LiveTalk visitor (README.md,
// "Call minutes and LiveTalk calls"). An outbound call starts as the ticket
// an operator is given (RINGING, with the provider's link, until
// ticket_expires_at); the provider's call webhooks, sent when a call ends,
// complete it or record an inbound one. A LiveTalk call rings the agents
// in ringing_user_ids until one answers. An ENDED call is never reopened.
type Call struct{ ent.Schema }

// Mixin returns the call's mixins.
func (Call) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Call"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the call's fields.
func (Call) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).
			Annotations(entgql.Skip()),
		field.String("operator_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Enum("direction").Values("INBOUND", "OUTBOUND").Immutable().
			Annotations(entgql.Type("CallDirection")),
		field.Enum("kind").Values("AUDIO", "VIDEO").Default("AUDIO").
			Annotations(entgql.Type("CallKind")),
		field.Enum("status").Values("RINGING", "IN_PROGRESS", "ENDED").Default("RINGING").
			Annotations(entgql.Type("CallStatus")),
		// result is set when the call ends.
		field.Enum("result").
			Values("ANSWERED", "MISSED", "REJECTED", "BUSY", "NO_ANSWER", "FAILED", "CANCELLED").
			Optional().Nillable().
			Annotations(entgql.Type("CallResult")),
		// provider_call_id is Zalo's call_id; providers retry webhooks, so
		// it is unique per channel. schema.graphqls exposes it as
		// providerCallId, as it does recordingUrl.
		field.String("provider_call_id").Optional().Nillable().MaxLen(200).
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)),
		field.Time("started_at").
			Annotations(entgql.OrderField("STARTED_AT")),
		field.Time("answered_at").Optional().Nillable(),
		field.Time("ended_at").Optional().Nillable(),
		field.Int("duration_seconds").Optional().Nillable().NonNegative(),
		field.String("recording_url").Optional().Nillable().MaxLen(2048).
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)),
		// The ticket of an outbound call: the provider's call link and QR
		// code, valid until ticket_expires_at; an unused ticket ends the
		// call CANCELLED then.
		field.String("ticket_link").Optional().MaxLen(2048).
			Annotations(entgql.Skip()),
		field.Text("ticket_qr_code").Optional().
			Annotations(entgql.Skip()),
		field.Time("ticket_expires_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		// permission_id is the grant an outbound call was placed under.
		field.String("permission_id").GoType(gid.ID("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		// conversation_id is the LiveTalk conversation a visitor called
		// from.
		field.String("conversation_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		// ringing_user_ids are the agents a LiveTalk call rang; those who
		// rejected it are removed while it rings.
		field.Strings("ringing_user_ids").Optional().
			Annotations(entgql.Skip()),
		// billed_minutes is what an answered LiveTalk call consumed of the
		// organization's call minutes: its duration rounded up to the
		// minute (internal/callminutes).
		field.Int("billed_minutes").Optional().Nillable().NonNegative(),
	}
}

// Edges returns the call's edges.
func (Call) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("operator", User.Type).Field("operator_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.To("permission", CallPermission.Type).Field("permission_id").Unique().
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip()),
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes returns the call's indexes.
func (Call) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "provider_call_id").Unique(),
		// History lists an organization's calls newest first.
		index.Fields("organization_id", "started_at"),
		index.Fields("customer_id", "started_at"),
		// An operator's open calls and tickets (busy, matching webhooks).
		index.Fields("operator_id", "status"),
		// A conversation's open LiveTalk call.
		index.Fields("conversation_id", "status"),
	}
}

// Annotations configures GraphQL generation: a Relay connection with
// where-inputs, ordered by start. The calls query is declared in
// schema.graphqls, which adds search.
func (Call) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// Policy lets members read the calls they may see (policy.FilterCalls) and
// leaves every change to the call package and the webhook processing,
// which write as the system.
func (Call) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.FilterCalls(), policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
