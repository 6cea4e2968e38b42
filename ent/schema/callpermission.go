package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// CallPermission is a customer's consent for a Zalo OA to call them
// (README.md, "Voice calls"). An operator's request is REQUESTED; the
// customer's answer, by the consent webhooks, makes it GRANTED or DENIED;
// a grant becomes EXPIRED at expires_at by a durable timer.
type CallPermission struct{ ent.Schema }

// Mixin returns the call permission's mixins.
func (CallPermission) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("CallPermission"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the call permission's fields.
func (CallPermission) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable().
			Annotations(entgql.Skip()),
		field.String("customer_id").GoType(gid.ID("")).
			Annotations(entgql.Skip()),
		// phone is the number the request was sent to, in Zalo's form
		// (84…): the consent webhooks name the customer by it.
		field.String("phone").NotEmpty().MaxLen(20).Immutable().
			Annotations(entgql.Skip()),
		field.Enum("status").Values("REQUESTED", "GRANTED", "DENIED", "EXPIRED").Default("REQUESTED").
			Annotations(entgql.Type("CallPermissionStatus")),
		field.Enum("reason").Values("CONSULTATION", "ORDER_CONFIRMATION", "DELIVERY", "FLIGHT", "ORDER_UPDATE").Immutable().
			Annotations(entgql.Type("CallPermissionReason")),
		field.Enum("call_type").Values("AUDIO", "VIDEO", "AUDIO_AND_VIDEO").Immutable().
			Annotations(entgql.Type("CallType")),
		field.String("requested_by_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		field.Time("requested_at").Immutable(),
		// answered_at is when the customer allowed or refused.
		field.Time("answered_at").Optional().Nillable(),
		field.Time("granted_at").Optional().Nillable(),
		// expires_at is the end of a grant: the provider's expired_time,
		// or 48 hours after the grant.
		field.Time("expires_at").Optional().Nillable(),
	}
}

// Edges returns the call permission's edges.
func (CallPermission) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required(),
		edge.To("requested_by", User.Type).Field("requested_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes returns the call permission's indexes.
func (CallPermission) Indexes() []ent.Index {
	return []ent.Index{
		// The latest permission of a customer on an OA.
		index.Fields("channel_id", "customer_id", "requested_at"),
		// Consent webhooks find the request by the phone it went to.
		index.Fields("channel_id", "phone", "requested_at"),
		index.Fields("customer_id"),
	}
}

// Policy lets members read permissions and leaves every change to the call
// package, which checks that the requester is an operator of the OA and
// then writes as the system.
func (CallPermission) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
