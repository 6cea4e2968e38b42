package zalo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestSendErrorClasses(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(fake *zalofake.Server, oa *zalofake.OA)
		timeout   time.Duration
		wantClass string
		wantErr   error // compared by value with the error errors.As finds
	}{
		{
			name:      "UserInactiveFor7DaysIsPermanent",
			setup:     failSend(zalofake.ErrorCode(-230)),
			wantClass: "permanent",
			wantErr:   &zalo.APIError{Code: zalo.CodeUserInactive, Message: "injected failure"},
		},
		{
			name:      "InvalidParametersIsPermanent",
			setup:     failSend(zalofake.ErrorCode(-201)),
			wantClass: "permanent",
			wantErr:   &zalo.APIError{Code: zalo.CodeInvalidParameter, Message: "injected failure"},
		},
		{
			name:      "NotFollowerIsPermanent",
			setup:     failSend(zalofake.ErrorCode(-213)),
			wantClass: "permanent",
			wantErr:   &zalo.APIError{Code: zalo.CodeUserNotFollower, Message: "injected failure"},
		},
		{
			name:      "RateLimitIsTransient",
			setup:     failSend(zalofake.ErrorCode(-32)),
			wantClass: "transient",
			wantErr:   &zalo.APIError{Code: zalo.CodeRateLimited, Message: "injected failure"},
		},
		{
			name:      "ExpiredTokenIsTokenInvalid",
			setup:     func(fake *zalofake.Server, oa *zalofake.OA) { fake.ExpireToken(oa.ID) },
			wantClass: "token invalid",
			wantErr:   &zalo.APIError{Code: zalo.CodeTokenInvalid, Message: "Access token is invalid"},
		},
		{
			name:      "UnknownTokenIsTokenInvalid",
			setup:     func(_ *zalofake.Server, oa *zalofake.OA) { oa.AccessToken = "forged-token" },
			wantClass: "token invalid",
			wantErr:   &zalo.APIError{Code: zalo.CodeTokenInvalid, Message: "Access token is invalid"},
		},
		{
			name:      "HTTP500WithTextBodyIsTransient",
			setup:     failSend(zalofake.Status(http.StatusInternalServerError)),
			wantClass: "transient",
			wantErr:   &zalo.HTTPError{StatusCode: http.StatusInternalServerError},
		},
		{
			name:      "HTTP502IsTransient",
			setup:     failSend(zalofake.Status(http.StatusBadGateway)),
			wantClass: "transient",
			wantErr:   &zalo.HTTPError{StatusCode: http.StatusBadGateway},
		},
		{
			name:      "HTTP429IsTransient",
			setup:     failSend(zalofake.Status(http.StatusTooManyRequests)),
			wantClass: "transient",
			wantErr:   &zalo.HTTPError{StatusCode: http.StatusTooManyRequests},
		},
		{
			name:      "HTTP404IsPermanent",
			setup:     failSend(zalofake.Status(http.StatusNotFound)),
			wantClass: "permanent",
			wantErr:   &zalo.HTTPError{StatusCode: http.StatusNotFound},
		},
		{
			name:      "MalformedJSONAt200IsPermanent",
			setup:     failSend(zalofake.Malformed()),
			wantClass: "permanent",
		},
		{
			name:      "ConnectionResetIsTransient",
			setup:     failSend(zalofake.ConnectionReset()),
			wantClass: "transient",
		},
		{
			name:      "TimeoutIsTransient",
			setup:     failSend(zalofake.Slow(10 * time.Second)),
			timeout:   100 * time.Millisecond,
			wantClass: "transient",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			tt.setup(fake, &oa)
			c := newClient(t, fake, func(cfg *zalo.Config) {
				if tt.timeout != 0 {
					cfg.Timeout = tt.timeout
				}
			})

			start := time.Now()
			id, err := c.SendText(t.Context(), oa.AccessToken, "u-1", "hi")

			if err == nil {
				t.Fatalf("SendText = %q, want an error", id)
			}
			if got := class(err); got != tt.wantClass {
				t.Errorf("class of %v = %s, want %s", err, got, tt.wantClass)
			}
			switch want := tt.wantErr.(type) {
			case *zalo.APIError:
				got, ok := errors.AsType[*zalo.APIError](err)
				if !ok || *got != *want {
					t.Errorf("err = %#v, want %#v", err, want)
				}
			case *zalo.HTTPError:
				got, ok := errors.AsType[*zalo.HTTPError](err)
				if !ok || *got != *want {
					t.Errorf("err = %#v, want %#v", err, want)
				}
			}
			if tt.timeout != 0 {
				if _, ok := errors.AsType[*zalo.TransportError](err); !ok || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want a TransportError wrapping context.DeadlineExceeded", err)
				}
				if elapsed := time.Since(start); elapsed > 2*time.Second {
					t.Errorf("SendText took %s, want about the %s timeout", elapsed, tt.timeout)
				}
			}
			if !strings.HasPrefix(err.Error(), "zalo: send text: ") {
				t.Errorf("err = %q, want it to name the operation", err)
			}
			assertNoSecret(t, err, oa.AccessToken, oa.RefreshToken)
			if sent := fake.Sent(); len(sent) != 0 {
				t.Errorf("fake recorded %+v, want nothing sent", sent)
			}
		})
	}
}

