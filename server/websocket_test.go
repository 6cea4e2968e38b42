package main

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWebSocketTimings drives the init timeout and the graphql-transport-ws
// keepalive with shortened timings; production uses the same code with
// wsInitTimeout and wsPingInterval.
func TestWebSocketTimings(t *testing.T) {
	e := newEnv(t, func(_ *Config, o *appOptions) {
		o.ws = wsTimings{init: 300 * time.Millisecond, ping: 100 * time.Millisecond}
	})
	tn := e.newTenant("Timings")
	dial := func(t *testing.T) *websocket.Conn {
		t.Helper()
		c, _, err := wsDial(t, e, "graphql-transport-ws", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		// Generous: the server acts on its own timings well before this.
		_ = c.SetReadDeadline(time.Now().Add(patience))
		return c
	}
	read := func(t *testing.T, c *websocket.Conn) (map[string]any, error) {
		t.Helper()
		var m map[string]any
		err := c.ReadJSON(&m)
		return m, err
	}
	initialize := func(t *testing.T, c *websocket.Conn) {
		t.Helper()
		if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tn.agentToken}}); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := read(t, c)
			if err != nil {
				t.Fatalf("waiting for connection_ack: %v", err)
			}
			if m["type"] == "connection_ack" {
				return
			}
		}
	}

	t.Run("ErrInitTimeout", func(t *testing.T) {
		c := dial(t)
		m, err := read(t, c)
		if !websocket.IsCloseError(err, closeInitTimeout) {
			t.Fatalf("got %v, %v; want a close with %d", m, err, closeInitTimeout)
		}
	})

	t.Run("AnsweredPingsKeepTheConnection", func(t *testing.T) {
		c := dial(t)
		initialize(t, c)
		// Without pongs the server gives up after two intervals; five
		// answered pings outlive that, and the connection still serves.
		for pings := 0; pings < 5; {
			m, err := read(t, c)
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if m["type"] == "ping" {
				pings++
				if err := c.WriteJSON(map[string]any{"type": "pong"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "{ me { id } }"}}); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := read(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if m["type"] == "next" {
				return
			}
			if m["type"] == "ping" {
				_ = c.WriteJSON(map[string]any{"type": "pong"})
			}
		}
	})

	t.Run("SilentClientIsDropped", func(t *testing.T) {
		c := dial(t)
		initialize(t, c)
		pings := 0
		for {
			m, err := read(t, c)
			if err != nil {
				if pings == 0 {
					t.Fatalf("dropped before any ping: %v", err)
				}
				return // the server closed the connection
			}
			if m["type"] == "ping" {
				pings++
			}
		}
	})
}
