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

// CallSettings is how a Zalo OA takes voice calls (README.md, "Voice
// calls"): whether calls are on, the weekly windows and closed dates during
// which calls may be made and received, in the settings' time zone, and the
// replies sent to callers out of hours or while every operator is busy. A
// channel without a row has calls off; internal/call validates the windows
// before anything is stored.
type CallSettings struct{ ent.Schema }

// Mixin returns the call settings' mixins.
func (CallSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("CallSettings"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the call settings' fields.
func (CallSettings) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(gid.ID("")).Immutable(),
		field.Bool("enabled").Default(false),
		// timezone is an IANA zone name; windows and closed dates are read
		// in it.
		field.String("timezone").NotEmpty().MaxLen(64).Default("Asia/Ho_Chi_Minh"),
		field.JSON("windows", []schematype.CallWindow{}),
		// closed_dates are local dates, "2027-01-28", on which no window
		// opens (public holidays such as Tết).
		field.Strings("closed_dates"),
		field.Text("out_of_hours_reply").Default(""),
		field.Text("busy_reply").Default(""),
	}
}

// Edges returns the call settings' edges.
func (CallSettings) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
	}
}

// Indexes returns the call settings' indexes.
func (CallSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("channel_id").Unique()}
}

// Annotations keeps the row's own type out of the generated schema:
// schema.graphqls declares CallSettings without an ID, since a channel
// whose calls were never configured has defaults and no row.
func (CallSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy lets only OWNERs and ADMINs read and change call settings; the
// call package reads them as the system when an operator starts a call.
func (CallSettings) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			policy.AllowQueryIf(func(v *viewer.Viewer) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
