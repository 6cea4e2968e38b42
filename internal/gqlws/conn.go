package gqlws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Close codes of graphql-transport-ws.
const (
	closeBadMessage    = 4400
	closeDuplicateID   = 4409
	closeWriteDeadline = 5 * time.Second
)

// conn is one socket. Its reader goroutine reads the client's messages;
// frames to the client go through a queue, written by a goroutine that
// exists only while the queue is not empty, so a slow client never holds
// up the event streams (they see a full Subscription instead) and an idle
// socket holds no writer. An event frame for a socket with nothing queued
// is written at once by whoever delivers it, without blocking (see
// tryConn); only what the socket does not take at once waits for the
// writer.
type conn struct {
	t  *Transport
	ws *websocket.Conn
	// tc is ws's connection.
	tc      *tryConn
	exec    graphql.GraphExecutor
	headers http.Header
	proto   string
	// ctx is the socket's, InitFunc's once connection_init succeeds.
	ctx context.Context

	mu      sync.Mutex
	active  map[string]*Subscription
	queue   []frame
	writing bool
	// closed says no more frames are taken; closeCode is sent once the
	// queue has been written.
	closed      bool
	closeCode   int
	closeReason string
	// gotPong says a pong arrived since the last ping.
	gotPong bool
	timer   *time.Timer
}

// frame is one queued message: a frame shared between subscribers, or
// bytes of this socket's own.
type frame struct {
	shared *websocket.PreparedMessage
	data   []byte
	// sub is the subscription whose event this is, told once it is
	// written.
	sub *Subscription
}

// init reads connection_init and answers it; it reports whether the socket
// is open for subscriptions.
func (c *conn) init() bool {
	if c.t.InitTimeout > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.t.InitTimeout))
	}
	m, err := c.next()
	if err != nil {
		var bad *json.SyntaxError
		if errors.As(err, &bad) {
			c.connectionError("invalid json")
		}
		c.close(websocket.CloseProtocolError, "decoding error")
		return false
	}
	switch m.Type {
	case "connection_init":
	case "connection_terminate":
		c.close(websocket.CloseNormalClosure, "terminated")
		return false
	default:
		c.connectionError(fmt.Sprintf("unexpected message %s", m.Type))
		c.close(websocket.CloseProtocolError, "unexpected message")
		return false
	}
	var payload transport.InitPayload
	if len(m.Payload) > 0 && !bytes.Equal(m.Payload, []byte("null")) {
		if err := json.Unmarshal(m.Payload, &payload); err != nil {
			c.connectionError("invalid json")
			c.close(websocket.CloseProtocolError, "decoding error")
			return false
		}
	}
	var ack *transport.InitPayload
	if c.t.InitFunc != nil {
		ctx, a, err := c.t.InitFunc(c.ctx, payload)
		if err != nil {
			c.connectionError(err.Error())
			c.close(websocket.CloseNormalClosure, "terminated")
			return false
		}
		c.ctx, ack = ctx, a
	}
	reply := message{Type: "connection_ack"}
	if ack != nil {
		reply.Payload, _ = json.Marshal(*ack)
	}
	c.send(encode(reply))
	_ = c.ws.SetReadDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.proto == GraphQLWS && c.t.KeepAliveInterval > 0:
		c.queueLocked(frame{data: kaFrame})
		c.timer = time.AfterFunc(c.t.KeepAliveInterval, c.keepAlive)
	case c.proto == TransportWS && c.t.PingInterval > 0:
		c.gotPong = true // the first ping sets the deadline
		c.timer = time.AfterFunc(c.t.PingInterval, c.ping)
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * c.t.PingInterval))
	}
	return true
}

var (
	kaFrame   = encode(message{Type: "ka"})
	pingFrame = encode(message{Type: "ping"})
)

// ping sends graphql-transport-ws's ping; a client that has not answered
// the previous one keeps the read deadline that drops it.
// Like an event's frame, it is written at once when the socket takes it
// (deliver), so an idle socket's pings start no writer goroutine.
func (c *conn) ping() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.gotPong {
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * c.t.PingInterval))
	}
	c.gotPong = false
	c.timer.Reset(c.t.PingInterval)
	c.mu.Unlock()
	c.deliver(frame{data: pingFrame})
}

// keepAlive sends the legacy protocol's "ka".
func (c *conn) keepAlive() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.timer.Reset(c.t.KeepAliveInterval)
	c.mu.Unlock()
	c.deliver(frame{data: kaFrame})
}

// next reads one message.
func (c *conn) next() (message, error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return message{}, err
	}
	var m message
	err = json.NewDecoder(r).Decode(&m)
	return m, err
}

// read is the socket's reader goroutine.
func (c *conn) read() {
	for {
		m, err := c.next()
		if err != nil {
			var bad *json.SyntaxError
			if errors.As(err, &bad) {
				c.connectionError("invalid json")
				c.close(closeBadMessage, "invalid message")
			} else {
				c.close(websocket.CloseNormalClosure, "terminated")
			}
			return
		}
		switch {
		case m.Type == "subscribe" && c.proto == TransportWS, m.Type == "start" && c.proto == GraphQLWS:
			c.subscribe(m)
		case m.Type == "complete" && c.proto == TransportWS, m.Type == "stop" && c.proto == GraphQLWS:
			c.mu.Lock()
			s := c.active[m.ID]
			c.mu.Unlock()
			if s != nil {
				s.cancel()
			}
		case m.Type == "connection_terminate" && c.proto == GraphQLWS:
			c.close(websocket.CloseNormalClosure, "terminated")
			return
		case m.Type == "ping" && c.proto == TransportWS:
			c.send(encode(message{Type: "pong", Payload: m.Payload}))
		case m.Type == "pong" && c.proto == TransportWS:
			c.mu.Lock()
			c.gotPong = true
			c.mu.Unlock()
			_ = c.ws.SetReadDeadline(time.Time{})
		default:
			c.connectionError(fmt.Sprintf("unexpected message %s", m.Type))
			c.close(websocket.CloseProtocolError, "unexpected message")
			return
		}
	}
}

