package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/livecall"
)

// Config is the server's configuration, read from the environment (the
// table in README.md and docs/api.md).
type Config struct {
	DatabaseURL string
	DataDir     string
	Addr        string
	// MetricsAddr, when set, is where /metrics is served instead of Addr,
	// so Prometheus scrapes a port the public never reaches.
	MetricsAddr string
	Secret      []byte
	// PreviousSecrets open values sealed before a rotation of Secret.
	PreviousSecrets [][]byte
	CORSOrigins     []string
	AllowSignUp     bool
	Introspection   bool
	LogLevel        slog.Level
	// MaxBodyBytes bounds a request body; CSV imports are the largest.
	MaxBodyBytes int64
	// ZaloOpenAPIURL, ZaloOAuthURL, ZNSAPIURL and FacebookGraphURL are the
	// providers' base URLs, scheme and host only (docs/providers.md); empty means
	// the adapters' production defaults.
	ZaloOpenAPIURL   string
	ZaloOAuthURL     string
	ZNSAPIURL        string
	FacebookGraphURL string
	// ZaloTemplateMessagePath is the Open API path of template messages
	// by user ID (ZALO_TEMPLATE_MESSAGE_PATH); empty means Zalo's
	// documented one (zalo.DefaultTemplateMessagePath).
	ZaloTemplateMessagePath string
	// DebugAddr, when set, serves the Go profiler there (debug.go).
	DebugAddr string
	// AllowInsecureWebhooks lets partner webhook endpoints use http to
	// loopback and deliveries reach loopback addresses, for development.
	AllowInsecureWebhooks bool
	// MediaDir, when set, keeps uploaded media as files there
	// (DAKENH_MEDIA_DIR), a directory every replica must share; unset,
	// they are kept in the database.
	MediaDir string
	// OAuth holds the server's provider apps, for channels connected by
	// consent rather than pasted tokens.
	OAuth OAuthConfig
	// PublicURL is the server's public base URL (DAKENH_PUBLIC_URL), as
	// websites reach it: LiveTalk snippets load the widget from it.
	PublicURL string
	// CallMinutesQuota is the monthly LiveTalk call minutes of an
	// organization whose plan sets none (DAKENH_CALL_MINUTES_QUOTA).
	CallMinutesQuota int
	// LiveCalls is the LiveTalk calls' ring timeout, maximum duration and
	// STUN/TURN servers (DAKENH_CALL_RING_SECONDS, DAKENH_CALL_MAX_MINUTES,
	// DAKENH_STUN_URLS, DAKENH_TURN_URLS, DAKENH_TURN_SECRET).
	LiveCalls livecall.Config
}

// DefaultCallMinutesQuota is DAKENH_CALL_MINUTES_QUOTA's default.
const DefaultCallMinutesQuota = 1000

// OAuthConfig is the business's (or the host's) Zalo and Facebook apps and
// the frontend the consent flows send the admin back to. Channels connected
// with pasted per-channel secrets do not need them.
type OAuthConfig struct {
	ZaloAppID, ZaloAppSecret string
	// ZaloWebhookSecret is the OA Secret Key of the Zalo app's webhook
	// settings, which signs the webhooks of the OAs connected through it.
	ZaloWebhookSecret string
	FacebookAppID     string
	FacebookAppSecret string
	// FacebookVerifyToken answers Facebook's webhook verification for the
	// pages connected through the app.
	FacebookVerifyToken string
	// AppURL is the frontend (DAKENH_APP_URL), the only redirect target of
	// the OAuth callbacks.
	AppURL string
}

