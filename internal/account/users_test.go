package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// staff is an organization "A" with every kind of user, keyed by name:
// owner (who signed up), owner2 (optional), admin, admin2, agent, agent2;
// and a second organization "B" whose OWNER is other.
type staff struct {
	org   gid.ID
	users map[string]*ent.User
}

func (e *env) staff(t *testing.T, secondOwner bool) *staff {
	t.Helper()
	s := &staff{users: map[string]*ent.User{}}
	owner := e.signUp(t, "Công ty A", "owner@a.example.com").User
	s.org = owner.OrganizationID
	s.users["owner"] = owner
	if secondOwner {
		s.users["owner2"] = e.user(t, s.org, viewer.RoleOwner, "owner2@a.example.com")
	}
	s.users["admin"] = e.user(t, s.org, viewer.RoleAdmin, "admin@a.example.com")
	s.users["admin2"] = e.user(t, s.org, viewer.RoleAdmin, "admin2@a.example.com")
	s.users["agent"] = e.user(t, s.org, viewer.RoleAgent, "agent@a.example.com")
	s.users["agent2"] = e.user(t, s.org, viewer.RoleAgent, "agent2@a.example.com")
	s.users["other"] = e.signUp(t, "Công ty B", "owner@b.example.com").User
	return s
}

// op is a change to a user: deactivation, or an update.
type op struct {
	deactivate bool
	in         account.UpdateUserInput
}

func (e *env) apply(ctx context.Context, id gid.ID, o op) (*ent.User, error) {
	if o.deactivate {
		return e.acct.DeactivateUser(ctx, id)
	}
	return e.acct.UpdateUser(ctx, id, o.in)
}

var (
	deactivate = op{deactivate: true}
	rename     = func(n string) op { return op{in: account.UpdateUserInput{Name: &n}} }
	setRole    = func(r viewer.Role) op { return op{in: account.UpdateUserInput{Role: &r}} }
	setEmail   = func(m string) op { return op{in: account.UpdateUserInput{Email: &m}} }
	setPass    = func(p string) op { return op{in: account.UpdateUserInput{Password: &p}} }
)

// checkApplied fails unless after shows o applied to before, or, when the
// operation failed, unless nothing changed.
func checkApplied(t *testing.T, before, after *ent.User, o op, failed bool) {
	t.Helper()
	if failed {
		if after.Name != before.Name || after.Email != before.Email || after.Role != before.Role ||
			after.Active != before.Active || after.PasswordHash != before.PasswordHash {
			t.Fatalf("a refused change altered the user: %+v -> %+v", before, after)
		}
		return
	}
	if o.deactivate && (after.Active || after.Presence != user.PresenceOFFLINE) {
		t.Fatalf("active, presence = %v, %s; want false, OFFLINE", after.Active, after.Presence)
	}
	if !o.deactivate && !after.Active {
		t.Fatal("an update deactivated the user")
	}
	if n := o.in.Name; n != nil && after.Name != strings.TrimSpace(*n) {
		t.Fatalf("name = %q, want %q", after.Name, strings.TrimSpace(*n))
	}
	if r := o.in.Role; r != nil && after.Role != *r {
		t.Fatalf("role = %s, want %s", after.Role, *r)
	}
	if r := o.in.Role; r == nil && after.Role != before.Role {
		t.Fatalf("role = %s, want unchanged %s", after.Role, before.Role)
	}
	if m := o.in.Email; m != nil && after.Email != strings.ToLower(strings.TrimSpace(*m)) {
		t.Fatalf("email = %q, want %q", after.Email, strings.ToLower(strings.TrimSpace(*m)))
	}
}

