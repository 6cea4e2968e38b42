package schema

import (
	"context"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// IDMixin gives an entity an opaque global ID with its type's prefix.
type IDMixin struct {
	mixin.Schema
	typ string
}

// idMixin returns the ID mixin of the named ent type.
func idMixin(typ string) IDMixin {
	gid.Prefix(typ) // fail at generation time for a type with no prefix
	return IDMixin{typ: typ}
}

// Fields returns the id field.
func (m IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(gid.ID("")).
			MaxLen(40).
			Immutable().
			DefaultFunc(func() gid.ID { return gid.New(m.typ) }),
	}
}

// TimeMixin records when a row was created and last updated.
type TimeMixin struct{ mixin.Schema }

// Fields returns created_at and updated_at.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(time.Now).
			Immutable().
			Annotations(
				entgql.OrderField("CREATED_AT"),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
			),
		field.Time("updated_at").
			Default(time.Now).
			UpdateDefault(time.Now).
			Annotations(
				entgql.OrderField("UPDATED_AT"),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
			),
	}
}

// TenantMixin makes an entity belong to exactly one organization. Its policy
// filters every read and write to the viewer's organization and its hook
// stamps new rows with it, so no caller can forget either.
//
// Visitor says what of the entity a LiveTalk visitor may read; the zero
// value is nothing (policy.TenantFor).
type TenantMixin struct {
	mixin.Schema
	Visitor policy.VisitorAccess
}

// Fields returns the organization_id column.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String(policy.OrgField).
			GoType(gid.ID("")).
			MaxLen(40).
			Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges returns the edge to the owning organization.
func (TenantMixin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("organization", Organization.Type).
			Field(policy.OrgField).
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes leads with the organization, the first column of nearly every
// query.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields(policy.OrgField)}
}

// Policy applies tenant isolation.
func (m TenantMixin) Policy() ent.Policy { return policy.TenantFor(m.Visitor) }

// Hooks stamps created rows with the viewer's organization.
func (TenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return next.Mutate(ctx, m)
				}
				if _, ok := m.Field(policy.OrgField); ok {
					return next.Mutate(ctx, m)
				}
				v := viewer.FromContext(ctx)
				if v == nil || v.OrgID == "" {
					return nil, fmt.Errorf("%s: creating a row needs an organization in the context", m.Type())
				}
				if err := m.SetField(policy.OrgField, v.OrgID); err != nil {
					return nil, err
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}
