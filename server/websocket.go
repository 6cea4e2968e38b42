package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/presence"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Close codes of the graphql-transport-ws protocol that docs/api.md promises for
// a rejected connection_init: 4401 when the caller is not authenticated,
// 4403 when it is but may not use the event stream. 4408 ends a connection
// that sent no connection_init in time. 1011 (RFC 6455's "internal error")
// says the server could not check the credentials, say because its
// database is down: the client keeps its token and reconnects later.
const (
	closeUnauthorized = 4401
	closeForbidden    = 4403
	closeInitTimeout  = 4408
	closeInternal     = 1011
)

// WebSocket timings.
const (
	// wsInitTimeout is how long a new connection has to send
	// connection_init.
	wsInitTimeout = 10 * time.Second
	// wsPingInterval is the graphql-transport-ws ping interval; a client
	// that stops answering is dropped after two, so proxies never see an
	// idle subscription and a vanished client is found in under a minute.
	wsPingInterval = 25 * time.Second
	// wsKeepAliveInterval is the legacy graphql-ws "ka" interval.
	wsKeepAliveInterval = 15 * time.Second
)

// WebSocket buffers. Client messages are small (connection_init, subscribe,
// pong), and a longer one is read in several pieces; events go out as
// prepared frames, written without the write buffer, which the other
// messages take from a pool only while they are written.
const (
	wsReadBuffer  = 256
	wsWriteBuffer = 1024
)

// wsTimings are the WebSocket timings; tests shorten them.
type wsTimings struct {
	init, ping time.Duration
}

// orDefault fills unset timings with the defaults.
func (t wsTimings) orDefault() wsTimings {
	if t.init <= 0 {
		t.init = wsInitTimeout
	}
	if t.ping <= 0 {
		t.ping = wsPingInterval
	}
	return t
}

// wsConn remembers the hijacked connection of a WebSocket upgrade, so a
// rejected or missing connection_init can be closed with the protocol's
// code: the transport (gqlws) closes with 1000, or 1002 on its own init timeout.
type wsConn struct {
	mu   sync.Mutex
	conn net.Conn
	// initTimer closes the connection with 4408 unless connection_init
	// arrives first; inited says it did, timedOut that it did not.
	initTimer *time.Timer
	inited    bool
	timedOut  bool
}

type wsConnKey struct{}

// captureWebSocket wraps upgrade requests so their connection is reachable
// from the connection_init handler through the request context, and starts
// the init timeout once the connection is upgraded. An upgrade that would
// fail is refused here, with a JSON error and a log line that names the
// request: gorilla's upgrader would answer in plain text, and the
// transport logs nothing.
func captureWebSocket(next http.Handler, initTimeout time.Duration, allowedOrigin func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			next.ServeHTTP(w, r)
			return
		}
		if status, code, problem := upgradeProblem(r, allowedOrigin); problem != "" {
			requestlog.FromContext(r.Context()).InfoContext(r.Context(), "WebSocket upgrade refused", "status", status, "reason", problem)
			writeError(w, status, apierr.New(code, "%s", problem))
			return
		}
		wc := &wsConn{}
		ctx := context.WithValue(r.Context(), wsConnKey{}, wc)
		next.ServeHTTP(&hijackCapture{ResponseWriter: w, wc: wc, initTimeout: initTimeout}, r.WithContext(ctx))
	})
}

// upgradeProblem says why gorilla's Upgrader would refuse r (the checks of
// websocket.Upgrader.Upgrade, in its order), or "" when it would not.
func upgradeProblem(r *http.Request, allowedOrigin func(*http.Request) bool) (int, apierr.Code, string) {
	switch {
	case !websocket.IsWebSocketUpgrade(r):
		return http.StatusBadRequest, apierr.BadUserInput, "a WebSocket upgrade needs Connection: Upgrade and Upgrade: websocket"
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, apierr.BadUserInput, "a WebSocket upgrade must be a GET"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, apierr.BadUserInput, "only WebSocket version 13 is supported"
	case !allowedOrigin(r):
		return http.StatusForbidden, apierr.Forbidden, "this origin may not open WebSockets here"
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(key) != 16 {
		return http.StatusBadRequest, apierr.BadUserInput, "Sec-WebSocket-Key must be 16 bytes in base64"
	}
	return 0, "", ""
}

type hijackCapture struct {
	http.ResponseWriter
	wc          *wsConn
	initTimeout time.Duration
}

func (h *hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		wc := h.wc
		wc.mu.Lock()
		wc.conn = conn
		wc.initTimer = time.AfterFunc(h.initTimeout, wc.expireInit)
		wc.mu.Unlock()
	}
	return conn, rw, err
}