// subscribe starts the operation of a subscribe (start) message. The
// subscription is registered here, in order with the socket's other
// messages (a complete right behind it cancels it); the operation is
// parsed, validated and started in a goroutine of its own, which ends once
// the stream runs, so that the reader's stack stays shallow.
func (c *conn) subscribe(m message) {
	s := newSubscription(c, m.ID)
	c.mu.Lock()
	if c.active[m.ID] != nil {
		c.mu.Unlock()
		s.cancel()
		c.close(closeDuplicateID, "Subscriber for "+m.ID+" already exists")
		return
	}
	c.active[m.ID] = s
	c.mu.Unlock()
	go s.start(m.Payload, graphql.Now())
}

// remove forgets s once it has ended.
func (c *conn) remove(s *Subscription) {
	c.mu.Lock()
	if c.active[s.id] == s {
		delete(c.active, s.id)
	}
	c.mu.Unlock()
}

// sendResponse sends a payload of s's own (an error that ends it).
func (c *conn) sendResponse(id string, resp *graphql.Response) {
	c.send(frameOf(id, c.nextType(), encodeResponse(resp)))
}

// nextType is the type of a message carrying a result.
func (c *conn) nextType() string {
	if c.proto == TransportWS {
		return "next"
	}
	return "data"
}

// sendErrors sends an error message: the operation failed before it ran.
func (c *conn) sendErrors(id string, errs ...*gqlerror.Error) {
	b, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	c.send(frameOf(id, "error", b))
}

// complete says the operation id is over.
func (c *conn) complete(id string) {
	c.send(encode(message{ID: id, Type: "complete"}))
}

// connectionError tells a legacy client why its socket closes;
// graphql-transport-ws has no such message (the close reason says it).
func (c *conn) connectionError(msg string) {
	if c.proto != GraphQLWS {
		return
	}
	b, _ := json.Marshal(&gqlerror.Error{Message: msg})
	c.send(encode(message{Type: "connection_error", Payload: b}))
}

// send queues data.
func (c *conn) send(data []byte) {
	c.mu.Lock()
	c.queueLocked(frame{data: data})
	c.mu.Unlock()
}

// queueLocked queues f, starting the writer if none runs; it reports
// false once the socket is closed. c.mu is held.
func (c *conn) queueLocked(f frame) bool {
	if c.closed {
		return false
	}
	c.queue = append(c.queue, f)
	if !c.writing {
		c.writing = true
		go c.write()
	}
	return true
}

// deliver writes a frame at once when nothing else is queued or being
// written and the socket takes it without blocking, and queues it
// otherwise; it reports false once the socket is closed.
func (c *conn) deliver(f frame) bool {
	c.mu.Lock()
	if c.closed || c.writing || !c.tc.canTry() {
		ok := c.queueLocked(f)
		c.mu.Unlock()
		return ok
	}
	c.writing = true
	c.mu.Unlock()
	left, err := c.tc.try(func() error { return c.writeFrame(f) })
	if f.sub != nil {
		f.sub.written() // what is left of it is the writer's next write
	}
	if err != nil {
		c.close(websocket.CloseAbnormalClosure, "")
	}
	c.mu.Lock()
	if !left && len(c.queue) == 0 && !c.closed {
		c.writing = false
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	go c.write()
	return true
}

// writeFrame writes one frame.
func (c *conn) writeFrame(f frame) error {
	if f.shared != nil {
		return c.ws.WritePreparedMessage(f.shared)
	}
	return c.ws.WriteMessage(websocket.TextMessage, f.data)
}

// write is the writer goroutine: it writes what a try left and the queue
// until it is empty, and closes the socket once it is closed and written.
func (c *conn) write() {
	if err := c.tc.flush(); err != nil {
		c.close(websocket.CloseAbnormalClosure, "")
	}
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			closed := c.closed
			if !closed {
				c.writing = false
				c.queue = nil
			}
			c.mu.Unlock()
			if closed {
				c.finish()
			}
			return
		}
		f := c.queue[0]
		c.queue[0] = frame{}
		c.queue = c.queue[1:]
		c.mu.Unlock()
		err := c.writeFrame(f)
		if f.sub != nil {
			f.sub.written()
		}
		if err != nil {
			c.close(websocket.CloseAbnormalClosure, "")
		}
	}
}

// close ends the socket: its subscriptions stop, what is queued gets a few
// seconds to be written, then the close frame with code goes out and the
// connection closes.
func (c *conn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.closeCode, c.closeReason = true, code, reason
	subs := c.active
	c.active = map[string]*Subscription{}
	if c.timer != nil {
		c.timer.Stop()
	}
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
	_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(closeWriteDeadline))
	if start {
		c.finish()
	}
}

// finish sends the close frame and closes the connection.
func (c *conn) finish() {
	if c.closeCode != websocket.CloseAbnormalClosure {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeReason), time.Now().Add(time.Second))
	}
	_ = c.ws.Close()
	if c.t.CloseFunc != nil {
		c.t.CloseFunc(c.ctx, c.closeCode)
	}
}
