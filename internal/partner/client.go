package partner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/dakenh/dakenh/internal/delivery"
)

// The bounds of one delivery attempt.
const (
	// AttemptTimeout is how long a partner has to answer, body included;
	// a 2xx within it is success.
	AttemptTimeout = 10 * time.Second
	// MaxResponseBytes is how much of an answer is read; the rest is
	// dropped unread.
	MaxResponseBytes = 64 << 10
)

// ErrRefusedAddress is wrapped by the error of an attempt that did not
// connect because the URL's host resolved to an address deliveries may
// not reach.
var ErrRefusedAddress = errors.New("refused address")

// Response is what came of one POST.
type Response struct {
	// StatusCode is the partner's HTTP status; 0 when none arrived.
	StatusCode int
	// Body is the start of the answer, at most MaxResponseBytes.
	Body []byte
	// Duration is how long the attempt took.
	Duration time.Duration
	// Err says why no answer, or no whole answer, arrived.
	Err error
}

// OK reports whether the partner accepted the delivery: a 2xx, read in
// time.
func (r Response) OK() bool { return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300 }

// Client posts deliveries to partners without letting a URL reach into
// the server's own network: the host is resolved when each connection is
// made and the address actually dialled is checked (so a name that
// resolves to a public address when the endpoint is saved and to
// 127.0.0.1 later is refused), redirects are not followed, proxies from
// the environment are not used, and answers are read up to
// MaxResponseBytes within AttemptTimeout.
type Client struct {
	http *http.Client
}

// NewClient returns a client refusing loopback, private, link-local and
// other reserved addresses; allowLoopback admits loopback, for development
// (DAKENH_ALLOW_INSECURE_WEBHOOKS).
func NewClient(allowLoopback bool) *Client {
	dialer := &net.Dialer{
		Timeout: AttemptTimeout,
		// Control runs after resolution, before the connection, for every
		// address tried.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
			}
			if err := checkAddress(ap.Addr(), allowLoopback); err != nil {
				return fmt.Errorf("%w: %v", ErrRefusedAddress, err)
			}
			return nil
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   AttemptTimeout,
		ResponseHeaderTimeout: AttemptTimeout,
		// One connection per delivery slot, so that a host receiving
		// several endpoints' deliveries at once reuses its connections
		// rather than opening one per POST.
		MaxIdleConnsPerHost: delivery.Slots,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{http: &http.Client{
		Transport: transport,
		Timeout:   AttemptTimeout,
		// A redirect could lead anywhere; the 3xx is the answer, and not
		// a success.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post sends body to url with header and returns what came of it; why it
// failed, if it did, is in Err.
func (c *Client) Post(ctx context.Context, url string, header http.Header, body []byte) Response {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Response{Err: err, Duration: time.Since(start)}
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dakenh-webhooks/1")
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{Err: err, Duration: time.Since(start)}
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	return Response{StatusCode: resp.StatusCode, Body: got, Err: err, Duration: time.Since(start)}
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }
