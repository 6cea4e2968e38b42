package main

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	const pg = "postgres://postgres@127.0.0.1:5432/dakenh?sslmode=disable"
	const key = "a-secret-of-thirty-two-characters!!"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(*testing.T, Config)
	}{
		{name: "OKEmbeddedGeneratesASecret", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if len(c.Secret) < 32 {
				t.Fatalf("generated secret %q", c.Secret)
			}
		}},
		{name: "OKPostgresWithSecret", env: map[string]string{"DATABASE_URL": pg, "DAKENH_SECRET": key}, check: func(t *testing.T, c Config) {
			if string(c.Secret) != key || c.PreviousSecrets != nil {
				t.Fatalf("secret %q, previous %q", c.Secret, c.PreviousSecrets)
			}
		}},
		{name: "OKRotation", env: map[string]string{"DAKENH_SECRET": key, "DAKENH_SECRET_PREVIOUS": "the-old-secret-the-old-secret-the-old"}, check: func(t *testing.T, c Config) {
			if len(c.PreviousSecrets) != 1 || string(c.PreviousSecrets[0]) != "the-old-secret-the-old-secret-the-old" {
				t.Fatalf("previous %q", c.PreviousSecrets)
			}
		}},
		{name: "OKOAuthApps", env: map[string]string{
			"ZALO_APP_ID": "zapp", "ZALO_APP_SECRET": "zsecret", "ZALO_WEBHOOK_SECRET": "zhook",
			"FACEBOOK_APP_ID": "fapp", "FACEBOOK_APP_SECRET": "fsecret", "FACEBOOK_VERIFY_TOKEN": "fverify",
			"DAKENH_APP_URL": "https://crm.example.vn/settings/channels",
		}, check: func(t *testing.T, c Config) {
			want := OAuthConfig{
				ZaloAppID: "zapp", ZaloAppSecret: "zsecret", ZaloWebhookSecret: "zhook",
				FacebookAppID: "fapp", FacebookAppSecret: "fsecret", FacebookVerifyToken: "fverify",
				AppURL: "https://crm.example.vn/settings/channels",
			}
			if c.OAuth != want {
				t.Fatalf("OAuth = %+v, want %+v", c.OAuth, want)
			}
		}},
		{name: "ErrAppURL", env: map[string]string{"DAKENH_APP_URL": "javascript:alert(1)"}, wantErr: "DAKENH_APP_URL must be an http(s) URL"},
		{name: "ErrPostgresWithoutSecret", env: map[string]string{"DATABASE_URL": pg}, wantErr: "DAKENH_SECRET must be set when DATABASE_URL is"},
		{name: "ErrShortSecret", env: map[string]string{"DAKENH_SECRET": "short"}, wantErr: "DAKENH_SECRET must be at least 32"},
		{name: "ErrShortPrevious", env: map[string]string{"DAKENH_SECRET": key, "DAKENH_SECRET_PREVIOUS": "short"}, wantErr: "DAKENH_SECRET_PREVIOUS must be at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DAKENH_DATA_DIR": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := configFromEnv(func(k string) string { return env[k] }, func(string, ...any) {})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
