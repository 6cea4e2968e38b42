package auth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Middleware authenticates the Authorization header of HTTP requests and
// records the client address. A request without the header goes on as
// anonymous (sign-up, login, the playground); one with a bad token is
// answered 401 with a GraphQL-shaped UNAUTHENTICATED error, so clients see
// the same code everywhere.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithAddress(r.Context(), clientAddress(r))
		if h := r.Header.Get("Authorization"); h != "" {
			v, err := s.Authenticate(ctx, BearerToken(h))
			if err != nil {
				writeUnauthenticated(w, err)
				return
			}
			ctx = viewer.NewContext(ctx, v)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
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

func writeUnauthenticated(w http.ResponseWriter, err error) {
	msg := "invalid or expired token"
	if e, ok := apierr.As(err); ok && e.Code == apierr.Unauthenticated {
		msg = e.Message
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    msg,
			"extensions": map[string]any{"code": apierr.Unauthenticated},
		}},
	})
}

// WebsocketInit authenticates a WebSocket's connection_init payload, which
// carries the same value as the Authorization header.
func (s *Service) WebsocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	token := p.Authorization()
	if token == "" {
		if v := viewer.FromContext(ctx); v != nil {
			return ctx, nil, nil // authenticated by the upgrade request's header
		}
		return ctx, nil, apierr.New(apierr.Unauthenticated, "connection_init needs an Authorization value")
	}
	v, err := s.Authenticate(ctx, BearerToken(token))
	if err != nil {
		return ctx, nil, err
	}
	return viewer.NewContext(ctx, v), nil, nil
}
