package main

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"
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

// TestRefusedUpgradesLogJSON sends upgrades gorilla refuses: each is
// answered with a coded JSON error and logged as one JSON line with the
// request's id, and nothing reaches the standard logger as plain text.
func TestRefusedUpgradesLogJSON(t *testing.T) {
	e := newEnv(t)
	var std bytes.Buffer
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	good := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, tc := range []struct {
		name   string
		method string
		change map[string]string
		status int
		code   string
	}{
		{"ErrNoConnectionUpgrade", "GET", map[string]string{"Connection": "keep-alive"}, 400, "BAD_USER_INPUT"},
		{"ErrPost", "POST", nil, 405, "BAD_USER_INPUT"},
		{"ErrVersion", "GET", map[string]string{"Sec-WebSocket-Version": "8"}, 400, "BAD_USER_INPUT"},
		{"ErrOrigin", "GET", map[string]string{"Origin": "https://evil.example"}, 403, "FORBIDDEN"},
		{"ErrKey", "GET", map[string]string{"Sec-WebSocket-Key": "short"}, 400, "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+"/graphql", nil)
			for k, v := range good {
				req.Header.Set(k, v)
			}
			for k, v := range tc.change {
				req.Header.Set(k, v)
			}
			resp := e.send(req)
			if resp.Status != tc.status || resp.code() != tc.code {
				t.Fatalf("got %d %+v, want %d %s", resp.Status, resp.Errors, tc.status, tc.code)
			}
		})
	}
	if std.Len() > 0 {
		t.Fatalf("plain text reached the standard logger: %q", std.String())
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(e.logText()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if m["msg"] == "WebSocket upgrade refused" {
			n++
			if id, _ := m["request_id"].(string); id == "" {
				t.Fatalf("the refusal names no request: %v", m)
			}
		}
	}
	if n != 5 {
		t.Fatalf("%d refusals logged, want 5", n)
	}
}