// configFromEnv reads the configuration. It may create the data directory
// and a generated secret in it; warn receives what the operator should know.
func configFromEnv(getenv func(string) string, warn func(string, ...any)) (Config, error) {
	c := Config{
		DatabaseURL:   getenv("DATABASE_URL"),
		DataDir:       or(getenv("DAKENH_DATA_DIR"), "./data"),
		Addr:          or(getenv("DAKENH_ADDR"), ":8080"),
		MetricsAddr:   getenv("DAKENH_METRICS_ADDR"),
		CORSOrigins:   splitList(or(getenv("DAKENH_CORS_ORIGINS"), "http://localhost:3000")),
		MaxBodyBytes:  32 << 20,
		Introspection: true,

		ZaloOpenAPIURL:          getenv("ZALO_OPENAPI_URL"),
		ZaloOAuthURL:            getenv("ZALO_OAUTH_URL"),
		ZNSAPIURL:               getenv("ZNS_API_URL"),
		FacebookGraphURL:        getenv("FACEBOOK_GRAPH_URL"),
		ZaloTemplateMessagePath: getenv("ZALO_TEMPLATE_MESSAGE_PATH"),
		DebugAddr:               getenv("DAKENH_DEBUG_ADDR"),
		MediaDir:                strings.TrimSpace(getenv("DAKENH_MEDIA_DIR")),
		OAuth: OAuthConfig{
			ZaloAppID:           strings.TrimSpace(getenv("ZALO_APP_ID")),
			ZaloAppSecret:       getenv("ZALO_APP_SECRET"),
			ZaloWebhookSecret:   getenv("ZALO_WEBHOOK_SECRET"),
			FacebookAppID:       strings.TrimSpace(getenv("FACEBOOK_APP_ID")),
			FacebookAppSecret:   getenv("FACEBOOK_APP_SECRET"),
			FacebookVerifyToken: getenv("FACEBOOK_VERIFY_TOKEN"),
			AppURL:              strings.TrimSpace(getenv("DAKENH_APP_URL")),
		},
	}
	c.PublicURL = strings.TrimRight(strings.TrimSpace(or(getenv("DAKENH_PUBLIC_URL"), "http://localhost"+portOf(c.Addr))), "/")
	if p, err := url.Parse(c.PublicURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || (p.Path != "" && p.Path != "/") {
		return c, errors.New("DAKENH_PUBLIC_URL must be an http(s) URL with a host and no path, such as https://crm.example.com")
	}
	if u := c.OAuth.AppURL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return c, errors.New("DAKENH_APP_URL must be an http(s) URL with a host")
		}
	}
	var err error
	if c.AllowSignUp, err = boolEnv(getenv, "DAKENH_ALLOW_SIGNUP", c.DatabaseURL == ""); err != nil {
		return c, err
	}
	if c.Introspection, err = boolEnv(getenv, "DAKENH_INTROSPECTION", true); err != nil {
		return c, err
	}
	if c.AllowInsecureWebhooks, err = boolEnv(getenv, "DAKENH_ALLOW_INSECURE_WEBHOOKS", false); err != nil {
		return c, err
	}
	if c.CallMinutesQuota, err = intEnv(getenv, "DAKENH_CALL_MINUTES_QUOTA", DefaultCallMinutesQuota, 0, callminutes.MaxGrant); err != nil {
		return c, err
	}
	ring, err := intEnv(getenv, "DAKENH_CALL_RING_SECONDS", int(livecall.DefaultRingTimeout/time.Second), 5, 600)
	if err != nil {
		return c, err
	}
	maxMinutes, err := intEnv(getenv, "DAKENH_CALL_MAX_MINUTES", int(livecall.DefaultMaxDuration/time.Minute), 1, 1440)
	if err != nil {
		return c, err
	}
	c.LiveCalls = livecall.Config{
		RingTimeout: time.Duration(ring) * time.Second,
		MaxDuration: time.Duration(maxMinutes) * time.Minute,
		StunURLs:    splitList(getenv("DAKENH_STUN_URLS")),
		TurnURLs:    splitList(getenv("DAKENH_TURN_URLS")),
		TurnSecret:  []byte(getenv("DAKENH_TURN_SECRET")),
	}
	for _, u := range append(slices.Clone(c.LiveCalls.StunURLs), c.LiveCalls.TurnURLs...) {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return c, fmt.Errorf("DAKENH_STUN_URLS and DAKENH_TURN_URLS take stun:, stuns:, turn: or turns: URLs, not %q", u)
		}
	}
	if len(c.LiveCalls.TurnURLs) > 0 && len(c.LiveCalls.TurnSecret) == 0 {
		return c, errors.New("DAKENH_TURN_URLS needs DAKENH_TURN_SECRET, the TURN servers' shared secret")
	}
	if lvl := getenv("DAKENH_LOG_LEVEL"); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return c, fmt.Errorf("DAKENH_LOG_LEVEL: %w", err)
		}
	}
	switch s := getenv("DAKENH_SECRET"); {
	case s != "":
		if len(s) < 32 {
			return c, errors.New("DAKENH_SECRET must be at least 32 characters")
		}
		c.Secret = []byte(s)
	case c.DatabaseURL != "":
		// Replicas each generating their own would not open each other's
		// sealed credentials.
		return c, errors.New("DAKENH_SECRET must be set when DATABASE_URL is: every replica on the database needs the same secret (32+ characters)")
	default:
		if c.Secret, err = generatedSecret(c.DataDir, warn); err != nil {
			return c, err
		}
	}
	if s := getenv("DAKENH_SECRET_PREVIOUS"); s != "" {
		if len(s) < 32 {
			return c, errors.New("DAKENH_SECRET_PREVIOUS must be at least 32 characters")
		}
		c.PreviousSecrets = [][]byte{[]byte(s)}
	}
	return c, nil
}

// generatedSecret loads the secret kept in the data directory, creating it
// on first start, so a bare `go run ./server` needs no settings and keeps
// working across restarts.
func generatedSecret(dir string, warn func(string, ...any)) ([]byte, error) {
	path := filepath.Join(dir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	warn("DAKENH_SECRET is not set: generated one into the data directory; set it explicitly in production", "path", path)
	return []byte(secret), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// intEnv reads the integer variable name, def when unset, refusing one
// outside [lo, hi].
func intEnv(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func boolEnv(getenv func(string) string, name string, def bool) (bool, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", name, s)
	}
	return b, nil
}

// portOf is the ":port" of a listen address, "" when it has none.
func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i:]
	}
	return ""
}
