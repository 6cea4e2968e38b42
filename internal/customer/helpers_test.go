package customer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customfield"
	// The runtime registers the schema's policies, hooks and defaults.
	_ "github.com/dakenh/dakenh/ent/runtime"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// env is a test database with the customer hooks installed and one
// organization whose OWNER is the default actor.
type env struct {
	client *ent.Client
	org    *tenant
}

// tenant is an organization with an OWNER user.
type tenant struct {
	id    gid.ID
	owner *ent.User
}

// newEnv opens a fresh database, registers the hooks and creates an
// organization.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	db := dbtest.Open(tb)
	customer.Register(db.Client)
	e := &env{client: db.Client}
	e.org = e.newTenant(tb, "Công ty A")
	return e
}

// newTenant creates an organization and its OWNER.
func (e *env) newTenant(tb testing.TB, name string) *tenant {
	tb.Helper()
	ctx := context.Background()
	org, err := e.client.Organization.Create().SetName(name).Save(viewer.SystemContext(ctx, ""))
	if err != nil {
		tb.Fatalf("creating organization: %v", err)
	}
	t := &tenant{id: org.ID}
	t.owner = e.newUser(tb, t, viewer.RoleOwner)
	return t
}

// newUser creates a user with role in t; the email is derived from the ID
// so that it is unique across organizations, as the schema demands.
func (e *env) newUser(tb testing.TB, t *tenant, role viewer.Role) *ent.User {
	tb.Helper()
	id := gid.New("User")
	u, err := e.client.User.Create().
		SetID(id).
		SetName("User " + string(role)).
		SetEmail(strings.ToLower(string(id)) + "@example.com").
		SetPasswordHash("x").
		SetRole(role).
		Save(viewer.SystemContext(context.Background(), t.id))
	if err != nil {
		tb.Fatalf("creating user: %v", err)
	}
	return u
}

// as returns a context acting as user u of t.
func as(t *tenant, u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: t.id, UserID: u.ID, Role: u.Role})
}

// asOwner returns a context acting as t's OWNER.
func asOwner(t *tenant) context.Context { return as(t, t.owner) }

// asKey returns a context acting as an API key of t with scopes.
func asKey(t *tenant, scopes ...viewer.Scope) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: t.id, APIKeyID: gid.New("APIKey"), Scopes: scopes})
}

// field describes one custom field definition for defineFields.
type field struct {
	key     string
	typ     customfield.Type
	options []string
}

// defineFields creates custom field definitions in t.
func (e *env) defineFields(tb testing.TB, t *tenant, fields ...field) {
	tb.Helper()
	for _, f := range fields {
		_, err := e.client.CustomField.Create().
			SetKey(f.key).SetLabel(f.key).SetType(f.typ).SetOptions(f.options).
			Save(asOwner(t))
		if err != nil {
			tb.Fatalf("defining custom field %s: %v", f.key, err)
		}
	}
}

// mustCreate creates a customer, failing the test on error.
func mustCreate(tb testing.TB, ctx context.Context, c *ent.Client, build func(*ent.CustomerCreate)) *ent.Customer {
	tb.Helper()
	b := c.Customer.Create()
	build(b)
	cus, err := b.Save(ctx)
	if err != nil {
		tb.Fatalf("creating customer: %v", err)
	}
	return cus
}

// wantCode fails the test unless err carries the API code (and, when field
// is not empty, blames that field).
func wantCode(tb testing.TB, err error, code apierr.Code, field string) {
	tb.Helper()
	if got := apierr.CodeOf(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if field == "" {
		return
	}
	var e *apierr.Error
	if !errors.As(err, &e) || e.Field != field {
		tb.Fatalf("error %v blames field %q, want %q", err, fieldOf(err), field)
	}
}

func fieldOf(err error) string {
	if e, ok := apierr.As(err); ok {
		return e.Field
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}