func TestLastOwner(t *testing.T) {
	lastOwner := wantErr{
		code: apierr.FailedPrecondition, reason: "LAST_OWNER",
		msg: "an organization must keep at least one active OWNER",
	}
	system := func(_ *testing.T, _ *env, s *staff) context.Context {
		return viewer.SystemContext(context.Background(), s.org)
	}
	systemAllOrgs := func(*testing.T, *env, *staff) context.Context {
		return viewer.SystemContext(context.Background(), "")
	}
	asOwner2 := func(t *testing.T, e *env, s *staff) context.Context {
		ctx, _ := e.login(t, s.users["owner2"])
		return ctx
	}
	tests := []struct {
		name string
		// secondOwner is "", "active" or "inactive".
		secondOwner string
		actor       func(*testing.T, *env, *staff) context.Context
		op          op
		want        wantErr
	}{
		// Only the system can reach the rule for a sole OWNER: a user who
		// could act on the last OWNER is that OWNER (see the self rules).
		{name: "ErrDemoteLastOwner", actor: system, op: setRole(viewer.RoleAdmin), want: lastOwner},
		{name: "ErrDeactivateLastOwner", actor: system, op: deactivate, want: lastOwner},
		{name: "ErrDemoteLastActiveOwner", secondOwner: "inactive", actor: system, op: setRole(viewer.RoleAgent), want: lastOwner},
		{name: "ErrDeactivateLastActiveOwner", secondOwner: "inactive", actor: system, op: deactivate, want: lastOwner},
		// Organization B's OWNER is not organization A's.
		{name: "ErrDemoteLastOwnerAcrossOrganizations", actor: systemAllOrgs, op: setRole(viewer.RoleAdmin), want: lastOwner},
		{name: "ErrDeactivateLastOwnerAcrossOrganizations", actor: systemAllOrgs, op: deactivate, want: lastOwner},
		{name: "OKRenameLastOwner", actor: system, op: rename("Chủ mới")},
		{name: "OKDemoteWithSecondOwner", secondOwner: "active", actor: asOwner2, op: setRole(viewer.RoleAdmin)},
		{name: "OKDeactivateWithSecondOwner", secondOwner: "active", actor: asOwner2, op: deactivate},
		{name: "OKSystemDemoteWithSecondOwner", secondOwner: "active", actor: system, op: setRole(viewer.RoleAgent)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.staff(t, tt.secondOwner != "")
			if tt.secondOwner == "inactive" {
				owner, _ := e.login(t, s.users["owner"])
				if _, err := e.acct.DeactivateUser(owner, s.users["owner2"].ID); err != nil {
					t.Fatalf("deactivating the second OWNER: %v", err)
				}
			}
			target := s.users["owner"]
			_, token := e.login(t, target)
			ctx := tt.actor(t, e, s)

			_, err := e.apply(ctx, target.ID, tt.op)
			tt.want.check(t, err)
			after := e.reload(t, target)
			checkApplied(t, target, after, tt.op, tt.want.code != "")
			// A refused deactivation leaves the OWNER signed in.
			_, err = e.auth.Authenticate(context.Background(), token)
			if signedOut := err != nil; signedOut != (tt.op.deactivate && tt.want.code == "") {
				t.Fatalf("owner's session: Authenticate = %v", err)
			}
		})
	}
}

