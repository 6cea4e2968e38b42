package connect

import (
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/zalo"
)

// StateTTL is how long an attempt may take from start to callback.
const StateTTL = 10 * time.Minute

// NotConfigured is the FAILED_PRECONDITION reason of an OAuth operation on
// a server without the provider's app or the frontend's URL.
const NotConfigured = "NOT_CONFIGURED"

// ZaloApp is the server's Zalo app (ZALO_APP_ID, ZALO_APP_SECRET) and the
// OA Secret Key of its webhook settings (ZALO_WEBHOOK_SECRET), which signs
// the webhooks of every OA connected through it.
type ZaloApp struct {
	AppID, AppSecret, WebhookSecret string
}

// configured reports whether the app can run the flow.
func (a ZaloApp) configured() bool {
	return a.AppID != "" && a.AppSecret != "" && a.WebhookSecret != ""
}

// Config is what a Service needs.
type Config struct {
	Client *ent.Client
	// Box seals the code verifiers, as it seals channel credentials.
	Box   *secret.Box
	Inbox *inbox.Service
	Zalo  *zalo.Client
	App   ZaloApp
	// Facebook and FacebookApp connect pages by Facebook Login.
	Facebook    *facebook.Client
	FacebookApp FacebookApp
	// AppURL is the frontend (DAKENH_APP_URL), the only place the callback
	// redirects to.
	AppURL string
	// Now is the clock of the attempts' expiry. Nil means time.Now.
	Now func() time.Time
	// Logger receives the callbacks' outcomes (ids and error codes, never
	// codes, states or tokens). Nil discards them.
	Logger *slog.Logger
}

// Service runs the consent flows.
type Service struct {
	cfg    Config
	appURL *url.URL
}

// New returns a Service for cfg. A malformed AppURL is an error; an empty
// one leaves the flows NOT_CONFIGURED.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Facebook == nil {
		cfg.Facebook = facebook.New(facebook.Config{})
	}
	s := &Service{cfg: cfg}
	if cfg.AppURL != "" {
		u, err := url.Parse(cfg.AppURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("connect: DAKENH_APP_URL is not an http(s) URL with a host")
		}
		s.appURL = u
	}
	return s, nil
}

// ZaloConfigured reports whether the Zalo flow can run.
func (s *Service) ZaloConfigured() bool { return s.cfg.App.configured() && s.appURL != nil }

// notConfigured is the error of an OAuth operation the server cannot run.
func notConfigured(provider string) error {
	return apierr.Precondition(NotConfigured, "connecting %s channels by OAuth is not configured on this server", provider)
}
