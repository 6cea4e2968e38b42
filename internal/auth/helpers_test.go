package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/loginattempt"
	// The runtime registers the schema's policies, hooks and defaults.
	_ "github.com/dakenh/dakenh/ent/runtime"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// t0 is the fake clock's starting time. Whole seconds, UTC, so stored and
// read-back times compare equal on both databases.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// env is a fresh database with an auth service on a fake clock.
type env struct {
	client *ent.Client
	clock  *clocktest.Clock
	auth   *auth.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := dbtest.Open(t)
	c := clocktest.New(t0)
	return &env{
		client: db.Client,
		clock:  c,
		auth:   auth.New(db.Client, auth.Options{BcryptCost: bcrypt.MinCost, Now: c.Now}),
	}
}

// newService returns a second service over e's database and clock with
// other login limits.
func newService(e *env, o auth.Options) *auth.Service {
	o.BcryptCost, o.Now = bcrypt.MinCost, e.clock.Now
	return auth.New(e.client, o)
}

// org creates an organization as the system.
func (e *env) org(t *testing.T, name string) gid.ID {
	t.Helper()
	o, err := e.client.Organization.Create().SetName(name).Save(viewer.SystemContext(t.Context(), ""))
	if err != nil {
		t.Fatalf("creating organization: %v", err)
	}
	return o.ID
}

// user creates an active user of org with the given role and password.
func (e *env) user(t *testing.T, org gid.ID, role viewer.Role, email, password string) *ent.User {
	t.Helper()
	hash, err := e.auth.HashPassword(password)
	if err != nil {
		t.Fatalf("hashing password: %v", err)
	}
	u, err := e.client.User.Create().
		SetName("Người dùng " + string(role)).
		SetEmail(email).
		SetPasswordHash(hash).
		SetRole(role).
		Save(viewer.SystemContext(t.Context(), org))
	if err != nil {
		t.Fatalf("creating user: %v", err)
	}
	return u
}

// as returns a context acting as u, as a session would after Authenticate.
func as(ctx context.Context, u *ent.User) context.Context {
	return viewer.NewContext(ctx, &viewer.Viewer{OrgID: u.OrganizationID, UserID: u.ID, Role: u.Role})
}

// attempts counts the failed-login rows recorded under key.
func (e *env) attempts(t *testing.T, key string) int {
	t.Helper()
	n, err := e.client.LoginAttempt.Query().Where(loginattempt.Key(key)).Count(viewer.SystemContext(t.Context(), ""))
	if err != nil {
		t.Fatalf("counting login attempts: %v", err)
	}
	return n
}

// checkErr fails unless err has the API code want ("" means no error) and,
// when wantMsg is set, exactly that client message.
func checkErr(t *testing.T, err error, want apierr.Code, wantMsg string) {
	t.Helper()
	if got := apierr.CodeOf(err); got != want {
		t.Fatalf("error = %v (code %q), want code %q", err, got, want)
	}
	if wantMsg == "" || err == nil {
		return
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *apierr.Error", err)
	}
	if e.Message != wantMsg {
		t.Fatalf("message = %q, want %q", e.Message, wantMsg)
	}
}
