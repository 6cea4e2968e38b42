package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHTTPRoutes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, path string
		status     int
		contains   string
	}{
		{"Healthz", "/healthz", 200, "ok"},
		{"Readyz", "/readyz", 200, "ok"},
		{"Playground", "/", 200, "/graphql"},
		{"NotFound", "/nope", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(e.srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.contains) {
				t.Fatalf("GET %s = %d %q", tc.path, resp.StatusCode, body)
			}
			if resp.Header.Get("X-Request-ID") == "" {
				t.Fatal("no X-Request-ID")
			}
		})
	}
	t.Run("Metrics", func(t *testing.T) {
		e.gql("", `query Probe { __typename }`, nil)
		resp, err := http.Get(e.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"go_goroutines", `dakenh_http_requests_total{code="200",method="POST",route="graphql"}`, `operation_name="Probe"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("GraphQLOverGET", func(t *testing.T) {
		resp, err := http.Get(e.srv.URL + "/graphql?query=" + url.QueryEscape(`{ __typename }`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"Query"`) {
			t.Fatalf("GET /graphql = %d %s", resp.StatusCode, body)
		}
	})
	t.Run("CORSPreflight", func(t *testing.T) {
		for origin, allowed := range map[string]bool{"http://localhost:3000": true, "https://evil.example": false} {
			req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/graphql", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
				t.Errorf("origin %s allowed=%v, want %v", origin, got, allowed)
			}
		}
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		big := strings.Repeat("x", 2<<20)
		body, _ := json.Marshal(map[string]any{"query": `mutation($c: String!) { importCustomers(csv: $c) { imported } }`, "variables": map[string]any{"c": big}})
		resp, err := http.Post(e.srv.URL+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestGraphQLLimits(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Limits Org")
	t.Run("ErrTooDeep", func(t *testing.T) {
		q := "{ me { " + strings.Repeat("organization { id } ", 1) + "} }"
		deep := "{ customers { edges { node { " + strings.Repeat("tags { customers { edges { node { ", 4) + "id" + strings.Repeat(" } } } }", 4) + " } } } }"
		if r := e.gql(tn.ownerToken, q, nil); r.code() != "" {
			t.Fatalf("shallow query refused: %+v", r.Errors)
		}
		if r := e.gql(tn.ownerToken, deep, nil); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("deep query: %+v", r.Errors)
		}
	})
	t.Run("ErrSyntax", func(t *testing.T) {
		if r := e.gql(tn.ownerToken, `{ me {`, nil); r.code() != "GRAPHQL_PARSE_FAILED" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("AutomaticPersistedQuery", func(t *testing.T) {
		q := `{ me { email } }`
		sum := sha256.Sum256([]byte(q))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		post := func(body map[string]any) *gqlResponse {
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tn.ownerToken)
			return e.send(req)
		}
		if r := post(map[string]any{"extensions": ext}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("unknown hash: %+v", r.Errors)
		}
		if r := post(map[string]any{"query": q, "extensions": ext}); r.code() != "" {
			t.Fatalf("registering: %+v", r.Errors)
		}
		if r := post(map[string]any{"extensions": ext}); r.code() != "" || !strings.Contains(string(r.Data), "@") {
			t.Fatalf("by hash: %s %+v", r.Data, r.Errors)
		}
	})
	t.Run("IntrospectionCanBeTurnedOff", func(t *testing.T) {
		if r := e.gql("", `{ __schema { queryType { name } } }`, nil); r.code() != "" {
			t.Fatalf("introspection on: %+v", r.Errors)
		}
		closed := newEnvOn(t, e.db, func(c *Config, _ *appOptions) { c.Introspection = false })
		if r := closed.gql("", `{ __schema { queryType { name } } }`, nil); r.code() == "" {
			t.Fatal("introspection still answers")
		}
	})
}

// wsDial opens a GraphQL WebSocket with the given subprotocol and origin.
func wsDial(t *testing.T, e *env, protocol, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: patience}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql", h)
}

func TestWebSocket(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("WS Org")
	read := func(t *testing.T, c *websocket.Conn) map[string]any {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(patience))
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		return m
	}
	t.Run("TransportWSQueryAfterInit", func(t *testing.T) {
		c, _, err := wsDial(t, e, "graphql-transport-ws", "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tn.agentToken}})
		if m := read(t, c); m["type"] != "connection_ack" {
			t.Fatalf("got %v", m)
		}
		_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `{ me { role } }`}})
		for {
			m := read(t, c)
			if m["type"] == "ping" {
				continue
			}
			if m["type"] != "next" || !strings.Contains(fmt.Sprint(m["payload"]), "AGENT") {
				t.Fatalf("got %v", m)
			}
			break
		}
	})
	t.Run("LegacyGraphQLWS", func(t *testing.T) {
		c, _, err := wsDial(t, e, "graphql-ws", "http://localhost:3000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": tn.apiKey}})
		if m := read(t, c); m["type"] != "connection_ack" {
			t.Fatalf("got %v", m)
		}
	})
	readOnlyKey := e.createAPIKey(tn.ownerToken, "READ")
	for _, tc := range []struct {
		name, protocol string
		payload        map[string]any
		code           int
	}{
		{"ErrNoToken", "graphql-transport-ws", map[string]any{}, 4401},
		{"ErrBadToken", "graphql-transport-ws", map[string]any{"Authorization": "Bearer dks_forged"}, 4401},
		{"ErrKeyWithoutEvents", "graphql-transport-ws", map[string]any{"Authorization": readOnlyKey}, 4403},
		{"ErrBadTokenLegacy", "graphql-ws", map[string]any{"Authorization": "Bearer dks_forged"}, 4401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := wsDial(t, e, tc.protocol, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": tc.payload})
			_ = c.SetReadDeadline(time.Now().Add(patience))
			for {
				var m map[string]any
				err := c.ReadJSON(&m)
				if err != nil {
					if !websocket.IsCloseError(err, tc.code) {
						t.Fatalf("closed with %v, want code %d", err, tc.code)
					}
					return
				}
				if m["type"] == "connection_ack" {
					t.Fatal("acknowledged without a valid token")
				}
			}
		})
	}
	t.Run("ErrForeignOrigin", func(t *testing.T) {
		_, resp, err := wsDial(t, e, "graphql-transport-ws", "https://evil.example")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade from a foreign origin: %v %v", err, resp)
		}
	})
}

// TestGracefulShutdown runs the real server loop and cancels it as SIGTERM
// does: run must drain and return nil.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Config{
		Addr: addr, DataDir: t.TempDir(), CORSOrigins: []string{"*"}, MaxBodyBytes: 1 << 20, Introspection: true,
		Secret: []byte(testSecret),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	// Generous: on a loaded machine migrating a new database takes a while.
	var up bool
	for deadline := time.Now().Add(patience); !up && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v", err)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == 200
		}
		if !up {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !up {
		t.Fatal("server did not come up")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(patience):
		t.Fatal("server did not stop")
	}
}
