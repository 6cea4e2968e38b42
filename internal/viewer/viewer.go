// Package viewer holds who is acting in a request or job: a staff user, an
// API key, or the system itself. Every data rule in ent reads it from the
// context, so no resolver has to remember to check it.
package viewer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/dakenh/dakenh/internal/gid"
)

// Role is a staff user's role in their organization.
type Role string

// The roles of docs/api.md, "Roles".
const (
	RoleOwner Role = "OWNER"
	RoleAdmin Role = "ADMIN"
	RoleAgent Role = "AGENT"
)

// Values lists the roles; ent uses it to build the enum column.
func (Role) Values() []string {
	return []string{string(RoleOwner), string(RoleAdmin), string(RoleAgent)}
}

// IsAdmin reports whether the role may configure the organization.
func (r Role) IsAdmin() bool { return r == RoleOwner || r == RoleAdmin }

// MarshalGQL writes the role as a GraphQL enum value.
func (r Role) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads a role from a GraphQL enum value.
func (r *Role) UnmarshalGQL(v any) error { return unmarshalEnum(v, r, Role("").Values()) }

// Scope is what an API key may do.
type Scope string

// The API key scopes of docs/api.md.
const (
	ScopeRead   Scope = "READ"
	ScopeWrite  Scope = "WRITE"
	ScopeEvents Scope = "EVENTS"
)

// Values lists the scopes.
func (Scope) Values() []string {
	return []string{string(ScopeRead), string(ScopeWrite), string(ScopeEvents)}
}

// MarshalGQL writes the scope as a GraphQL enum value.
func (s Scope) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a scope from a GraphQL enum value.
func (s *Scope) UnmarshalGQL(v any) error { return unmarshalEnum(v, s, Scope("").Values()) }

func unmarshalEnum[T ~string](v any, dst *T, values []string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enum must be a string, got %T", v)
	}
	if !slices.Contains(values, s) {
		return fmt.Errorf("%q is not one of %v", s, values)
	}
	*dst = T(s)
	return nil
}

// Viewer is the identity behind a request. Exactly one of UserID, APIKeyID
// and Visitor is set for a caller; System marks trusted background work.
type Viewer struct {
	OrgID    gid.ID
	UserID   gid.ID
	Role     Role
	APIKeyID gid.ID
	Scopes   []Scope
	System   bool
	// SessionID is the session a user authenticated with, so logout can
	// revoke exactly it.
	SessionID gid.ID
	// Visitor, when set, is a LiveTalk website visitor: someone outside the
	// organization who reaches only their own conversation
	// (policy.FilterVisitor) and holds no scope.
	Visitor *Visitor
}

// Visitor is what a visitor token grants: one conversation of one LiveTalk
// channel.
type Visitor struct {
	// SessionID is the visitor session the token opened.
	SessionID gid.ID
	// ChannelID and ConversationID are the visitor's channel and chat.
	ChannelID, ConversationID gid.ID
}

// IsVisitor reports whether a LiveTalk visitor is acting.
func (v *Viewer) IsVisitor() bool { return v != nil && v.Visitor != nil }

// IsUser reports whether a staff user is acting.
func (v *Viewer) IsUser() bool { return v != nil && v.UserID != "" }

// IsAPIKey reports whether an API key is acting.
func (v *Viewer) IsAPIKey() bool { return v != nil && v.APIKeyID != "" }

// IsAdmin reports whether the viewer is an OWNER or ADMIN user.
func (v *Viewer) IsAdmin() bool { return v.IsUser() && v.Role.IsAdmin() }

// Has reports whether the viewer holds a scope. Users hold READ and WRITE by
// their session, and EVENTS for the subscriptions their role allows.
func (v *Viewer) Has(s Scope) bool {
	if v == nil {
		return false
	}
	if v.IsVisitor() {
		return false
	}
	if v.System || v.IsUser() {
		return true
	}
	return slices.Contains(v.Scopes, s)
}

type ctxKey struct{}

// NewContext returns a context carrying the viewer.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in the context, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// SystemContext returns a context for trusted background work within one
// organization (orgID may be empty for work that spans organizations, such as
// authenticating a token before its organization is known).
func SystemContext(ctx context.Context, orgID gid.ID) context.Context {
	return NewContext(ctx, &Viewer{OrgID: orgID, System: true})
}
