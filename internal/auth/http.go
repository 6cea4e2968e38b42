package auth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/felixge/httpsnoop"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Bearer challenges (RFC 6750) sent in WWW-Authenticate with every 401: a
// request that carried no token gets BearerChallenge, one whose token was
// refused names the error too, so a client can tell "log in" from "your
// session ended".
const (
	BearerChallenge  = `Bearer realm="dakenh"`
	challengeInvalid = `Bearer realm="dakenh", error="invalid_token"`
)

// unavailableMessage is what a caller hears when the server cannot check a
// credential because of its own failure (say, the database is down).
const unavailableMessage = "the service is temporarily unavailable; try again shortly"

// Middleware authenticates the Authorization header of HTTP requests and
// records the client address.
//
// A request without the header goes on as anonymous (sign-up, login, the
// playground); if it then asks for something that needs a token, the
// Challenge extension turns the response into a 401. One with a token that
// is refused is answered 401 at once. Both 401s carry a GraphQL-shaped
// UNAUTHENTICATED error and a WWW-Authenticate: Bearer challenge, so a
// client handles them alike. A token that cannot be checked because the
// server failed (its database is down) is not a bad token: it is answered
// 503 with an INTERNAL error, so clients keep their sessions and retry.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithAddress(r.Context(), clientAddress(r))
		if h := r.Header.Get("Authorization"); h != "" {
			v, err := s.Authenticate(ctx, BearerToken(h))
			if err != nil {
				WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(viewer.NewContext(ctx, v)))
			return
		}
		if r.Header.Get("Upgrade") != "" {
			// WebSockets authenticate in connection_init and answer with
			// close codes, not statuses.
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		c := new(challenge)
		ctx = context.WithValue(ctx, challengeKey{}, c)
		next.ServeHTTP(c.wrap(w), r.WithContext(ctx))
	})
}

// WriteError answers a plain HTTP request that failed to authenticate:
// 401 with a Bearer challenge for a refused credential, 503 for a failure
// of the server's own, which it logs (the caller sees no detail).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, status := apierr.Internal, unavailableMessage, http.StatusServiceUnavailable
	if e, ok := apierr.As(err); ok && e.Code == apierr.Unauthenticated {
		code, msg, status = apierr.Unauthenticated, e.Message, http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", challengeInvalid)
	} else {
		requestlog.FromContext(r.Context()).ErrorContext(r.Context(), "authenticating a request failed", "err", err)
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    msg,
			"extensions": map[string]any{"code": code},
		}},
	})
}

// Challenge is a gqlgen extension that marks an anonymous request's
// response as a 401 with a Bearer challenge when it failed for want of
// credentials, so a missing token answers like a refused one.
type Challenge struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = Challenge{}

// ExtensionName implements graphql.HandlerExtension.
func (Challenge) ExtensionName() string { return "AuthChallenge" }

// Validate implements graphql.HandlerExtension.
func (Challenge) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (Challenge) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	c, ok := ctx.Value(challengeKey{}).(*challenge)
	if !ok || resp == nil {
		return resp
	}
	for _, e := range resp.Errors {
		if apierr.NeedsCredentials(e) {
			c.needed.Store(true)
			break
		}
	}
	return resp
}

type challengeKey struct{}

// challenge is an anonymous request's note that its response needs a 401.
// The extension sets it before the transport writes the response.
type challenge struct{ needed atomic.Bool }

// wrap returns w with its first status turned into a 401 with the
// challenge when the note is set; it keeps w's optional interfaces.
func (c *challenge) wrap(w http.ResponseWriter) http.ResponseWriter {
	wrote := false
	header := func(code int) int {
		if !wrote {
			wrote = true
			if c.needed.Load() && code == http.StatusOK {
				w.Header().Set("WWW-Authenticate", BearerChallenge)
				return http.StatusUnauthorized
			}
		}
		return code
	}
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) { next(header(code)) }
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				if !wrote {
					w.WriteHeader(header(http.StatusOK))
				}
				return next(b)
			}
		},
	})
}

// clientAddress is the peer's IP. Forwarded headers are ignored: trusting
// them would let anyone dodge the login limits.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// WebsocketInit authenticates a WebSocket's connection_init payload, which
// carries the same value as the Authorization header.
func (s *Service) WebsocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	token := p.Authorization()
	if token == "" {
		if v := viewer.FromContext(ctx); v != nil {
			return ctx, nil, nil // authenticated by the upgrade request's header
		}
		return ctx, nil, apierr.NeedCredentials("connection_init needs an Authorization value")
	}
	v, err := s.Authenticate(ctx, BearerToken(token))
	if err != nil {
		return ctx, nil, err
	}
	return viewer.NewContext(ctx, v), nil, nil
}
