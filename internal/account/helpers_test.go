package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/ent"
	// The runtime registers the schema's policies, hooks and defaults.
	_ "github.com/dakenh/dakenh/ent/runtime"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// t0 is the fake clock's starting time.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// env is a fresh database with auth and account services; sign-up is
// enabled unless the test builds its own account service.
type env struct {
	client *ent.Client
	clock  *clocktest.Clock
	auth   *auth.Service
	acct   *account.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := dbtest.Open(t)
	c := clocktest.New(t0)
	a := auth.New(db.Client, auth.Options{BcryptCost: bcrypt.MinCost, Now: c.Now})
	return &env{client: db.Client, clock: c, auth: a, acct: account.New(db.Client, a, true)}
}

// passwordOf is the password the helpers give a user with this email.
func passwordOf(email string) string { return "mật-khẩu/" + email }

// signUp creates an organization and its OWNER through SignUp.
func (e *env) signUp(t *testing.T, org, email string) *auth.Session {
	t.Helper()
	s, err := e.acct.SignUp(t.Context(), account.SignUpInput{
		OrganizationName: org, Name: "Chủ " + org, Email: email, Password: passwordOf(email),
	})
	if err != nil {
		t.Fatalf("SignUp(%s): %v", email, err)
	}
	return s
}

// user creates an active user of org as the system.
func (e *env) user(t *testing.T, org gid.ID, role viewer.Role, email string) *ent.User {
	t.Helper()
	hash, err := e.auth.HashPassword(passwordOf(email))
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.client.User.Create().
		SetName("Nhân sự " + string(role)).
		SetEmail(email).
		SetPasswordHash(hash).
		SetRole(role).
		Save(viewer.SystemContext(t.Context(), org))
	if err != nil {
		t.Fatalf("creating user %s: %v", email, err)
	}
	return u
}

// login signs u in and returns a context carrying the viewer the session
// authenticates to, and the session's token.
func (e *env) login(t *testing.T, u *ent.User) (context.Context, string) {
	t.Helper()
	s, err := e.auth.Login(t.Context(), u.Email, passwordOf(u.Email), "192.0.2.1")
	if err != nil {
		t.Fatalf("Login(%s): %v", u.Email, err)
	}
	v, err := e.auth.Authenticate(t.Context(), s.Token)
	if err != nil {
		t.Fatalf("Authenticate(%s): %v", u.Email, err)
	}
	return viewer.NewContext(t.Context(), v), s.Token
}

// reload reads u back as the system.
func (e *env) reload(t *testing.T, u *ent.User) *ent.User {
	t.Helper()
	got, err := e.client.User.Get(viewer.SystemContext(t.Context(), u.OrganizationID), u.ID)
	if err != nil {
		t.Fatalf("reloading %s: %v", u.Email, err)
	}
	return got
}

// count returns the numbers of organizations and users.
func (e *env) count(t *testing.T) (orgs, users int) {
	t.Helper()
	sys := viewer.SystemContext(t.Context(), "")
	orgs, err := e.client.Organization.Query().Count(sys)
	if err != nil {
		t.Fatal(err)
	}
	users, err = e.client.User.Query().Count(sys)
	if err != nil {
		t.Fatal(err)
	}
	return orgs, users
}

// wantErr is the API error a case expects; the zero value means success.
type wantErr struct {
	code   apierr.Code
	msg    string // checked when set
	field  string
	reason string
}

// check fails unless err matches w exactly: code, field and reason, and the
// message when w names one.
func (w wantErr) check(t *testing.T, err error) {
	t.Helper()
	if got := apierr.CodeOf(err); got != w.code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, w.code)
	}
	if err == nil {
		return
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *apierr.Error", err)
	}
	if e.Field != w.field || e.Reason != w.reason {
		t.Fatalf("field, reason = %q, %q; want %q, %q", e.Field, e.Reason, w.field, w.reason)
	}
	if w.msg != "" && e.Message != w.msg {
		t.Fatalf("message = %q, want %q", e.Message, w.msg)
	}
}

func ptr[T any](v T) *T { return &v }
