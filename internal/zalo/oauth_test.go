package zalo_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestRefreshToken(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)

	tok, err := c.RefreshToken(t.Context(), fake.AppID(), fake.AppSecret(), oa.RefreshToken)
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}

	// expires_in arrives as the string "90000".
	want := zalo.Token{
		AccessToken:  "access-oa-1-2",
		RefreshToken: "refresh-oa-1-2",
		ExpiresAt:    testNow.Add(90000 * time.Second),
	}
	if *tok != want {
		t.Errorf("token = %#v, want access %q refresh %q expiring %s", *tok, want.AccessToken, want.RefreshToken, want.ExpiresAt)
	}
	if cur := fake.OA(oa.ID); cur.AccessToken != tok.AccessToken || cur.RefreshToken != tok.RefreshToken {
		t.Errorf("returned tokens are not the fake's current ones")
	}
	req := lastRequest(t, fake)
	assertTokenRequest(t, req, fake.AppSecret(), url.Values{
		"refresh_token": {oa.RefreshToken},
		"app_id":        {fake.AppID()},
		"grant_type":    {"refresh_token"},
	})
	if n := fake.RefreshCount(); n != 1 {
		t.Errorf("RefreshCount = %d, want 1", n)
	}
}

// assertTokenRequest checks a request to the token endpoint.
func assertTokenRequest(t *testing.T, req zalofake.Request, secret string, wantForm url.Values) {
	t.Helper()
	if req.Method != http.MethodPost || req.Path != "/v4/oa/access_token" || req.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want POST /v4/oa/access_token", req.Method, req.Path, req.RawQuery)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
	}
	if got := req.Header.Values("secret_key"); len(got) != 1 || got[0] != secret {
		t.Errorf("secret_key header = %q, want [%q]", got, secret)
	}
	if got := req.Header.Get("access_token"); got != "" {
		t.Errorf("access_token header = %q, want none", got)
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		t.Fatalf("form %q: %v", req.Body, err)
	}
	if !reflect.DeepEqual(form, wantForm) {
		t.Errorf("form = %v, want %v", form, wantForm)
	}
}

func TestRefreshTokensAreSingleUse(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	ctx := t.Context()

	first, err := c.RefreshToken(ctx, fake.AppID(), fake.AppSecret(), oa.RefreshToken)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	_, reuseErr := c.RefreshToken(ctx, fake.AppID(), fake.AppSecret(), oa.RefreshToken)
	second, err := c.RefreshToken(ctx, fake.AppID(), fake.AppSecret(), first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with the new token: %v", err)
	}

	got, ok := errors.AsType[*zalo.OAuthError](reuseErr)
	if !ok || got.Code != zalo.CodeRefreshTokenInvalid {
		t.Errorf("reusing a refresh token: err = %v, want OAuthError %d", reuseErr, zalo.CodeRefreshTokenInvalid)
	}
	if !zalo.IsRefreshRejected(reuseErr) || class(reuseErr) != "permanent" {
		t.Errorf("reusing a refresh token: rejected = %t, class = %s; want rejected and permanent",
			zalo.IsRefreshRejected(reuseErr), class(reuseErr))
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Errorf("second refresh returned the same tokens")
	}
	if n := fake.RefreshCount(); n != 2 {
		t.Errorf("RefreshCount = %d, want 2", n)
	}
	// Only the newest access token works.
	if _, err := c.SendText(ctx, first.AccessToken, "u-1", "hi"); !zalo.IsTokenInvalid(err) {
		t.Errorf("send with a replaced token: err = %v, want token invalid", err)
	}
	if _, err := c.SendText(ctx, second.AccessToken, "u-1", "hi"); err != nil {
		t.Errorf("send with the newest token: %v", err)
	}
}

func TestRefreshTokenErrors(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(fake *zalofake.Server, oa zalofake.OA)
		secret       string // default: the fake's
		timeout      time.Duration
		wantCode     int // OAuthError code, 0 for none
		wantClass    string
		wantRejected bool
	}{
		{
			name:         "ExpiredRefreshTokenIsRejected",
			setup:        func(fake *zalofake.Server, oa zalofake.OA) { fake.ExpireRefreshToken(oa.ID) },
			wantCode:     zalo.CodeRefreshTokenExpired,
			wantClass:    "permanent",
			wantRejected: true,
		},
		{
			name:         "WrongSecretIsRejected",
			secret:       "not-the-secret",
			wantCode:     -14003,
			wantClass:    "permanent",
			wantRejected: true,
		},
		{
			name:         "InjectedOAuthErrorIsRejected",
			setup:        failToken(zalofake.ErrorCode(-14014)),
			wantCode:     -14014,
			wantClass:    "permanent",
			wantRejected: true,
		},
		{
			name:      "ServerErrorIsTransientNotRejected",
			setup:     failToken(zalofake.Status(http.StatusInternalServerError)),
			wantClass: "transient",
		},
		{
			name:      "TimeoutIsTransientNotRejected",
			setup:     failToken(zalofake.Slow(10 * time.Second)),
			timeout:   100 * time.Millisecond,
			wantClass: "transient",
		},
		{
			name:      "ConnectionResetIsTransientNotRejected",
			setup:     failToken(zalofake.ConnectionReset()),
			wantClass: "transient",
		},
		{
			name:      "MalformedAnswerIsPermanentNotRejected",
			setup:     failToken(zalofake.Malformed()),
			wantClass: "permanent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			if tt.setup != nil {
				tt.setup(fake, oa)
			}
			secret := fake.AppSecret()
			if tt.secret != "" {
				secret = tt.secret
			}
			c := newClient(t, fake, func(cfg *zalo.Config) {
				if tt.timeout != 0 {
					cfg.Timeout = tt.timeout
				}
			})

			tok, err := c.RefreshToken(t.Context(), fake.AppID(), secret, oa.RefreshToken)

			if err == nil {
				t.Fatalf("RefreshToken = %v, want an error", tok)
			}
			got, isOAuth := errors.AsType[*zalo.OAuthError](err)
			switch {
			case tt.wantCode != 0 && (!isOAuth || got.Code != tt.wantCode):
				t.Errorf("err = %v, want OAuthError %d", err, tt.wantCode)
			case tt.wantCode == 0 && isOAuth:
				t.Errorf("err = %v, want no OAuthError", err)
			}
			if c := class(err); c != tt.wantClass {
				t.Errorf("class = %s, want %s", c, tt.wantClass)
			}
			if r := zalo.IsRefreshRejected(err); r != tt.wantRejected {
				t.Errorf("IsRefreshRejected = %t, want %t", r, tt.wantRejected)
			}
			assertNoSecret(t, err, secret, oa.RefreshToken, oa.AccessToken)
			if n := fake.RefreshCount(); n != 0 {
				t.Errorf("RefreshCount = %d, want 0", n)
			}
		})
	}
}

