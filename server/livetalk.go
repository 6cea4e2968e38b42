package main

import (
	"context"
	"net"
	"net/http"
	"strings"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/graph"
	"github.com/dakenh/dakenh/graph/visitor"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gqllimit"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The LiveTalk visitor API (graph/visitor) at /livetalk/graphql: POST and
// WebSocket (graphql-transport-ws), for the widget on businesses' websites.
// It answers browsers only, from the origins LIVETALK channels allow: CORS
// here is per channel, not the staff API's DAKENH_CORS_ORIGINS.

// livetalkPath is the visitor API's path.
const livetalkPath = "/livetalk/graphql"

// maxVisitorBody bounds a visitor API request's body: a message of 2,000
// characters and one attachment's URL fit many times over.
const maxVisitorBody = 64 << 10

// visitorScheme is the Authorization scheme of visitor tokens.
const visitorScheme = "visitor "

// livetalkRoutes serves what websites' pages load under /livetalk/: the
// visitor API, behind its origin gate. Other routes added here (the
// widget's script) are outside the gate: a page's <script> sends no
// Origin.
func (a *App) livetalkRoutes() http.Handler {
	mux := http.NewServeMux()
	gql := captureWebSocket(a.visitorAuth(limitBody(a.visitorHandler(), maxVisitorBody)), a.ws.init, a.livetalkOriginKnown)
	mux.Handle(livetalkPath, a.metrics.Instrument("livetalk", a.visitorGate(gql)))
	return mux
}

// visitorGate answers what the visitor API refuses before any GraphQL:
// addresses over their rate limit (RATE_LIMITED, 429), and browsers on an
// origin no LIVETALK channel allows, or no browser at all (FORBIDDEN, 403,
// with no CORS headers, so the page cannot read the answer either). It
// answers CORS preflights for the origins it lets through; each operation
// then checks the origin against its own channel (graph/visitor).
func (a *App) visitorGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.livetalk.AllowAddress(remoteIP(r)); err != nil {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, err)
			return
		}
		origin := r.Header.Get("Origin")
		if !a.livetalkOriginKnown(r) {
			requestlog.FromContext(r.Context()).InfoContext(r.Context(), "visitor API request from an origin no channel allows", "origin", clipOrigin(origin))
			writeError(w, http.StatusForbidden, apierr.New(apierr.Forbidden, "the visitor API answers pages on the origins of a LiveTalk channel only"))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// livetalkOriginKnown reports whether some LIVETALK channel allows the
// request's Origin; a request without one is no browser's and is refused.
func (a *App) livetalkOriginKnown(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(origin) > 255 {
		return false
	}
	c, err := livetalk.NormalizeOrigins("origin", []string{origin})
	if err != nil {
		return false
	}
	ok, err := a.db.Client.Channel.Query().
		Where(channel.KindEQ(channel.KindLIVETALK), originIn(c[0])).
		Exist(viewer.SystemContext(r.Context(), ""))
	if err != nil {
		requestlog.FromContext(r.Context()).WarnContext(r.Context(), "checking a visitor's origin failed", "err", err)
		return false
	}
	return ok
}

// originIn keeps the channels whose allowed origins hold origin.
func originIn(origin string) predicate.Channel {
	return func(s *sql.Selector) {
		s.Where(sqljson.ValueContains(channel.FieldAllowedOrigins, origin))
	}
}

// visitorAuth reads a visitor token (Authorization: Visitor <token>) and
// puts the request's origin and visitor in its context for the resolvers.
// A bad token is UNAUTHENTICATED (401) at once: only startChat and widget
// need none, and a widget sends none to them.
func (a *App) visitorAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &visitor.Request{Origin: r.Header.Get("Origin")}
		if token, ok := visitorToken(r.Header.Get("Authorization")); ok {
			v, err := a.livetalk.Authenticate(r.Context(), token)
			if err != nil {
				writeError(w, statusOf(err), err)
				return
			}
			req.Visitor = v
		}
		next.ServeHTTP(w, r.WithContext(visitor.WithRequest(r.Context(), req)))
	})
}

