package main

import (
	"strings"
	"testing"
	"time"
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
		{name: "OKLiveCallsDefaults", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if c.CallMinutesQuota != DefaultCallMinutesQuota || c.LiveCalls.RingTimeout != 45*time.Second ||
				c.LiveCalls.MaxDuration != 2*time.Hour || c.LiveCalls.StunURLs != nil {
				t.Fatalf("quota %d, calls %+v", c.CallMinutesQuota, c.LiveCalls)
			}
		}},
		{name: "OKLiveCalls", env: map[string]string{
			"DAKENH_CALL_MINUTES_QUOTA": "250", "DAKENH_CALL_RING_SECONDS": "20", "DAKENH_CALL_MAX_MINUTES": "30",
			"DAKENH_STUN_URLS": "stun:stun.example.vn:3478", "DAKENH_TURN_URLS": "turn:turn.example.vn:3478, turns:turn.example.vn:5349",
			"DAKENH_TURN_SECRET": "coturn-secret",
		}, check: func(t *testing.T, c Config) {
			l := c.LiveCalls
			if c.CallMinutesQuota != 250 || l.RingTimeout != 20*time.Second || l.MaxDuration != 30*time.Minute || len(l.StunURLs) != 1 || len(l.TurnURLs) != 2 ||
				l.TurnURLs[1] != "turns:turn.example.vn:5349" || string(l.TurnSecret) != "coturn-secret" {
				t.Fatalf("quota %d, calls %+v", c.CallMinutesQuota, l)
			}
		}},
		{name: "ErrCallMinutesQuota", env: map[string]string{"DAKENH_CALL_MINUTES_QUOTA": "-1"}, wantErr: "DAKENH_CALL_MINUTES_QUOTA must be a whole number"},
		{name: "ErrRingSeconds", env: map[string]string{"DAKENH_CALL_RING_SECONDS": "2"}, wantErr: "DAKENH_CALL_RING_SECONDS must be a whole number from 5"},
		{name: "ErrStunURL", env: map[string]string{"DAKENH_STUN_URLS": "https://stun.example.vn"}, wantErr: "stun:, stuns:, turn: or turns:"},
		{name: "ErrTurnWithoutSecret", env: map[string]string{"DAKENH_TURN_URLS": "turn:turn.example.vn"}, wantErr: "DAKENH_TURN_URLS needs DAKENH_TURN_SECRET"},
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