func TestUpdateAndDeactivateRules(t *testing.T) {
	forbidden := func(msg string) wantErr { return wantErr{code: apierr.Forbidden, msg: msg} }
	var (
		ownerOnly = forbidden("only an OWNER can change an OWNER")
		grant     = forbidden("only an OWNER can grant the OWNER role")
		ownRole   = forbidden("you cannot change your own role")
		self      = forbidden("you cannot deactivate yourself")
		agentOwn  = forbidden("agents can change only their own profile")
		denied    = forbidden("permission denied")
	)
	tests := []struct {
		name          string
		actor, target string
		op            op
		want          wantErr
	}{
		// An ADMIN cannot touch an OWNER.
		{name: "ErrAdminRenamesOwner", actor: "admin", target: "owner", op: rename("Tên khác"), want: ownerOnly},
		{name: "ErrAdminChangesOwnerEmail", actor: "admin", target: "owner", op: setEmail("x@a.example.com"), want: ownerOnly},
		{name: "ErrAdminResetsOwnerPassword", actor: "admin", target: "owner", op: setPass("mật-khẩu-mới-nhé"), want: ownerOnly},
		{name: "ErrAdminDemotesOwner", actor: "admin", target: "owner2", op: setRole(viewer.RoleAgent), want: ownerOnly},
		{name: "ErrAdminDeactivatesOwner", actor: "admin", target: "owner2", op: deactivate, want: ownerOnly},
		{name: "ErrAdminPromotesAgentToOwner", actor: "admin", target: "agent", op: setRole(viewer.RoleOwner), want: grant},
		{name: "OKAdminDemotesAdmin", actor: "admin", target: "admin2", op: setRole(viewer.RoleAgent)},
		{name: "OKAdminPromotesAgent", actor: "admin", target: "agent", op: setRole(viewer.RoleAdmin)},
		{name: "OKAdminDeactivatesAdmin", actor: "admin", target: "admin2", op: deactivate},
		{name: "OKAdminDeactivatesAgent", actor: "admin", target: "agent", op: deactivate},
		{name: "OKOwnerPromotesAdminToOwner", actor: "owner", target: "admin", op: setRole(viewer.RoleOwner)},
		{name: "OKOwnerDemotesOwner", actor: "owner", target: "owner2", op: setRole(viewer.RoleAdmin)},
		{name: "OKOwnerRenamesOwner", actor: "owner", target: "owner2", op: rename(" Phó Giám đốc ")},

		// Nobody changes their own role or deactivates themselves; a
		// second OWNER exists, so the last-OWNER rule is not why.
		{name: "ErrOwnerChangesOwnRole", actor: "owner", target: "owner", op: setRole(viewer.RoleAdmin), want: ownRole},
		{name: "ErrAdminChangesOwnRole", actor: "admin", target: "admin", op: setRole(viewer.RoleAgent), want: ownRole},
		{name: "ErrAdminMakesSelfOwner", actor: "admin", target: "admin", op: setRole(viewer.RoleOwner), want: ownRole},
		{name: "ErrAgentChangesOwnRole", actor: "agent", target: "agent", op: setRole(viewer.RoleAdmin), want: ownRole},
		{name: "ErrOwnerDeactivatesSelf", actor: "owner", target: "owner", op: deactivate, want: self},
		{name: "ErrAdminDeactivatesSelf", actor: "admin", target: "admin", op: deactivate, want: self},
		{name: "ErrAgentDeactivatesSelf", actor: "agent", target: "agent", op: deactivate, want: self},
		{name: "OKOwnerKeepsOwnRole", actor: "owner", target: "owner", op: op{in: account.UpdateUserInput{Role: ptr(viewer.RoleOwner), Name: ptr("Chủ")}}},

		// An AGENT edits only their own name and password.
		{name: "OKAgentRenamesSelf", actor: "agent", target: "agent", op: rename("  Lê Văn Cường ")},
		{name: "OKAgentChangesOwnPassword", actor: "agent", target: "agent", op: setPass("mật-khẩu-mới-nhé")},
		{name: "ErrAgentRenamesAgent", actor: "agent", target: "agent2", op: rename("Tên khác"), want: agentOwn},
		{name: "ErrAgentRenamesAdmin", actor: "agent", target: "admin", op: rename("Tên khác"), want: agentOwn},
		{name: "ErrAgentRenamesOwner", actor: "agent", target: "owner", op: rename("Tên khác"), want: agentOwn},
		{name: "ErrAgentResetsAgentPassword", actor: "agent", target: "agent2", op: setPass("mật-khẩu-mới-nhé"), want: agentOwn},
		{name: "ErrAgentDeactivatesAgent", actor: "agent", target: "agent2", op: deactivate, want: agentOwn},
		{name: "ErrAgentChangesOwnEmail", actor: "agent", target: "agent", op: setEmail("moi@a.example.com"), want: denied},

		// Input errors.
		{name: "ErrBlankName", actor: "owner", target: "agent", op: rename("   "), want: wantErr{code: apierr.BadUserInput, field: "name", msg: "name is required"}},
		{name: "ErrBadEmail", actor: "owner", target: "agent", op: setEmail("agent"), want: wantErr{code: apierr.BadUserInput, field: "email"}},
		{name: "ErrShortPassword", actor: "owner", target: "agent", op: setPass("ngắn"), want: wantErr{code: apierr.BadUserInput, field: "password"}},
		{name: "ErrEmailTaken", actor: "owner", target: "agent", op: setEmail("ADMIN@a.example.com"), want: wantErr{code: apierr.Conflict, field: "email", msg: "this email is already in use"}},
		{name: "ErrEmailTakenInOtherOrganization", actor: "owner", target: "agent", op: setEmail("owner@b.example.com"), want: wantErr{code: apierr.Conflict, field: "email", msg: "this email is already in use"}},
		{name: "OKChangeEmail", actor: "owner", target: "agent", op: setEmail(" Agent.Moi@A.example.com ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.staff(t, true)
			target := s.users[tt.target]
			ctx, _ := e.login(t, s.users[tt.actor])

			got, err := e.apply(ctx, target.ID, tt.op)
			tt.want.check(t, err)
			after := e.reload(t, target)
			checkApplied(t, target, after, tt.op, tt.want.code != "")
			if err == nil && (got.ID != after.ID || got.Name != after.Name || got.Role != after.Role || got.Active != after.Active) {
				t.Fatalf("returned user %+v differs from the stored %+v", got, after)
			}
		})
	}
}

