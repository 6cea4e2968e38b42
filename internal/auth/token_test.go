package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"OKBearer", "Bearer dks_abc", "dks_abc"},
		{"OKLowerCase", "bearer dks_abc", "dks_abc"},
		{"OKUpperCase", "BEARER dks_abc", "dks_abc"},
		{"OKExtraSpaces", "  Bearer    dks_abc  ", "dks_abc"},
		{"OKBareToken", "dks_abc", "dks_abc"},
		{"OKBareTokenTrimmed", " \tdks_abc\n", "dks_abc"},
		{"OKEmpty", "", ""},
		{"SchemeOnlyIsKept", "Bearer", "Bearer"},
		{"SchemeAndSpaceOnlyIsKept", "Bearer ", "Bearer"},
		{"OtherSchemeIsKept", "Basic dks_abc", "Basic dks_abc"},
		{"NoSpaceAfterSchemeIsKept", "Bearerdks_abc", "Bearerdks_abc"},
		{"TabAfterSchemeIsKept", "Bearer\tdks_abc", "Bearer\tdks_abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.BearerToken(tt.header); got != tt.want {
				t.Fatalf("BearerToken(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	if got := auth.AddressFrom(context.Background()); got != "" {
		t.Fatalf("AddressFrom(empty) = %q, want \"\"", got)
	}
	if got := auth.AddressFrom(auth.WithAddress(context.Background(), "192.0.2.9")); got != "192.0.2.9" {
		t.Fatalf("AddressFrom = %q, want %q", got, "192.0.2.9")
	}
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, e.org(t, "Công ty"), viewer.RoleAgent, "nv@example.com", "mật-khẩu-nhân-viên")
	s, err := e.auth.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		header     string
		wantStatus int
		wantUser   bool   // the handler sees the session's user
		wantMsg    string // the 401 body's message
	}{
		{name: "OKAnonymous", header: "", wantStatus: http.StatusOK},
		{name: "OKSession", header: "Bearer " + s.Token, wantStatus: http.StatusOK, wantUser: true},
		{name: "ErrBadToken", header: "Bearer dks_nope", wantStatus: http.StatusUnauthorized, wantMsg: "invalid or expired token"},
		{name: "ErrUnknownKind", header: "Basic dXNlcjpwYXNz", wantStatus: http.StatusUnauthorized, wantMsg: "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen *viewer.Viewer
			var addr string
			called := false
			h := e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				seen = viewer.FromContext(r.Context())
				addr = auth.AddressFrom(r.Context())
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader("{}"))
			req.RemoteAddr = "192.0.2.9:51234"
			req.Header.Set("X-Forwarded-For", "10.9.9.9")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusUnauthorized {
				if called {
					t.Fatal("the next handler ran for a bad token")
				}
				var body struct {
					Errors []struct {
						Message    string         `json:"message"`
						Extensions map[string]any `json:"extensions"`
					} `json:"errors"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q: %v", rec.Body.String(), err)
				}
				if len(body.Errors) != 1 || body.Errors[0].Message != tt.wantMsg ||
					!reflect.DeepEqual(body.Errors[0].Extensions, map[string]any{"code": string(apierr.Unauthenticated)}) {
					t.Fatalf("body = %s, want one UNAUTHENTICATED error %q", rec.Body.String(), tt.wantMsg)
				}
				return
			}
			if !called {
				t.Fatal("the next handler did not run")
			}
			// The peer's address, never a forwarded header.
			if addr != "192.0.2.9" {
				t.Fatalf("address = %q, want %q", addr, "192.0.2.9")
			}
			if got := seen != nil && seen.UserID == u.ID; got != tt.wantUser {
				t.Fatalf("viewer = %+v, want user %v", seen, tt.wantUser)
			}
		})
	}
}

func TestWebsocketInit(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, e.org(t, "Công ty"), viewer.RoleAgent, "nv@example.com", "mật-khẩu-nhân-viên")
	s, err := e.auth.IssueSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := &viewer.Viewer{OrgID: u.OrganizationID, UserID: u.ID, Role: u.Role}
	tests := []struct {
		name     string
		ctxView  *viewer.Viewer // viewer set by the upgrade request's header
		payload  transport.InitPayload
		want     apierr.Code
		wantUser bool
	}{
		{name: "OKBearerInPayload", payload: transport.InitPayload{"Authorization": "Bearer " + s.Token}, wantUser: true},
		{name: "OKBareTokenInPayload", payload: transport.InitPayload{"authorization": s.Token}, wantUser: true},
		{name: "OKAuthenticatedByUpgrade", ctxView: upgraded, payload: transport.InitPayload{}, wantUser: true},
		{name: "ErrNoCredentials", payload: transport.InitPayload{}, want: apierr.Unauthenticated},
		{name: "ErrBadToken", payload: transport.InitPayload{"Authorization": "Bearer dks_nope"}, want: apierr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.ctxView != nil {
				ctx = viewer.NewContext(ctx, tt.ctxView)
			}
			got, _, err := e.auth.WebsocketInit(ctx, tt.payload)
			checkErr(t, err, tt.want, "")
			v := viewer.FromContext(got)
			if has := v != nil && v.UserID == u.ID; has != tt.wantUser {
				t.Fatalf("viewer = %+v, want user %v", v, tt.wantUser)
			}
		})
	}
}