// expireInit closes a connection that never sent connection_init; closing
// the socket ends the transport's read loop and its cleanup.
func (wc *wsConn) expireInit() {
	wc.mu.Lock()
	if wc.inited {
		wc.mu.Unlock()
		return
	}
	wc.timedOut = true
	wc.mu.Unlock()
	wc.closeWith(closeInitTimeout, "Connection initialisation timeout")
	_ = wc.conn.Close()
}

// init records that connection_init arrived; it reports false when the
// init timeout has already closed the connection.
func (wc *wsConn) init() bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.timedOut {
		return false
	}
	wc.inited = true
	if wc.initTimer != nil {
		wc.initTimer.Stop()
	}
	return true
}

func (h *hijackCapture) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// closeWith sends a close frame with code and reason. It runs before the
// transport answers the failed connection_init (init is synchronous and no
// other writer has started), so the client sees this code first; the
// transport's own close that follows is ignored by a client that has
// already closed.
func (wc *wsConn) closeWith(code int, reason string) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.conn == nil {
		return
	}
	if len(reason) > 123 { // control frames carry at most 125 bytes
		reason = reason[:123]
	}
	frame := make([]byte, 4, 4+len(reason))
	frame[0] = 0x88 // FIN + close opcode; server frames are not masked
	frame[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(frame[2:], uint16(code))
	frame = append(frame, reason...)
	_, _ = wc.conn.Write(frame)
}

// websocketInit authenticates connection_init and admits only viewers that
// may follow the event stream: users, and API keys with the EVENTS scope.
func (a *App) websocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if wc, ok := ctx.Value(wsConnKey{}).(*wsConn); ok && !wc.init() {
		return ctx, nil, apierr.New(apierr.Unauthenticated, "connection initialisation timeout")
	}
	ctx, ack, err := a.auth.WebsocketInit(ctx, p)
	if err == nil && !viewer.FromContext(ctx).Has(viewer.ScopeEvents) {
		err = apierr.New(apierr.Forbidden, "this API key lacks the EVENTS scope")
	}
	if err != nil {
		code, msg := closeUnauthorized, "Unauthorized"
		switch apierr.CodeOf(err) {
		case apierr.Unauthenticated:
		case apierr.Forbidden:
			code, msg = closeForbidden, "Forbidden"
		default:
			requestlog.FromContext(ctx).ErrorContext(ctx, "authenticating a WebSocket failed", "err", err)
			code, msg = closeInternal, "Internal Error"
			// the transport sends the error's text to the client: not the cause.
			err = apierr.New(apierr.Internal, "the service is temporarily unavailable; try again shortly")
		}
		if wc, ok := ctx.Value(wsConnKey{}).(*wsConn); ok {
			wc.closeWith(code, msg)
		}
		return ctx, nil, err
	}
	return a.trackPresence(ctx), ack, nil
}

// presenceKey holds, in a socket's context, the function that records its
// closing with the presence tracker.
type presenceKey struct{}

// trackPresence counts an authenticated user's socket for presence: while
// one is open on some replica, the user is not made OFFLINE. The user's
// first socket here stamps them as seen at once.
func (a *App) trackPresence(ctx context.Context) context.Context {
	v := viewer.FromContext(ctx)
	if !v.IsUser() {
		return ctx
	}
	closed, first := a.presence.Open(v.UserID)
	if first {
		if err := presence.Seen(ctx, a.db.Client, a.now(), v.UserID); err != nil {
			a.logger.WarnContext(ctx, "stamping a user as seen failed", "err", err)
		}
	}
	return context.WithValue(ctx, presenceKey{}, closed)
}

// websocketClosed runs when a socket closes, with the context its
// connection_init returned.
func websocketClosed(ctx context.Context, _ int) {
	if closed, ok := ctx.Value(presenceKey{}).(func()); ok {
		closed()
	}
}
