// Package facebook is the Facebook Messenger adapter: it sends messages to
// customers through the Graph API Send API, classifies the Graph API's errors
// so the outbox knows whether to retry, mark a message failed or disconnect a
// channel, and verifies and parses the webhooks Facebook posts for pages.
//
// It speaks the contract of docs/providers.md ("Facebook Messenger"); the
// fbfake subpackage is a local server speaking the same contract for tests.
//
// A Client holds configuration only. Page tokens and app secrets are passed on
// every call because they belong to channels, which are stored encrypted
// elsewhere, so one Client serves every page of every organization.
//
// Nothing in this package logs, and no error it returns contains a page
// token: the Graph API takes the token in the query string, so every error
// that would quote the request URL is unwrapped first, and Graph API messages
// that echo a token are redacted.
//
// # Error classification
//
// Every error a send returns falls in exactly one row; for Graph API errors
// the first matching row wins, so a 500 answer with code 190 is an invalid
// token. IsPermanent is true for every non-nil error that is not transient,
// including errors this package did not produce.
//
//	condition                                   class      predicate          Reason
//	Graph code 190 (any subcode, any status)    permanent  IsTokenInvalid     token no longer valid: reconnect the page
//	code 10 with subcode 2018278                permanent  IsOutsideWindow    outside the 24 h / 7 day window
//	code 551, or subcode 2018108                permanent  IsOutsideWindow    person not available right now
//	code 4, 17, 32, 613, or HTTP 429            transient  IsTransient        rate limited
//	code 1 or 2, or HTTP 5xx                    transient  IsTransient        Facebook temporarily unavailable
//	timeout (Config.Timeout or caller deadline) transient  IsTransient        no answer in time
//	connection refused / reset / other I/O      transient  IsTransient        could not reach Facebook
//	caller's context cancelled                  transient  IsTransient        send cancelled
//	refused before sending (ErrInvalidRequest)  permanent  IsPermanent        what was wrong with the request
//	2xx answer not as the contract says         permanent  IsPermanent        unexpected answer (may have been sent)
//	any other Graph error or HTTP status        permanent  IsPermanent        Facebook's message and code
//
// A channel whose send fails with IsTokenInvalid loses its connection
// (CONNECTION_LOST) until an admin reconnects it. A
// send failing with IsOutsideWindow (code 10/2018278) may be retried once
// with SendOptions.HumanAgent when an agent wrote it.
package facebook

import (
	"net/http"
	"strings"
	"time"
)

const (
	// DefaultGraphURL is the Graph API base URL used when Config.GraphURL is
	// empty.
	DefaultGraphURL = "https://graph.facebook.com"
	// DefaultAPIVersion is the Graph API version the contract is written
	// against.
	DefaultAPIVersion = "v25.0"
	// DefaultTimeout bounds one Graph API request when Config.Timeout is not
	// set. The Send API answers in well under a second; waiting longer only
	// holds up an outbox worker.
	DefaultTimeout = 10 * time.Second
)

// Config configures a Client. The zero value talks to the real Graph API.
type Config struct {
	// GraphURL is the Graph API base URL, scheme and host only
	// (FACEBOOK_GRAPH_URL); "/{APIVersion}/…" paths are appended to it.
	// Empty means DefaultGraphURL.
	GraphURL string
	// APIVersion is the Graph API version path segment, e.g. "v25.0".
	// Empty means DefaultAPIVersion.
	APIVersion string
	// HTTPClient sends the requests. Nil means a client of this package's
	// own that refuses redirects.
	HTTPClient *http.Client
	// Timeout bounds each request, on top of any deadline of the caller's
	// context. Zero or negative means DefaultTimeout.
	Timeout time.Duration
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	baseURL string
	version string
	http    *http.Client
	timeout time.Duration
}

// New returns a Client for cfg, filling unset fields with their defaults.
func New(cfg Config) *Client {
	c := &Client{
		baseURL: strings.TrimRight(cfg.GraphURL, "/"),
		version: strings.Trim(cfg.APIVersion, "/"),
		http:    cfg.HTTPClient,
		timeout: cfg.Timeout,
	}
	if c.baseURL == "" {
		c.baseURL = DefaultGraphURL
	}
	if c.version == "" {
		c.version = DefaultAPIVersion
	}
	if c.http == nil {
		c.http = &http.Client{
			// The Send API never redirects. Following one would turn the
			// POST into a GET somewhere else, so the 3xx is reported as an
			// error instead.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}
