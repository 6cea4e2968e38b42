package schema

import (
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
	"github.com/dakenh/dakenh/internal/viewer"
)

// Activity is one entry of an organization's activity log (README.md,
// "Activity log"): a configuration change, who made it and what changed.
// internal/activity writes it in the transaction of the change, so the log
// holds exactly the changes that committed. Every field is immutable: the
// log is history.
type Activity struct{ ent.Schema }

// Mixin returns the activity's mixins.
func (Activity) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Activity"), TenantMixin{}}
}

// Fields returns the activity's fields.
func (Activity) Fields() []ent.Field {
	ref := func(name string) ent.Field {
		return field.String(name).GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip(entgql.SkipType))
	}
	return []ent.Field{
		// actor_id is the user who made the change; empty when an API key
		// (api_key_id) or the system made it.
		ref("actor_id"),
		ref("api_key_id"),
		// action names the change, such as RULE_UPDATED (internal/activity
		// lists them).
		field.String("action").NotEmpty().MaxLen(60).Immutable(),
		// channel_id is the channel the change concerns, if any.
		ref("channel_id"),
		// subject_id is the changed record (a rule, a user, a channel...),
		// without a foreign key: it may be deleted, the entry stays.
		field.String("subject_id").GoType(gid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Type("ID"), entgql.Skip(entgql.SkipType)),
		// details records what changed; internal/activity refuses keys that
		// look like secrets.
		field.JSON("details", map[string]any{}).Optional().Immutable().
			Annotations(entgql.Type("Map"), entgql.Skip(entgql.SkipWhereInput)),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges returns the activity's edges. They never block deleting what they
// point at: a deleted user or channel leaves its entries, with a null edge.
func (Activity) Edges() []ent.Edge {
	setNull := entsql.OnDelete(entsql.SetNull)
	return []ent.Edge{
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable().
			Annotations(setNull),
		edge.To("api_key", APIKey.Type).Field("api_key_id").Unique().Immutable().
			Annotations(setNull),
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Immutable().
			Annotations(setNull),
	}
}

// Indexes serve the activity log's filters, newest first.
func (Activity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("organization_id", "created_at"),
		index.Fields("organization_id", "channel_id", "created_at"),
		index.Fields("organization_id", "action", "created_at"),
		index.Fields("organization_id", "actor_id", "created_at"),
	}
}

// Annotations configures GraphQL generation; schema.graphqls declares the
// activityLog query, newest first.
func (Activity) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// Policy lets OWNERs and ADMINs read the log. Nobody writes it through the
// API: internal/activity records entries as the system, and nothing
// updates or deletes them.
func (Activity) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			policy.AllowQueryIf(func(v *viewer.Viewer) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
		Mutation: privacy.MutationPolicy{policy.AlwaysDeny()},
	}
}