// failSend injects f into the next message send.
func failSend(f zalofake.Failure) func(*zalofake.Server, *zalofake.OA) {
	return func(fake *zalofake.Server, _ *zalofake.OA) { fake.FailNext(zalofake.SendMessage, 1, f) }
}

func TestMalformedAndResetErrorTypes(t *testing.T) {
	tests := []struct {
		name    string
		failure zalofake.Failure
		check   func(error) bool
	}{
		{"MalformedJSONIsMalformedResponseError", zalofake.Malformed(), func(err error) bool {
			_, ok := errors.AsType[*zalo.MalformedResponseError](err)
			return ok
		}},
		{"ConnectionResetIsTransportError", zalofake.ConnectionReset(), func(err error) bool {
			_, ok := errors.AsType[*zalo.TransportError](err)
			return ok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			fake.FailNext(zalofake.SendMessage, 1, tt.failure)
			c := newClient(t, fake)

			_, err := c.SendText(t.Context(), oa.AccessToken, "u-1", "hi")

			if !tt.check(err) {
				t.Errorf("err = %#v, wrong type", err)
			}
		})
	}
}

func TestFailuresAreConsumedThenCallsSucceed(t *testing.T) {
	fake, oa := newFake(t)
	fake.FailNext(zalofake.SendMessage, 2, zalofake.Status(http.StatusServiceUnavailable))
	c := newClient(t, fake)

	var classes []string
	for range 3 {
		_, err := c.SendText(t.Context(), oa.AccessToken, "u-1", "hi")
		if err == nil {
			classes = append(classes, "ok")
		} else {
			classes = append(classes, class(err))
		}
	}

	if want := []string{"transient", "transient", "ok"}; !reflect.DeepEqual(classes, want) {
		t.Errorf("outcomes = %v, want %v", classes, want)
	}
	if n := len(fake.Requests()); n != 3 {
		t.Errorf("fake received %d requests, want 3 (the client must not retry by itself)", n)
	}
}

func TestCallerCancellationIsTransient(t *testing.T) {
	fake, oa := newFake(t)
	fake.FailNext(zalofake.SendMessage, 1, zalofake.Slow(10*time.Second))
	c := newClient(t, fake)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)

	_, err := c.SendText(ctx, oa.AccessToken, "u-1", "hi")

	if !errors.Is(err, context.Canceled) || class(err) != "transient" {
		t.Errorf("err = %v (%s), want transient context.Canceled", err, class(err))
	}
}

func TestExpiredTokenRefreshThenRetrySucceeds(t *testing.T) {
	// The delivery worker's reaction to -216: refresh, then retry once.
	fake, oa := newFake(t)
	fake.ExpireToken(oa.ID)
	c := newClient(t, fake)

	_, err := c.SendText(t.Context(), oa.AccessToken, "u-1", "hi")
	if !zalo.IsTokenInvalid(err) {
		t.Fatalf("first send: err = %v, want token invalid", err)
	}
	tok, err := c.RefreshToken(t.Context(), fake.AppID(), fake.AppSecret(), oa.RefreshToken)
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	id, err := c.SendText(t.Context(), tok.AccessToken, "u-1", "hi")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}

	if sent := fake.Sent(); len(sent) != 1 || sent[0].MessageID != id {
		t.Errorf("sent = %+v, want one message %q", sent, id)
	}
}

func TestClassificationPartitionsErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "none"},
		{errors.New("something else"), "permanent"},
		{&zalo.APIError{Code: -230}, "permanent"},
		{&zalo.APIError{Code: -201}, "permanent"},
		{&zalo.APIError{Code: -213}, "permanent"},
		{&zalo.APIError{Code: -216}, "token invalid"},
		{&zalo.APIError{Code: -124}, "token invalid"},
		{&zalo.APIError{Code: -32}, "transient"},
		{&zalo.APIError{Code: -100}, "transient"},
		{&zalo.HTTPError{StatusCode: 500}, "transient"},
		{&zalo.HTTPError{StatusCode: 503}, "transient"},
		{&zalo.HTTPError{StatusCode: 408}, "transient"},
		{&zalo.HTTPError{StatusCode: 429}, "transient"},
		{&zalo.HTTPError{StatusCode: 302}, "permanent"},
		{&zalo.HTTPError{StatusCode: 400}, "permanent"},
		{&zalo.TransportError{Err: io.ErrUnexpectedEOF}, "transient"},
		{&zalo.MalformedResponseError{Err: io.ErrUnexpectedEOF}, "permanent"},
		{&zalo.OAuthError{Code: -14014}, "permanent"},
		{fmt.Errorf("worker: %w", fmt.Errorf("zalo: send text: %w", &zalo.APIError{Code: -216})), "token invalid"},
		{fmt.Errorf("worker: %w", &zalo.TransportError{Err: context.DeadlineExceeded}), "transient"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v", tt.err), func(t *testing.T) {
			if got := class(tt.err); got != tt.want {
				t.Errorf("class = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIsRefreshRejected(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&zalo.OAuthError{Code: zalo.CodeRefreshTokenInvalid}, true},
		{fmt.Errorf("refresh: %w", &zalo.OAuthError{Code: zalo.CodeRefreshTokenExpired}), true},
		{&zalo.HTTPError{StatusCode: 502}, false},
		{&zalo.TransportError{Err: context.DeadlineExceeded}, false},
		{&zalo.APIError{Code: -216}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := zalo.IsRefreshRejected(tt.err); got != tt.want {
			t.Errorf("IsRefreshRejected(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	// Go would forward the access_token header to the redirect target.
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		reached.Add(1)
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/v3.0/oa/message/cs", http.StatusFound))
	defer redirector.Close()
	c := zalo.New(zalo.Config{OpenAPIURL: redirector.URL, HTTPClient: &http.Client{}})

	_, err := c.SendText(t.Context(), "secret-token", "u-1", "hi")

	got, ok := errors.AsType[*zalo.HTTPError](err)
	if !ok || got.StatusCode != http.StatusFound || class(err) != "permanent" {
		t.Errorf("err = %v (%s), want permanent HTTPError 302", err, class(err))
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("redirect target received %d requests, want none", n)
	}
}

func TestInvalidBaseURLIsPermanent(t *testing.T) {
	c := zalo.New(zalo.Config{OpenAPIURL: "openapi.zalo.me"})

	_, err := c.SendText(t.Context(), "token", "u-1", "hi")

	if err == nil || class(err) != "permanent" || !strings.Contains(err.Error(), "OpenAPIURL") {
		t.Errorf("err = %v (%s), want a permanent error naming OpenAPIURL", err, class(err))
	}
}

func TestBaseURLTrailingSlashIsIgnored(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake, func(cfg *zalo.Config) { cfg.OpenAPIURL += "/" })

	if _, err := c.SendText(t.Context(), oa.AccessToken, "u-1", "hi"); err != nil {
		t.Fatalf("SendText: %v", err)
	}
	if req := lastRequest(t, fake); req.Path != "/v3.0/oa/message/cs" {
		t.Errorf("path = %q, want /v3.0/oa/message/cs", req.Path)
	}
}

func TestZeroConfigUsesProductionURLs(t *testing.T) {
	rt := &recordingTransport{}
	c := zalo.New(zalo.Config{HTTPClient: &http.Client{Transport: rt}})

	_, _ = c.SendText(t.Context(), "token", "u-1", "hi")
	_, _ = c.RefreshToken(t.Context(), "app", "secret", "rt")

	want := []string{"https://openapi.zalo.me/v3.0/oa/message/cs", "https://oauth.zaloapp.com/v4/oa/access_token"}
	if !reflect.DeepEqual(rt.urls, want) {
		t.Errorf("requested %v, want %v", rt.urls, want)
	}
}

// recordingTransport records request URLs and answers a Zalo error, so that
// defaults can be checked without reaching Zalo.
type recordingTransport struct{ urls []string }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.urls = append(rt.urls, r.URL.String())
	return &http.Response{
		StatusCode: http.StatusOK,
		Body:       io.NopCloser(strings.NewReader(`{"error":-216,"message":"x"}`)),
		Header:     http.Header{},
		Request:    r,
	}, nil
}
