package zalo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for Config, from docs/providers.md.
const (
	// DefaultOpenAPIURL is the base URL of the OA Open API.
	DefaultOpenAPIURL = "https://openapi.zalo.me"
	// DefaultOAuthURL is the base URL of the OAuth v4 endpoints.
	DefaultOAuthURL = "https://oauth.zaloapp.com"
	// DefaultTimeout bounds one call when Config.Timeout is zero. The
	// delivery worker retries, so a short bound keeps one hung connection
	// from holding up a whole queue.
	DefaultTimeout = 10 * time.Second
)

// maxResponseBytes bounds how much of an answer is read. Zalo's answers are
// a few kilobytes; the bound keeps a misbehaving proxy from exhausting
// memory.
const maxResponseBytes = 1 << 20

// Config configures a Client. The zero value talks to Zalo's production
// servers.
type Config struct {
	// OpenAPIURL is the Open API base URL, scheme and host only
	// (ZALO_OPENAPI_URL). Default DefaultOpenAPIURL.
	OpenAPIURL string
	// OAuthURL is the OAuth base URL, scheme and host only
	// (ZALO_OAUTH_URL). Default DefaultOAuthURL.
	OAuthURL string
	// ZNSURL is the ZNS base URL, scheme and host only (ZNS_API_URL).
	// Default DefaultZNSURL.
	ZNSURL string
	// TemplateMessagePath is the Open API path of template messages by
	// user ID (ZALO_TEMPLATE_MESSAGE_PATH), which replaced the transaction
	// and promotion endpoints on 2026-03-01. Default
	// DefaultTemplateMessagePath.
	TemplateMessagePath string
	// HTTPClient sends the requests. Default: a client with
	// http.DefaultTransport. Its CheckRedirect is replaced, see New.
	HTTPClient *http.Client
	// Timeout bounds each call, answer included, on top of the caller's
	// context. Zero means DefaultTimeout; negative means no bound other
	// than the context.
	Timeout time.Duration
	// Now is the clock that turns expires_in into Token.ExpiresAt.
	// Default time.Now.
	Now func() time.Time
}

// Client calls the Zalo OA Open API and OAuth endpoints. It is safe for
// concurrent use.
type Client struct {
	openAPIURL string
	oauthURL   string
	znsURL     string
	// templatePath is Config.TemplateMessagePath.
	templatePath string
	hc           *http.Client
	timeout      time.Duration
	now          func() time.Time
	// configErr is returned by every call when Config is unusable, so that
	// New stays infallible and a bad setting surfaces as a permanent error
	// instead of a connection error retried forever.
	configErr error
}

// New returns a Client for cfg.
//
// The client never follows redirects: Go would forward the access_token and
// secret_key headers to the new location, and Zalo does not redirect API
// calls. A redirect answer is returned as a permanent *HTTPError.
func New(cfg Config) *Client {
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c := &Client{hc: hc, timeout: cfg.Timeout, now: cfg.Now}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	var errOpen, errOAuth, errZNS error
	c.openAPIURL, errOpen = baseURL("OpenAPIURL", cfg.OpenAPIURL, DefaultOpenAPIURL)
	c.oauthURL, errOAuth = baseURL("OAuthURL", cfg.OAuthURL, DefaultOAuthURL)
	c.znsURL, errZNS = baseURL("ZNSURL", cfg.ZNSURL, DefaultZNSURL)
	c.templatePath = DefaultTemplateMessagePath
	if p := strings.TrimSpace(cfg.TemplateMessagePath); p != "" {
		c.templatePath = "/" + strings.TrimLeft(p, "/")
	}
	c.configErr = errors.Join(errOpen, errOAuth, errZNS)
	return c
}

// baseURL checks a configured base URL and strips its trailing slash, so
// that the paths of docs/providers.md can be appended.
func baseURL(name, raw, def string) (string, error) {
	s := strings.TrimRight(strings.TrimSpace(raw), "/")
	if s == "" {
		return def, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The value is left out of the message: a URL may carry credentials.
		return "", fmt.Errorf("zalo: Config.%s is not an http(s) URL with a host", name)
	}
	return s, nil
}

// call describes one HTTP request to Zalo.
type call struct {
	method      string
	url         string
	header      http.Header
	contentType string
	body        []byte
}

// do sends r within the client's timeout and returns the answer's status
// and body. Only errors without an answer are returned; interpreting the
// answer is left to the endpoint's decoder.
func (c *Client) do(ctx context.Context, r call) (int, []byte, error) {
	if c.configErr != nil {
		return 0, nil, c.configErr
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range r.header {
		// Assigned directly rather than with Set, so that access_token and
		// secret_key keep the exact lower-case spelling of Zalo's
		// documentation instead of Go's canonical "Access_token".
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, &TransportError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, nil, &TransportError{Err: err}
	}
	if len(data) > maxResponseBytes {
		if resp.StatusCode >= 500 {
			return resp.StatusCode, nil, &HTTPError{StatusCode: resp.StatusCode}
		}
		return resp.StatusCode, nil, &MalformedResponseError{Err: fmt.Errorf("body exceeds %d bytes", maxResponseBytes)}
	}
	return resp.StatusCode, data, nil
}

// envelope wraps every Open API answer.
type envelope struct {
	Error   *int            `json:"error"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// openAPI calls the Open API endpoint at path (r.url is ignored) with an OA
// access token and decodes the answer's data into out (unless out is nil).
func (c *Client) openAPI(ctx context.Context, path string, r call, token string, out any) error {
	r.url = c.openAPIURL + path
	r.header = http.Header{"access_token": {token}}
	status, body, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decodeEnvelope(status, body, out)
}

// decodeEnvelope interprets an Open API answer. A 5xx status wins over the
// body, which is usually a gateway's page; otherwise a Zalo error in the
// body wins over the status.
func decodeEnvelope(status int, body []byte, out any) error {
	if status >= 500 {
		return &HTTPError{StatusCode: status}
	}
	var env envelope
	err := json.Unmarshal(body, &env)
	if err == nil && env.Error == nil {
		err = errors.New(`no "error" field`)
	}
	if err != nil {
		if status != http.StatusOK {
			return &HTTPError{StatusCode: status}
		}
		return &MalformedResponseError{Err: err}
	}
	if *env.Error != 0 {
		return &APIError{Code: *env.Error, Message: env.Message}
	}
	if status != http.StatusOK {
		return &HTTPError{StatusCode: status}
	}
	if out == nil {
		return nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return &MalformedResponseError{Err: errors.New(`no "data" field`)}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &MalformedResponseError{Err: err}
	}
	return nil
}

// marshalJSON encodes v without escaping <, > and &, so that message text
// reaches Zalo exactly as the agent typed it.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// invalidArgument returns an ErrInvalidArgument error for op.
func invalidArgument(op, what string) error {
	return fmt.Errorf("zalo: %s: %w: %s", op, ErrInvalidArgument, what)
}

// wrap prefixes err with the operation, keeping it for errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("zalo: %s: %w", op, err)
}
