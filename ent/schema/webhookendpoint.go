package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// WebhookEndpoint is a partner's URL that receives the organization's
// events it chose, each POST signed with the endpoint's secret (README.md,
// "Partner webhooks"). internal/partner validates the URL and the event
// types before anything is stored, and seals the secrets.
type WebhookEndpoint struct{ ent.Schema }

// Mixin returns the endpoint's mixins.
func (WebhookEndpoint) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("WebhookEndpoint"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the endpoint's fields.
func (WebhookEndpoint) Fields() []ent.Field {
	return []ent.Field{
		field.String("url").NotEmpty().MaxLen(2048),
		// events are the chosen event types ("message.created", …), or
		// the single "*" for every type.
		field.Strings("events"),
		field.String("description").MaxLen(500).Default(""),
		field.Bool("enabled").Default(true),
		// secret signs every delivery; it is sealed under the server
		// secret and shown only when created or rotated.
		field.Bytes("secret").Sensitive().Annotations(entgql.Skip()),
		// previous_secret is the secret a rotation replaced: deliveries
		// carry its signature too until previous_secret_expires_at.
		field.Bytes("previous_secret").Optional().Nillable().Sensitive().Annotations(entgql.Skip()),
		field.Time("previous_secret_expires_at").Optional().Nillable(),
		// disabled_reason says why an endpoint is off when the server
		// turned it off itself (FAILING: no delivery succeeded for days).
		field.String("disabled_reason").Optional().Nillable(),
		// event_cursor is the seq of the last event of the log the feeder
		// has considered for this endpoint: events after it are still to
		// be turned into deliveries.
		field.Int64("event_cursor").Default(0).Annotations(entgql.Skip()),
		// failing_since is when deliveries to the endpoint started failing
		// without a success since; three days of it disable the endpoint.
		field.Time("failing_since").Optional().Nillable(),
		field.String("created_by_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the endpoint's edges.
func (WebhookEndpoint) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Immutable().
			Annotations(entsql.OnDelete(entsql.SetNull)),
		edge.From("deliveries", WebhookDelivery.Type).Ref("endpoint").
			Annotations(entgql.Skip()),
	}
}

// Annotations makes the endpoint a Node; schema.graphqls lists them
// (webhookEndpoints) and adds the mutations.
func (WebhookEndpoint) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}

// Policy leaves endpoints to OWNERs, ADMINs and API keys holding WRITE:
// an endpoint receives every event of the organization it chose, so
// whoever may point one somewhere must be trusted with all of them.
func (WebhookEndpoint) Policy() ent.Policy { return endpointManagers() }

// endpointManagers is the policy of endpoints, their deliveries and their
// attempts.
func endpointManagers() ent.Policy {
	manager := func(v *viewer.Viewer) bool { return v.IsAdmin() || v.IsAPIKey() && v.Has(viewer.ScopeWrite) }
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQueryIf(manager), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return manager(v) }),
			policy.AlwaysDeny(),
		},
	}
}
