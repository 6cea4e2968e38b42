// Package gqlws is the server's GraphQL WebSocket transport: the
// graphql-transport-ws protocol and the legacy subscriptions-transport-ws
// one (subprotocol graphql-ws), for the event subscriptions.
//
// It replaces gqlgen's transport, which runs five goroutines per socket
// and subscription and renders every event once per subscriber. Here an
// idle socket holds one goroutine (its reader; the event stream, once
// caught up, waits with its organization's dispatcher in internal/event),
// timers instead of ping goroutines, and no write buffer; an event is
// rendered once per distinct subscription (operation, variables below the
// stream's field, and viewer: see Subscription) and written to every
// subscriber as the same pre-encoded frame, by whoever delivers it when
// the socket takes it without blocking (see tryConn).
package gqlws

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// Subprotocols.
const (
	// TransportWS is graphql-transport-ws.
	TransportWS = "graphql-transport-ws"
	// GraphQLWS is subscriptions-transport-ws, the legacy protocol; a client
	// that names no subprotocol gets it, as gqlgen's transport did.
	GraphQLWS = "graphql-ws"
)

// Transport serves GraphQL subscriptions over WebSockets; it is a gqlgen
// transport (srv.AddTransport(gqlws.New(…))).
type Transport struct {
	// Upgrader upgrades the connection; its Subprotocols are set by New.
	Upgrader websocket.Upgrader
	// InitFunc authenticates connection_init; an error closes the socket
	// (after the connection_error message of the legacy protocol).
	InitFunc func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error)
	// CloseFunc runs once the socket has closed, with the context InitFunc
	// returned.
	CloseFunc func(ctx context.Context, code int)
	// InitTimeout is how long a socket may take to send connection_init.
	InitTimeout time.Duration
	// PingInterval is graphql-transport-ws's: a ping every interval, and a
	// client that answers none for two intervals is dropped.
	PingInterval time.Duration
	// KeepAliveInterval is the legacy protocol's "ka" interval.
	KeepAliveInterval time.Duration

	renders *renders
}

var _ graphql.Transport = (*Transport)(nil)

// New returns the transport t describes.
func New(t Transport) *Transport {
	t.Upgrader.Subprotocols = []string{TransportWS, GraphQLWS}
	t.renders = newRenders()
	return &t
}

// Supports reports whether r asks for an upgrade.
func (t *Transport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do upgrades r, runs connection_init in the request's goroutine and then
// hands the socket to a goroutine of its own, whose stack stays shallow:
// the request's goroutine, deep with net/http's and the middleware's
// frames, ends.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	hj := &hijacker{ResponseWriter: w}
	ws, err := t.Upgrader.Upgrade(hj, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &conn{
		t:       t,
		ws:      ws,
		tc:      hj.conn,
		exec:    exec,
		headers: r.Header,
		// The socket outlives the request: net/http cancels the
		// request's context once the handler returns.
		ctx:    context.WithoutCancel(r.Context()),
		active: map[string]*Subscription{},
	}
	switch ws.Subprotocol() {
	case TransportWS:
		c.proto = TransportWS
	case GraphQLWS, "":
		c.proto = GraphQLWS
	default: // the upgrader only agrees on the two above
		_ = ws.Close()
		return
	}
	if !c.init() {
		return
	}
	go c.read()
}

// message is one protocol message, either way.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// encode returns the message's JSON.
func encode(m message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a string and raw JSON always encode
	}
	return b
}

// frameOf returns the JSON of a message whose payload is already encoded,
// without encoding the payload again.
func frameOf(id, typ string, payload []byte) []byte {
	idJSON, _ := json.Marshal(id)
	b := make([]byte, 0, len(payload)+len(typ)+len(idJSON)+32)
	b = append(b, `{"id":`...)
	b = append(b, idJSON...)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	b = append(b, `","payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// Renders returns how many payloads the transport has rendered: once per
// event and group of subscriptions that render alike, however many
// subscribers the group has.
func (t *Transport) Renders() int64 { return t.renders.ran.Load() }
