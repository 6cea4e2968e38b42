package zalo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// OAuth v4 paths.
const (
	permissionPath  = "/v4/oa/permission"
	accessTokenPath = "/v4/oa/access_token"
)

// Token is an OA's access token and the refresh token that replaces it.
// Its String, GoString and LogValue methods leave the tokens out, so that
// printing or logging a Token cannot leak them.
type Token struct {
	// AccessToken authorizes Open API calls for the OA (about 25 hours).
	AccessToken string
	// RefreshToken obtains the next Token, once only (about 3 months).
	RefreshToken string
	// ExpiresAt is when AccessToken stops working.
	ExpiresAt time.Time
}

// String describes t without its secrets.
func (t Token) String() string {
	return fmt.Sprintf("zalo.Token{expires %s}", t.ExpiresAt.Format(time.RFC3339))
}

// GoString describes t without its secrets, for %#v.
func (t Token) GoString() string { return t.String() }

// LogValue logs t without its secrets.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expires_at", t.ExpiresAt))
}

// PermissionURL returns the consent page to which the OA admin is sent to
// connect an OA: after consent, Zalo redirects to redirectURI with a code
// for ExchangeCode and the given state. codeChallenge is the PKCE
// challenge derived from the code verifier.
func (c *Client) PermissionURL(appID, redirectURI, codeChallenge, state string) string {
	q := url.Values{
		"app_id":         {appID},
		"redirect_uri":   {redirectURI},
		"code_challenge": {codeChallenge},
		"state":          {state},
	}
	return c.oauthURL + permissionPath + "?" + q.Encode()
}

// ExchangeCode trades the authorization code of a consent for the OA's
// first Token. codeVerifier is the PKCE verifier whose challenge went to
// PermissionURL.
func (c *Client) ExchangeCode(ctx context.Context, appID, appSecret, code, codeVerifier string) (*Token, error) {
	const op = "exchange code"
	switch {
	case appID == "" || appSecret == "":
		return nil, invalidArgument(op, "empty app ID or secret")
	case code == "" || codeVerifier == "":
		return nil, invalidArgument(op, "empty code or code verifier")
	}
	return c.requestToken(ctx, op, appSecret, url.Values{
		"code":          {code},
		"app_id":        {appID},
		"grant_type":    {"authorization_code"},
		"code_verifier": {codeVerifier},
	})
}

// RefreshToken trades refreshToken for a new Token. Refresh tokens are
// single-use, so the caller must store the new Token before anything else
// and must never refresh one OA concurrently (across replicas too). A
// refresh that timed out may still have spent the old refresh token.
// IsRefreshRejected reports a refusal.
func (c *Client) RefreshToken(ctx context.Context, appID, appSecret, refreshToken string) (*Token, error) {
	const op = "refresh token"
	switch {
	case appID == "" || appSecret == "":
		return nil, invalidArgument(op, "empty app ID or secret")
	case refreshToken == "":
		return nil, invalidArgument(op, "empty refresh token")
	}
	return c.requestToken(ctx, op, appSecret, url.Values{
		"refresh_token": {refreshToken},
		"app_id":        {appID},
		"grant_type":    {"refresh_token"},
	})
}

// requestToken posts a form to the token endpoint, authenticated by the app
// secret in the secret_key header.
func (c *Client) requestToken(ctx context.Context, op, appSecret string, form url.Values) (*Token, error) {
	status, body, err := c.do(ctx, call{
		method:      http.MethodPost,
		url:         c.oauthURL + accessTokenPath,
		header:      http.Header{"secret_key": {appSecret}},
		contentType: "application/x-www-form-urlencoded",
		body:        []byte(form.Encode()),
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	tok, err := decodeToken(status, body, c.now())
	if err != nil {
		return nil, wrap(op, err)
	}
	return tok, nil
}

// maxExpiresIn bounds expires_in (seconds) to a sane lifetime; it also keeps
// the conversion to time.Duration from overflowing.
const maxExpiresIn = 366 * 24 * 60 * 60

// tokenAnswer is the answer of the token endpoint: either the tokens or an
// OAuth error.
type tokenAnswer struct {
	AccessToken      string     `json:"access_token"`
	RefreshToken     string     `json:"refresh_token"`
	ExpiresIn        flexString `json:"expires_in"`
	Error            int        `json:"error"`
	ErrorName        string     `json:"error_name"`
	ErrorReason      string     `json:"error_reason"`
	ErrorDescription string     `json:"error_description"`
	// Message is read in case the endpoint answers with the Open API
	// envelope instead of its own error fields.
	Message string `json:"message"`
}

// decodeToken interprets an answer of the token endpoint received at now.
func decodeToken(status int, body []byte, now time.Time) (*Token, error) {
	if status >= 500 {
		return nil, &HTTPError{StatusCode: status}
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		if status != http.StatusOK {
			return nil, &HTTPError{StatusCode: status}
		}
		return nil, &MalformedResponseError{Err: err}
	}
	if a.Error != 0 {
		e := &OAuthError{Code: a.Error, Name: a.ErrorName, Reason: a.ErrorReason, Description: a.ErrorDescription}
		if e.Name == "" && e.Reason == "" && e.Description == "" {
			e.Description = a.Message
		}
		return nil, e
	}
	if status != http.StatusOK {
		return nil, &HTTPError{StatusCode: status}
	}
	if a.AccessToken == "" || a.RefreshToken == "" {
		return nil, &MalformedResponseError{Err: errors.New("no access_token or refresh_token")}
	}
	secs, err := a.ExpiresIn.int64()
	if err == nil && (secs <= 0 || secs > maxExpiresIn) {
		err = fmt.Errorf("%d is out of range", secs)
	}
	if err != nil {
		return nil, &MalformedResponseError{Err: fmt.Errorf("expires_in: %w", err)}
	}
	return &Token{
		AccessToken:  a.AccessToken,
		RefreshToken: a.RefreshToken,
		ExpiresAt:    now.Add(time.Duration(secs) * time.Second),
	}, nil
}
