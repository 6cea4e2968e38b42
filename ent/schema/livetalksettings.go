package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// LiveTalkSettings is the look and behaviour of a LIVETALK channel's
// website widget (README.md, "LiveTalk settings"): one JSON document per
// channel, checked as a whole by internal/livetalk before it is stored. A
// channel without a row has the defaults.
type LiveTalkSettings struct{ ent.Schema }

// Mixin returns the settings' mixins.
func (LiveTalkSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("LiveTalkSettings"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the settings' fields.
func (LiveTalkSettings) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable(),
		field.JSON("settings", schematype.LiveTalkSettings{}),
	}
}

// Edges returns the settings' edges.
func (LiveTalkSettings) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the settings' indexes.
func (LiveTalkSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("channel_id").Unique()}
}

// Annotations keeps the row out of the generated schema: schema.graphqls
// declares LiveTalkSettings without an ID, since a channel never
// configured has defaults and no row.
func (LiveTalkSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy lets every member read the settings (agents play the
// notification sounds) and only OWNERs and ADMINs change them.
func (LiveTalkSettings) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
