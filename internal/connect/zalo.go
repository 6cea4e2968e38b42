package connect

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// ZaloStart is a started attempt: the consent page to send the admin to.
type ZaloStart struct {
	URL, State string
	ExpiresAt  time.Time
}

// The error codes the callback sends the frontend in ?error=.
const (
	// ErrAccessDenied: the admin refused consent on Zalo's page.
	ErrAccessDenied = "access_denied"
	// ErrInvalidState: no such attempt, or it was used already.
	ErrInvalidState = "invalid_state"
	// ErrExpiredState: the attempt is older than StateTTL.
	ErrExpiredState = "expired_state"
	// ErrTokenExchange: Zalo refused the code or its verifier.
	ErrTokenExchange = "token_exchange_refused"
	// ErrProvider: Zalo could not be reached or answered an error.
	ErrProvider = "provider_unavailable"
	// ErrConflict: another organization has connected this OA.
	ErrConflict = "conflict"
	// ErrForbidden: the admin who started the attempt no longer may
	// connect channels.
	ErrForbidden = "forbidden"
	// ErrInternal: anything else; the server logged it.
	ErrInternal = "internal"
)

// StartZalo starts connecting an OA for the viewer, an admin. redirectURI
// is this server's callback as registered in the Zalo app.
func (s *Service) StartZalo(ctx context.Context, redirectURI string) (*ZaloStart, error) {
	if !s.ZaloConfigured() {
		return nil, notConfigured("Zalo")
	}
	if v := viewer.FromContext(ctx); !v.IsAdmin() {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can connect channels")
	}
	redirectURI = strings.TrimSpace(redirectURI)
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || len(redirectURI) > 2000 {
		return nil, apierr.BadInput("redirectUri", "redirectUri must be an absolute http(s) URL without a fragment")
	}
	state, verifier, expiresAt, err := s.begin(ctx, redirectURI)
	if err != nil {
		return nil, err
	}
	return &ZaloStart{
		URL:       s.cfg.Zalo.PermissionURL(s.cfg.App.AppID, redirectURI, challenge(verifier), state),
		State:     state,
		ExpiresAt: expiresAt,
	}, nil
}

// ZaloCallback serves GET /oauth/zalo/callback?code=&oa_id=&state=, where
// Zalo sends the admin's browser after the consent page.
func (s *Service) ZaloCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !s.ZaloConfigured() {
			// Without the frontend's URL there is nowhere safe to go.
			http.Error(w, NotConfigured, http.StatusServiceUnavailable)
			return
		}
		channelID, code := s.finishZalo(r.Context(), r.URL.Query())
		q := url.Values{}
		if code != "" {
			q.Set("error", code)
		} else {
			q.Set("channel", channelID)
		}
		target := *s.appURL
		back := target.Query()
		for k, v := range q {
			back[k] = v
		}
		target.RawQuery = back.Encode()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, target.String(), http.StatusSeeOther)
	})
}

// finishZalo runs a callback: the channel's id, or the error code for the
// frontend. Nothing changes unless it returns a channel.
func (s *Service) finishZalo(ctx context.Context, q url.Values) (channelID, errCode string) {
	log := s.cfg.Logger.With("provider", "zalo")
	at, err := s.spend(ctx, q.Get("state"))
	switch {
	case errors.Is(err, errUnknownState):
		log.Info("oauth callback refused", "error", ErrInvalidState)
		return "", ErrInvalidState
	case errors.Is(err, errExpiredState):
		log.Info("oauth callback refused", "error", ErrExpiredState)
		return "", ErrExpiredState
	case err != nil:
		log.Error("oauth callback failed", "error", err)
		return "", ErrInternal
	}
	log = log.With("organization", at.orgID, "user", at.userID)
	if q.Get("code") == "" {
		log.Info("oauth consent denied")
		return "", ErrAccessDenied
	}

	sys := viewer.SystemContext(ctx, at.orgID)
	u, err := s.cfg.Client.User.Get(sys, at.userID)
	if err != nil || !u.Active || u.OrganizationID != at.orgID || !u.Role.IsAdmin() {
		log.Info("oauth callback refused", "error", ErrForbidden)
		return "", ErrForbidden
	}
	admin := viewer.NewContext(ctx, &viewer.Viewer{OrgID: at.orgID, UserID: at.userID, Role: u.Role})

	app := s.cfg.App
	tok, err := s.cfg.Zalo.ExchangeCode(ctx, app.AppID, app.AppSecret, q.Get("code"), at.codeVerifier)
	if err != nil {
		if _, refused := errors.AsType[*zalo.OAuthError](err); refused {
			log.Info("oauth code exchange refused", "error", err)
			return "", ErrTokenExchange
		}
		log.Warn("oauth code exchange failed", "error", err)
		return "", ErrProvider
	}
	oa, err := s.cfg.Zalo.OAProfile(ctx, tok.AccessToken)
	if err != nil {
		log.Warn("oauth OA profile failed", "error", err)
		return "", ErrProvider
	}
	if id := q.Get("oa_id"); id != "" && id != oa.ID {
		log.Warn("oauth callback's oa_id is not the token's OA", "oa", oa.ID)
		return "", ErrProvider
	}
	name := oa.Name
	if strings.TrimSpace(name) == "" {
		name = "Zalo OA " + oa.ID
	}
	ch, err := s.cfg.Inbox.ConnectZaloOA(admin, inbox.ConnectZaloOA{
		OAID: oa.ID, Name: name, AppID: app.AppID, AppSecret: app.AppSecret,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, AccessTokenExpiresAt: tok.ExpiresAt,
		WebhookSecret: app.WebhookSecret, Description: oa.Description,
		KeepSettings: true, Via: "oauth",
	})
	if err != nil {
		var ae *apierr.Error
		switch {
		case errors.As(err, &ae) && ae.Code == apierr.Conflict:
			log.Info("oauth callback refused", "error", ErrConflict, "oa", oa.ID)
			return "", ErrConflict
		case errors.As(err, &ae) && ae.Code == apierr.Forbidden:
			log.Info("oauth callback refused", "error", ErrForbidden)
			return "", ErrForbidden
		}
		log.Error("oauth connect failed", "error", err, "oa", oa.ID)
		return "", ErrInternal
	}
	log.Info("oauth channel connected", "channel", ch.ID, "oa", oa.ID)
	return string(ch.ID), ""
}
