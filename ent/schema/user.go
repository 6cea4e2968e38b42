package schema

import (
	"context"
	"slices"

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

// User is a staff account of an organization.
type User struct{ ent.Schema }

// Mixin returns the user's mixins.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("User"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the user's fields.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		// Emails are unique across organizations: one login identifies one
		// account. They are stored lower-cased by the account package.
		field.String("email").NotEmpty().MaxLen(254).Unique().
			Annotations(entgql.OrderField("EMAIL")),
		field.String("password_hash").Sensitive().
			Annotations(entgql.Skip()),
		field.Enum("role").GoType(viewer.Role("")).
			Annotations(entgql.Type("Role")),
		field.Enum("presence").Values("ONLINE", "AWAY", "OFFLINE").Default("OFFLINE").
			Annotations(entgql.Type("Presence")),
		// last_seen_at is stamped while the user has a subscription socket
		// open on some replica; ONLINE and AWAY users unseen for a grace
		// period become OFFLINE.
		field.Time("last_seen_at").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Bool("active").Default(true),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Edges returns the user's edges.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customers", Customer.Type).Ref("owner").
			Annotations(entgql.Skip()),
	}
}

// Indexes returns the user's indexes.
func (User) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "role")}
}

// Annotations configures GraphQL generation.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
	}
}

// Policy lets OWNERs and ADMINs manage users, keeps ADMINs away from OWNER
// accounts, lets anyone edit their own profile but not their own role or
// activity, and keeps API keys out of account management.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
				v := viewer.FromContext(ctx)
				if !v.IsUser() {
					return policy.Forbidden("API keys cannot manage users")
				}
				if role, ok := m.Field("role"); ok && role.(viewer.Role) == viewer.RoleOwner && v.Role != viewer.RoleOwner {
					return policy.Forbidden("only an OWNER can grant the OWNER role")
				}
				return privacy.Skip
			}),
			policy.AllowMutationIf(func(v *viewer.Viewer, m ent.Mutation) bool {
				return v.Role == viewer.RoleOwner
			}),
			// ADMINs may manage ADMINs and AGENTs; the account package
			// checks the target's current role before updating.
			policy.AllowMutationIf(func(v *viewer.Viewer, m ent.Mutation) bool {
				return v.Role == viewer.RoleAdmin
			}),
			// Anyone may change their own name and password.
			policy.AllowMutationIf(func(v *viewer.Viewer, m ent.Mutation) bool {
				if !m.Op().Is(ent.OpUpdateOne) {
					return false
				}
				for _, f := range m.Fields() {
					if !slices.Contains([]string{"name", "password_hash", "updated_at"}, f) {
						return false
					}
				}
				id, ok := m.(interface{ ID() (gid.ID, bool) }).ID()
				return ok && id == v.UserID
			}),
			policy.AlwaysDeny(),
		},
	}
}
