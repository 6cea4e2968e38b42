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
	"github.com/dakenh/dakenh/internal/viewer"
)

// MediaFile is an image or a sound an admin uploaded (README.md, "LiveTalk
// settings"): what the organization may reference from its settings. The
// bytes are kept once per content by internal/media's store, under the
// SHA-256 that also names their public URL.
type MediaFile struct{ ent.Schema }

// Mixin returns the media file's mixins.
func (MediaFile) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("MediaFile"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the media file's fields.
func (MediaFile) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("IMAGE", "SOUND").Immutable(),
		// content_type is what the bytes were sniffed as, never what the
		// uploader claimed.
		field.String("content_type").MaxLen(100).Immutable(),
		field.Int64("size").NonNegative().Immutable(),
		// sha256 is the hex SHA-256 of the bytes: the store's key and the
		// public URL's last segment.
		field.String("sha256").MaxLen(64).Immutable(),
		field.String("uploaded_by_id").GoType(gid.ID("")).Optional().Immutable(),
	}
}

// Edges returns the media file's edges.
func (MediaFile) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("uploaded_by", User.Type).Field("uploaded_by_id").Unique().Immutable(),
	}
}

// Indexes returns the media file's indexes: the same bytes uploaded twice
// by one organization are one file.
func (MediaFile) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "sha256").Unique()}
}

// Annotations keeps the row's generated type out of the schema;
// schema.graphqls declares MediaFile with its URL.
func (MediaFile) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy lets every member see the organization's media and only OWNERs
// and ADMINs upload.
func (MediaFile) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