// failToken injects f into the next token request.
func failToken(f zalofake.Failure) func(*zalofake.Server, zalofake.OA) {
	return func(fake *zalofake.Server, _ zalofake.OA) { fake.FailNext(zalofake.AccessToken, 1, f) }
}

func TestOAuthErrorMessage(t *testing.T) {
	err := &zalo.OAuthError{Code: -14014, Name: "invalid_grant", Description: "Invalid refresh token"}
	if got, want := err.Error(), "oauth error -14014: invalid_grant: Invalid refresh token"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestExchangeCode(t *testing.T) {
	fake, oa := newFake(t)
	code := fake.AuthorizationCode(oa.ID, "verifier-123")
	c := newClient(t, fake)

	tok, err := c.ExchangeCode(t.Context(), fake.AppID(), fake.AppSecret(), code, "verifier-123")
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}

	want := zalo.Token{
		AccessToken:  "access-oa-1-2",
		RefreshToken: "refresh-oa-1-2",
		ExpiresAt:    testNow.Add(90000 * time.Second),
	}
	if *tok != want {
		t.Errorf("token = %#v, want access %q refresh %q expiring %s", *tok, want.AccessToken, want.RefreshToken, want.ExpiresAt)
	}
	assertTokenRequest(t, lastRequest(t, fake), fake.AppSecret(), url.Values{
		"code":          {code},
		"app_id":        {fake.AppID()},
		"grant_type":    {"authorization_code"},
		"code_verifier": {"verifier-123"},
	})
}

func TestExchangeCodeRefusals(t *testing.T) {
	tests := []struct {
		name     string
		verifier string
		reuse    bool
	}{
		{name: "WrongVerifier", verifier: "wrong"},
		{name: "CodeUsedTwice", verifier: "v", reuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			code := fake.AuthorizationCode(oa.ID, "v")
			c := newClient(t, fake)
			if tt.reuse {
				if _, err := c.ExchangeCode(t.Context(), fake.AppID(), fake.AppSecret(), code, "v"); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
			}

			_, err := c.ExchangeCode(t.Context(), fake.AppID(), fake.AppSecret(), code, tt.verifier)

			if !zalo.IsRefreshRejected(err) || class(err) != "permanent" {
				t.Errorf("err = %v (%s), want a permanent OAuthError", err, class(err))
			}
		})
	}
}

func TestPermissionURL(t *testing.T) {
	tests := []struct {
		name     string
		oauthURL string
		want     string
	}{
		{
			name: "Default",
			want: "https://oauth.zaloapp.com/v4/oa/permission?app_id=123&code_challenge=abc-_xyz" +
				"&redirect_uri=https%3A%2F%2Fcrm.example.vn%2Fzalo%2Fcallback&state=s+1",
		},
		{
			name:     "Configured",
			oauthURL: "http://127.0.0.1:9999/",
			want: "http://127.0.0.1:9999/v4/oa/permission?app_id=123&code_challenge=abc-_xyz" +
				"&redirect_uri=https%3A%2F%2Fcrm.example.vn%2Fzalo%2Fcallback&state=s+1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := zalo.New(zalo.Config{OAuthURL: tt.oauthURL})
			got := c.PermissionURL("123", "https://crm.example.vn/zalo/callback", "abc-_xyz", "s 1")
			if got != tt.want {
				t.Errorf("PermissionURL =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestTokenFormattingHidesSecrets(t *testing.T) {
	tok := zalo.Token{AccessToken: "AT-secret", RefreshToken: "RT-secret", ExpiresAt: testNow}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("refreshed", "token", tok)

	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", tok),
		"%+v":  fmt.Sprintf("%+v", tok),
		"%#v":  fmt.Sprintf("%#v", tok),
		"%s":   fmt.Sprintf("%s", &tok),
		"slog": logged.String(),
	}
	for verb, out := range outputs {
		if strings.Contains(out, "secret") {
			t.Errorf("%s prints %q, which contains a token", verb, out)
		}
	}
	if want := "zalo.Token{expires 2026-03-01T08:00:00Z}"; outputs["%v"] != want {
		t.Errorf("%%v = %q, want %q", outputs["%v"], want)
	}
}