// visitorToken returns the token of an Authorization value of the Visitor
// scheme.
func visitorToken(header string) (string, bool) {
	header = strings.TrimSpace(header)
	if len(header) <= len(visitorScheme) || !strings.EqualFold(header[:len(visitorScheme)], visitorScheme) {
		return "", false
	}
	return strings.TrimSpace(header[len(visitorScheme):]), true
}

// visitorHandler is the visitor schema's GraphQL handler, with the staff
// API's document limits and error presenter.
func (a *App) visitorHandler() http.Handler {
	srv := handler.New(visitor.NewSchema(&visitor.Resolver{Client: a.db.Client, LiveTalk: a.livetalk, Calls: a.visitorCalls}))
	srv.AddTransport(transport.Websocket{
		Upgrader: websocket.Upgrader{
			CheckOrigin:     a.livetalkOriginKnown,
			ReadBufferSize:  wsReadBuffer,
			WriteBufferSize: wsWriteBuffer,
		},
		InitFunc:              a.visitorWebsocketInit,
		InitTimeout:           2 * a.ws.init,
		KeepAlivePingInterval: wsKeepAliveInterval,
		PingPongInterval:      a.ws.ping,
	})
	srv.AddTransport(transport.POST{})
	queries := lru.New[*ast.QueryDocument](200)
	srv.SetQueryCache(queries)
	if a.cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(gqllimit.Document{MaxTokens: maxTokens, MaxFields: 200, MaxAliases: 20, MaxSpreads: 50, Cache: queries})
	srv.Use(gqllimit.Depth{Max: 6})
	srv.Use(&gqllimit.Arguments{MaxList: 10, MaxString: maxStringChars})
	srv.SetErrorPresenter(apierr.Presenter(a.logger, graph.ClassifyError))
	srv.SetRecoverFunc(apierr.Recover(a.logger))
	return srv
}

// visitorWebsocketInit authenticates a visitor socket's connection_init:
// its payload's Authorization is "Visitor <token>", and the socket's
// origin must be one the visitor's channel allows. A refusal closes the
// socket with 4401 (no or a bad token) or 4403 (the origin).
func (a *App) visitorWebsocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	wc, _ := ctx.Value(wsConnKey{}).(*wsConn)
	if wc != nil && !wc.init() {
		return ctx, nil, apierr.New(apierr.Unauthenticated, "connection initialisation timeout")
	}
	refuse := func(code int, msg string, err error) (context.Context, *transport.InitPayload, error) {
		if wc != nil {
			wc.closeWith(code, msg)
		}
		return ctx, nil, err
	}
	req := visitor.RequestFrom(ctx)
	token, ok := visitorToken(p.Authorization())
	if !ok {
		if s, isString := p["Authorization"].(string); isString {
			token, ok = visitorToken(s)
		}
	}
	if !ok {
		return refuse(closeUnauthorized, "Unauthorized", apierr.NeedCredentials("send Authorization: Visitor <token> in connection_init"))
	}
	v, err := a.livetalk.Authenticate(ctx, token)
	if err != nil {
		if apierr.CodeOf(err) != apierr.Unauthenticated {
			requestlog.FromContext(ctx).ErrorContext(ctx, "authenticating a visitor socket failed", "err", err)
			return refuse(closeInternal, "Internal Error", apierr.New(apierr.Internal, "the service is temporarily unavailable; try again shortly"))
		}
		return refuse(closeUnauthorized, "Unauthorized", err)
	}
	if !livetalk.OriginAllowed(v.Channel, req.Origin) {
		return refuse(closeForbidden, "Forbidden", apierr.New(apierr.Forbidden, "this website's origin may not use this widget"))
	}
	return visitor.WithRequest(ctx, &visitor.Request{Origin: req.Origin, Visitor: v}), nil, nil
}

// remoteIP is the address a request came from, for the per-address limit.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clipOrigin bounds an Origin header for the log.
func clipOrigin(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}
