package auth_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/viewer"
)

// replicas are two auth services over one database, each with its own
// session cache and its own bus connection, as two server replicas have:
// on PostgreSQL two LISTEN/NOTIFY buses, on SQLite one in-process bus.
type replicas struct {
	db      *database.DB
	counter *dbtest.Counter
	clock   *clocktest.Clock
	a, b    *auth.Service
}

func newReplicas(t *testing.T) *replicas {
	t.Helper()
	db, counter := dbtest.OpenCounting(t)
	r := &replicas{db: db, counter: counter, clock: clocktest.New(t0)}
	var busA, busB event.Bus
	if db.Dialect == "postgres" {
		for _, bus := range []*event.Bus{&busA, &busB} {
			b, err := event.NewPostgresBus(t.Context(), db.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			*bus = b
		}
	} else {
		mem := event.NewMemoryBus()
		t.Cleanup(func() { mem.Close() })
		busA, busB = mem, mem
	}
	opts := func(bus event.Bus) auth.Options {
		return auth.Options{BcryptCost: bcrypt.MinCost, Now: r.clock.Now, Bus: bus}
	}
	r.a, r.b = auth.New(db.Client, opts(busA)), auth.New(db.Client, opts(busB))
	return r
}

// signIn creates an organization with a user of role and a session of it.
func (r *replicas) signIn(t *testing.T, role viewer.Role) (*ent.User, string) {
	t.Helper()
	sys := viewer.SystemContext(t.Context(), "")
	org := r.db.Client.Organization.Create().SetName("Cache Org").SaveX(sys)
	u := r.db.Client.User.Create().SetName("Chị Hà").SetEmail("ha@cache.vn").SetPasswordHash("x").
		SetRole(role).SaveX(viewer.SystemContext(t.Context(), org.ID))
	s, err := r.a.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	return u, s.Token
}

// statements returns what authenticating token on svc costs in SQL
// statements, and the viewer.
func (r *replicas) statements(t *testing.T, svc *auth.Service, token string) (int, *viewer.Viewer) {
	t.Helper()
	r.counter.Reset()
	v, err := svc.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return r.counter.Count(), v
}

// eventually waits, with a deadline only a broken build reaches, until ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSessionCacheRemembersTokens(t *testing.T) {
	r := newReplicas(t)
	_, token := r.signIn(t, viewer.RoleAgent)
	// The first lookup of an organization subscribes to its notices and
	// is not remembered; the second is; the third costs nothing.
	for i, want := range []int{2, 2, 0, 0} {
		if n, v := r.statements(t, r.a, token); n != want || v.Role != viewer.RoleAgent {
			t.Errorf("lookup %d: %d statements, role %s; want %d, AGENT", i+1, n, v.Role, want)
		}
	}
	// A session that expires is not served from memory past its expiry.
	r.clock.Advance(31 * 24 * time.Hour)
	if _, err := r.a.Authenticate(t.Context(), token); apierr.CodeOf(err) != apierr.Unauthenticated {
		t.Fatalf("expired session: %v, want UNAUTHENTICATED", err)
	}
}

func TestSessionCacheForgetsAcrossReplicas(t *testing.T) {
	t.Run("logout", func(t *testing.T) {
		r := newReplicas(t)
		u, token := r.signIn(t, viewer.RoleAgent)
		r.remember(t, token)
		v, err := r.b.Authenticate(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.b.Logout(viewer.NewContext(t.Context(), v)); err != nil {
			t.Fatal(err)
		}
		r.refused(t, token, u)
	})
	t.Run("deactivation", func(t *testing.T) {
		r := newReplicas(t)
		u, token := r.signIn(t, viewer.RoleAgent)
		r.remember(t, token)
		sys := viewer.SystemContext(t.Context(), u.OrganizationID)
		r.db.Client.User.UpdateOneID(u.ID).SetActive(false).ExecX(sys)
		if err := r.b.RevokeUserSessions(t.Context(), u.OrganizationID, u.ID); err != nil {
			t.Fatal(err)
		}
		r.refused(t, token, u)
	})
	t.Run("role change", func(t *testing.T) {
		r := newReplicas(t)
		u, token := r.signIn(t, viewer.RoleAgent)
		r.remember(t, token)
		sys := viewer.SystemContext(t.Context(), u.OrganizationID)
		r.db.Client.User.UpdateOneID(u.ID).SetRole(viewer.RoleAdmin).ExecX(sys)
		r.b.ForgetUser(t.Context(), u.OrganizationID, u.ID)
		eventually(t, "replica A still sees the AGENT", func() bool {
			v, err := r.a.Authenticate(t.Context(), token)
			return err == nil && v.Role == viewer.RoleAdmin
		})
	})
}

// remember makes replica A remember token.
func (r *replicas) remember(t *testing.T, token string) {
	t.Helper()
	for range 2 {
		r.statements(t, r.a, token)
	}
	if n, _ := r.statements(t, r.a, token); n != 0 {
		t.Fatalf("replica A did not remember the session: %d statements", n)
	}
}

// refused waits until replica A refuses token, which replica B revoked.
func (r *replicas) refused(t *testing.T, token string, u *ent.User) {
	t.Helper()
	eventually(t, "replica A still accepts "+string(u.ID)+"'s revoked session", func() bool {
		_, err := r.a.Authenticate(context.Background(), token)
		return apierr.CodeOf(err) == apierr.Unauthenticated
	})
}