func TestPasswordChangeSessions(t *testing.T) {
	const newPassword = "mật-khẩu-mới-tinh"
	tests := []struct {
		name     string
		actor    string
		password string
		want     wantErr
		// revoked says the target's sessions end.
		revoked bool
	}{
		{name: "OKAdminResetRevokesSessions", actor: "admin", password: newPassword, revoked: true},
		{name: "OKOwnerResetRevokesSessions", actor: "owner", password: newPassword, revoked: true},
		{name: "OKOwnChangeKeepsSessions", actor: "agent", password: newPassword, revoked: false},
		{name: "ErrTooShortChangesNothing", actor: "admin", password: "ngắn", want: wantErr{code: apierr.BadUserInput, field: "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.staff(t, false)
			target := s.users["agent"]
			_, phone := e.login(t, target)
			_, laptop := e.login(t, target)
			_, colleague := e.login(t, s.users["agent2"])
			ctx, actorToken := e.login(t, s.users[tt.actor])

			_, err := e.acct.UpdateUser(ctx, target.ID, account.UpdateUserInput{Password: ptr(tt.password)})
			tt.want.check(t, err)

			for name, token := range map[string]string{"phone": phone, "laptop": laptop} {
				_, err := e.auth.Authenticate(context.Background(), token)
				if tt.revoked {
					if apierr.CodeOf(err) != apierr.Unauthenticated {
						t.Fatalf("target's %s session: Authenticate = %v, want UNAUTHENTICATED", name, err)
					}
				} else if err != nil {
					t.Fatalf("target's %s session: Authenticate = %v, want it kept", name, err)
				}
			}
			for name, token := range map[string]string{"actor": actorToken, "colleague": colleague} {
				if _, err := e.auth.Authenticate(context.Background(), token); err != nil {
					t.Fatalf("%s's session: Authenticate = %v, want it kept", name, err)
				}
			}

			oldWorks, newWorks := tt.want.code != "", tt.want.code == ""
			_, err = e.auth.Login(context.Background(), target.Email, passwordOf(target.Email), "192.0.2.2")
			if (err == nil) != oldWorks {
				t.Fatalf("login with the old password: %v, want success %v", err, oldWorks)
			}
			_, err = e.auth.Login(context.Background(), target.Email, tt.password, "192.0.2.2")
			if (err == nil) != newWorks {
				t.Fatalf("login with the new password: %v, want success %v", err, newWorks)
			}
		})
	}
}

func TestDeactivateUserSignsOut(t *testing.T) {
	e := newEnv(t)
	s := e.staff(t, false)
	agent := s.users["agent"]
	if err := agent.Update().SetPresence(user.PresenceONLINE).Exec(viewer.SystemContext(context.Background(), s.org)); err != nil {
		t.Fatal(err)
	}
	_, token := e.login(t, agent)
	ctx, _ := e.login(t, s.users["admin"])

	u, err := e.acct.DeactivateUser(ctx, agent.ID)
	if err != nil {
		t.Fatalf("DeactivateUser: %v", err)
	}
	if u.Active || u.Presence != user.PresenceOFFLINE {
		t.Fatalf("returned active, presence = %v, %s; want false, OFFLINE", u.Active, u.Presence)
	}
	_, err = e.auth.Authenticate(context.Background(), token)
	wantErr{code: apierr.Unauthenticated, msg: "invalid or expired token"}.check(t, err)
	_, err = e.auth.Login(context.Background(), agent.Email, passwordOf(agent.Email), "192.0.2.3")
	wantErr{code: apierr.Unauthenticated, msg: "invalid email or password"}.check(t, err)
}

func TestUpdateUserOutsideOrganization(t *testing.T) {
	tests := []struct {
		name   string
		anon   bool
		op     op
		want   wantErr
		absent bool // the target is reported not to exist
	}{
		// Other organizations' users do not exist for the caller; the API
		// presents ent's NotFound as NOT_FOUND (graph.ClassifyError).
		{name: "ErrRenameOtherOrganization", op: rename("Tên khác"), absent: true},
		{name: "ErrDeactivateOtherOrganization", op: deactivate, absent: true},
		{name: "ErrAnonymousUpdate", anon: true, op: rename("Tên khác"), want: wantErr{code: apierr.Unauthenticated}},
		{name: "ErrAnonymousDeactivate", anon: true, op: deactivate, want: wantErr{code: apierr.Unauthenticated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.staff(t, false)
			target := s.users["other"]
			ctx := context.Background()
			if !tt.anon {
				ctx, _ = e.login(t, s.users["owner"])
			}
			_, err := e.apply(ctx, target.ID, tt.op)
			if tt.absent {
				if !ent.IsNotFound(err) {
					t.Fatalf("error = %v, want ent's NotFound", err)
				}
			} else {
				tt.want.check(t, err)
			}
			checkApplied(t, target, e.reload(t, target), tt.op, true)
		})
	}
}
