package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/dakenh/dakenh/internal/policy"
)

// MediaBlob holds the bytes of uploaded media in the database, once per
// content, for internal/media's database store: every replica reads them,
// so no shared disk is needed. It belongs to no organization because its
// content is public at its content-addressed URL.
type MediaBlob struct{ ent.Schema }

// Mixin returns the blob's mixins.
func (MediaBlob) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("MediaBlob")}
}

// Fields returns the blob's fields.
func (MediaBlob) Fields() []ent.Field {
	return []ent.Field{
		field.String("sha256").MaxLen(64).Unique().Immutable(),
		field.String("content_type").MaxLen(100).Immutable(),
		field.Bytes("data").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Annotations keeps blobs out of the GraphQL API.
func (MediaBlob) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy leaves blobs to internal/media, which works as the system.
func (MediaBlob) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
		Mutation: privacy.MutationPolicy{policy.AllowIfSystem(), policy.AlwaysDeny()},
	}
}
