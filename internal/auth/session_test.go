package auth_test

import (
	"reflect"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/ent/session"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/viewer"
)

// defaultSessionTTL is the documented default of Options.SessionTTL.
const defaultSessionTTL = 30 * 24 * time.Hour

func TestAuthenticateSession(t *testing.T) {
	tests := []struct {
		name string
		// prepare acts on the freshly issued session (moves the clock,
		// logs out, ...) and returns the token to present.
		prepare func(t *testing.T, e *env, s *auth.Session) string
		want    apierr.Code
		wantMsg string
	}{
		{
			name:    "OK",
			prepare: func(_ *testing.T, _ *env, s *auth.Session) string { return s.Token },
		},
		{
			name: "OKWithBearerPrefixStripped",
			prepare: func(_ *testing.T, _ *env, s *auth.Session) string {
				return auth.BearerToken("Bearer " + s.Token)
			},
		},
		{
			name: "OKOneSecondBeforeExpiry",
			prepare: func(_ *testing.T, e *env, s *auth.Session) string {
				e.clock.Advance(defaultSessionTTL - time.Second)
				return s.Token
			},
		},
		{
			name: "ErrExpired",
			prepare: func(_ *testing.T, e *env, s *auth.Session) string {
				e.clock.Advance(defaultSessionTTL)
				return s.Token
			},
			want:    apierr.Unauthenticated,
			wantMsg: "invalid or expired token",
		},
		{
			name: "ErrLoggedOut",
			prepare: func(t *testing.T, e *env, s *auth.Session) string {
				v, err := e.auth.Authenticate(t.Context(), s.Token)
				if err != nil {
					t.Fatalf("Authenticate before logout: %v", err)
				}
				if err := e.auth.Logout(viewer.NewContext(t.Context(), v)); err != nil {
					t.Fatalf("Logout: %v", err)
				}
				return s.Token
			},
			want:    apierr.Unauthenticated,
			wantMsg: "invalid or expired token",
		},
		{
			name: "ErrRevokedWithAllUserSessions",
			prepare: func(t *testing.T, e *env, s *auth.Session) string {
				if err := e.auth.RevokeUserSessions(t.Context(), s.User.OrganizationID, s.User.ID); err != nil {
					t.Fatalf("RevokeUserSessions: %v", err)
				}
				return s.Token
			},
			want:    apierr.Unauthenticated,
			wantMsg: "invalid or expired token",
		},
		{
			name: "ErrUserDeactivated",
			prepare: func(t *testing.T, e *env, s *auth.Session) string {
				// Deactivated directly, without revoking the session, so
				// only the check of the user's activity can refuse it.
				err := e.client.User.UpdateOneID(s.User.ID).SetActive(false).
					Exec(viewer.SystemContext(t.Context(), s.User.OrganizationID))
				if err != nil {
					t.Fatalf("deactivating: %v", err)
				}
				return s.Token
			},
			want:    apierr.Unauthenticated,
			wantMsg: "this account is deactivated",
		},
		{
			name:    "ErrTamperedToken",
			prepare: func(_ *testing.T, _ *env, s *auth.Session) string { return s.Token + "x" },
			want:    apierr.Unauthenticated,
			wantMsg: "invalid or expired token",
		},
		{
			name: "ErrSessionSecretAsAPIKey",
			prepare: func(_ *testing.T, _ *env, s *auth.Session) string {
				return "dkk_" + s.Token[len("dks_"):]
			},
			want:    apierr.Unauthenticated,
			wantMsg: "invalid or expired token",
		},
		{
			name:    "ErrNoKnownPrefix",
			prepare: func(_ *testing.T, _ *env, s *auth.Session) string { return s.Token[len("dks_"):] },
			want:    apierr.Unauthenticated,
			wantMsg: "invalid token",
		},
		{
			name:    "ErrEmpty",
			prepare: func(*testing.T, *env, *auth.Session) string { return "" },
			want:    apierr.Unauthenticated,
			wantMsg: "invalid token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			org := e.org(t, "Công ty Đà Nẵng")
			u := e.user(t, org, viewer.RoleAdmin, "quan.tri@example.com", "mật-khẩu-quản-trị")
			s, err := e.auth.IssueSession(t.Context(), u)
			if err != nil {
				t.Fatalf("IssueSession: %v", err)
			}
			if want := t0.Add(defaultSessionTTL); !s.ExpiresAt.Equal(want) {
				t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
			}
			token := tt.prepare(t, e, s)

			v, err := e.auth.Authenticate(t.Context(), token)
			checkErr(t, err, tt.want, tt.wantMsg)
			if tt.want != "" {
				if v != nil {
					t.Fatalf("viewer = %+v, want nil with an error", v)
				}
				return
			}
			ses, err := e.client.Session.Query().Where(session.UserID(u.ID)).Only(viewer.SystemContext(t.Context(), ""))
			if err != nil {
				t.Fatalf("loading the session: %v", err)
			}
			want := &viewer.Viewer{OrgID: org, UserID: u.ID, Role: viewer.RoleAdmin, SessionID: ses.ID}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("viewer = %+v, want %+v", v, want)
			}
		})
	}
}

func TestSessionTTLOption(t *testing.T) {
	e := newEnv(t)
	svc := auth.New(e.client, auth.Options{SessionTTL: time.Hour, BcryptCost: bcrypt.MinCost, Now: e.clock.Now})
	u := e.user(t, e.org(t, "Công ty"), viewer.RoleAgent, "nv@example.com", "mật-khẩu-nhân-viên")
	s, err := svc.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatalf("IssueSession: %v", err)
	}
	if want := t0.Add(time.Hour); !s.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
	}
	e.clock.Advance(time.Hour - time.Second)
	if _, err := svc.Authenticate(t.Context(), s.Token); err != nil {
		t.Fatalf("Authenticate before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err = svc.Authenticate(t.Context(), s.Token)
	checkErr(t, err, apierr.Unauthenticated, "invalid or expired token")
}

func TestLogoutRevokesOnlyThatSession(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, e.org(t, "Công ty"), viewer.RoleAgent, "nv@example.com", "mật-khẩu-nhân-viên")
	phone, err := e.auth.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	laptop, err := e.auth.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.auth.Authenticate(t.Context(), phone.Token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	e.clock.Advance(time.Minute)
	if err := e.auth.Logout(viewer.NewContext(t.Context(), v)); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = e.auth.Authenticate(t.Context(), phone.Token)
	checkErr(t, err, apierr.Unauthenticated, "invalid or expired token")
	if _, err := e.auth.Authenticate(t.Context(), laptop.Token); err != nil {
		t.Fatalf("the other session: Authenticate = %v, want it still valid", err)
	}
	ses, err := e.client.Session.Get(viewer.SystemContext(t.Context(), ""), v.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Minute); ses.RevokedAt == nil || !ses.RevokedAt.Equal(want) {
		t.Fatalf("revoked_at = %v, want %v", ses.RevokedAt, want)
	}
}

func TestLogoutNeedsASession(t *testing.T) {
	tests := []struct {
		name string
		v    *viewer.Viewer
	}{
		{"ErrAnonymous", nil},
		{"ErrAPIKey", &viewer.Viewer{OrgID: "O_1", APIKeyID: "K_1", Scopes: []viewer.Scope{viewer.ScopeRead}}},
		{"ErrSystem", &viewer.Viewer{OrgID: "O_1", System: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			if tt.v != nil {
				ctx = viewer.NewContext(ctx, tt.v)
			}
			checkErr(t, e.auth.Logout(ctx), apierr.Unauthenticated, "logout needs a session token")
		})
	}
}
