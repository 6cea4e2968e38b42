package auth_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestAuthenticateAPIKey(t *testing.T) {
	tests := []struct {
		name string
		// revoke revokes the key before it is used.
		revoke bool
		// token derives the presented token from the minted key.
		token   func(key string) string
		want    apierr.Code
		wantMsg string
	}{
		{name: "OK", token: func(k string) string { return k }},
		{name: "ErrRevoked", revoke: true, token: func(k string) string { return k }, want: apierr.Unauthenticated, wantMsg: "invalid or expired token"},
		{name: "ErrTampered", token: func(k string) string { return k[:len(k)-1] }, want: apierr.Unauthenticated, wantMsg: "invalid or expired token"},
		{name: "ErrKeySecretAsSession", token: func(k string) string { return "dks_" + k[len("dkk_"):] }, want: apierr.Unauthenticated, wantMsg: "invalid or expired token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			// Two organizations, each with a key, so the viewer's
			// organization is shown to come from the key itself.
			orgA, orgB := e.org(t, "Công ty A"), e.org(t, "Công ty B")
			ownerA := e.user(t, orgA, viewer.RoleOwner, "a@example.com", "mật-khẩu-chủ-a")
			ownerB := e.user(t, orgB, viewer.RoleOwner, "b@example.com", "mật-khẩu-chủ-b")
			if _, _, err := e.auth.CreateAPIKey(as(t.Context(), ownerA), "Zalo", []viewer.Scope{viewer.ScopeWrite}); err != nil {
				t.Fatalf("CreateAPIKey A: %v", err)
			}
			key, k, err := e.auth.CreateAPIKey(as(t.Context(), ownerB), "Website",
				[]viewer.Scope{viewer.ScopeRead, viewer.ScopeEvents, viewer.ScopeRead})
			if err != nil {
				t.Fatalf("CreateAPIKey B: %v", err)
			}
			if tt.revoke {
				if _, err := e.auth.RevokeAPIKey(as(t.Context(), ownerB), k.ID); err != nil {
					t.Fatalf("RevokeAPIKey: %v", err)
				}
			}

			v, err := e.auth.Authenticate(t.Context(), tt.token(key))
			checkErr(t, err, tt.want, tt.wantMsg)
			if tt.want != "" {
				if v != nil {
					t.Fatalf("viewer = %+v, want nil with an error", v)
				}
				return
			}
			want := &viewer.Viewer{OrgID: orgB, APIKeyID: k.ID, Scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeEvents}}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("viewer = %+v, want %+v", v, want)
			}
		})
	}
}

func TestCreateAPIKey(t *testing.T) {
	tests := []struct {
		name      string
		role      viewer.Role // the acting user's role; "" means an API key acts
		scopes    []viewer.Scope
		want      apierr.Code
		wantField string
	}{
		{name: "OKOwner", role: viewer.RoleOwner, scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeRead, viewer.ScopeWrite}},
		{name: "OKAdmin", role: viewer.RoleAdmin, scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeRead, viewer.ScopeWrite}},
		{name: "ErrNoScopes", role: viewer.RoleOwner, scopes: nil, want: apierr.BadUserInput, wantField: "scopes"},
		{name: "ErrAgent", role: viewer.RoleAgent, scopes: []viewer.Scope{viewer.ScopeRead}, want: apierr.Forbidden},
		{name: "ErrAPIKeyMintsKey", role: "", scopes: []viewer.Scope{viewer.ScopeRead}, want: apierr.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			org := e.org(t, "Công ty")
			ctx := viewer.NewContext(t.Context(), &viewer.Viewer{OrgID: org, APIKeyID: "K_x",
				Scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeWrite}})
			var creator *string
			if tt.role != "" {
				u := e.user(t, org, tt.role, "u@example.com", "mật-khẩu-người-dùng")
				ctx = as(t.Context(), u)
				id := string(u.ID)
				creator = &id
			}
			key, k, err := e.auth.CreateAPIKey(ctx, "  Website  ", tt.scopes)
			checkErr(t, err, tt.want, "")
			if tt.want != "" {
				if e, _ := apierr.As(err); e.Field != tt.wantField {
					t.Fatalf("field = %q, want %q", e.Field, tt.wantField)
				}
				if key != "" || k != nil {
					t.Fatalf("got key %q and record %v with an error", key, k)
				}
				return
			}
			if !strings.HasPrefix(key, "dkk_") || len(key) != len("dkk_")+43 {
				t.Fatalf("key = %q, want dkk_ and 43 base64url characters", key)
			}
			if k.Prefix != key[:10] {
				t.Fatalf("prefix = %q, want %q", k.Prefix, key[:10])
			}
			if k.Name != "Website" {
				t.Fatalf("name = %q, want %q", k.Name, "Website")
			}
			if k.OrganizationID != org {
				t.Fatalf("organization = %q, want %q", k.OrganizationID, org)
			}
			if want := []viewer.Scope{viewer.ScopeRead, viewer.ScopeWrite}; !reflect.DeepEqual(k.Scopes, want) {
				t.Fatalf("scopes = %v, want %v", k.Scopes, want)
			}
			if creator == nil || string(k.CreatedByID) != *creator {
				t.Fatalf("created_by = %q, want the acting user", k.CreatedByID)
			}
			if k.LastUsedAt != nil || k.RevokedAt != nil {
				t.Fatalf("last_used_at = %v, revoked_at = %v, want both unset", k.LastUsedAt, k.RevokedAt)
			}
		})
	}
}

func TestRevokeAPIKeyKeepsFirstRevocation(t *testing.T) {
	e := newEnv(t)
	owner := e.user(t, e.org(t, "Công ty"), viewer.RoleOwner, "chu@example.com", "mật-khẩu-của-chủ")
	ctx := as(t.Context(), owner)
	_, k, err := e.auth.CreateAPIKey(ctx, "Website", []viewer.Scope{viewer.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := e.auth.RevokeAPIKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("RevokeAPIKey #%d: %v", i+1, err)
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(t0) {
			t.Fatalf("RevokeAPIKey #%d: revoked_at = %v, want %v", i+1, got.RevokedAt, t0)
		}
		e.clock.Advance(time.Hour)
	}
}

func TestAPIKeyLastUsedAtAtMostOncePerMinute(t *testing.T) {
	e := newEnv(t)
	org := e.org(t, "Công ty")
	owner := e.user(t, org, viewer.RoleOwner, "chu@example.com", "mật-khẩu-của-chủ")
	key, k, err := e.auth.CreateAPIKey(as(t.Context(), owner), "Website", []viewer.Scope{viewer.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	// Steps run in order on the same key; each moves the clock, uses the
	// key and checks the stored last_used_at.
	steps := []struct {
		name    string
		advance time.Duration
		want    time.Time
	}{
		{name: "FirstUseRecorded", advance: 0, want: t0},
		{name: "After30sUnchanged", advance: 30 * time.Second, want: t0},
		{name: "After2minUpdated", advance: 2 * time.Minute, want: t0.Add(2*time.Minute + 30*time.Second)},
		{name: "Another30sUnchanged", advance: 30 * time.Second, want: t0.Add(2*time.Minute + 30*time.Second)},
		{name: "Another2minUpdated", advance: 2 * time.Minute, want: t0.Add(5 * time.Minute)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.Advance(st.advance)
			if _, err := e.auth.Authenticate(t.Context(), key); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			got, err := e.client.APIKey.Get(viewer.SystemContext(t.Context(), org), k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(st.want) {
				t.Fatalf("last_used_at = %v, want %v", got.LastUsedAt, st.want)
			}
		})
	}
}
