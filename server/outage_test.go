package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

// outage is a database a test may take away from under a running server.
type outage struct {
	db    *database.DB
	begin func()
	// end brings the database back; nil where it cannot come back.
	end func()
}

// newOutage returns, on PostgreSQL, a database on the test's own server,
// which the outage stops for real (the shared test server is never
// touched); on SQLite, the embedded database, whose pools the outage
// closes, so every statement fails as it would with a broken disk.
func newOutage(t *testing.T) outage {
	t.Helper()
	if dbtest.Dialect() == dialect.Postgres {
		srv := dbtest.StartServer(t)
		return outage{db: srv.Open(), begin: srv.Stop, end: srv.Start}
	}
	db := dbtest.Open(t)
	return outage{db: db, begin: func() { _ = db.Client.Close() }}
}

// rawPost posts a GraphQL query with a bearer token and returns the
// response with its body read.
func rawPost(t *testing.T, e *env, token, query string) (*http.Response, *gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	return resp, out
}

// TestOutageIsNotABadCredential takes the database away under a running
// server: valid tokens are answered 503 INTERNAL (not 401), WebSockets
// close with 1011 (not 4401), and a running subscription ends with the
// resume error; once the database is back, the same tokens work and the
// subscription resumes from its last cursor.
func TestOutageIsNotABadCredential(t *testing.T) {
	o := newOutage(t)
	// Tokens that must be checked against the database: a remembered
	// session (internal/auth's session cache) needs no database for its
	// first seconds.
	e := newEnvOn(t, o.db, func(_ *Config, a *appOptions) { a.auth.SessionCacheTTL = -1 })
	tn := e.newTenant("Outage Org")
	f := newInboxFixture(t, e, orgOf(t, e, tn), gid.ID(tn.ownerID), channel.ChatPermissionSHARED)
	sub := subscribe(t, e, tn.ownerToken, messageEventsQuery, map[string]any{"after": event.Start.String()})
	addMessage(t, e, f, "before the outage")
	var ev messageEventOut
	sub.next(&ev)
	last := ev.MessageEvents.Cursor

	o.begin()

	for name, token := range map[string]string{"session": tn.ownerToken, "API key": tn.apiKey} {
		resp, r := rawPost(t, e, token, `{ __typename }`)
		if resp.StatusCode != http.StatusServiceUnavailable || r.code() != "INTERNAL" {
			t.Errorf("a valid %s during the outage: %d %+v, want 503 INTERNAL", name, resp.StatusCode, r.Errors)
		}
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("a valid %s during the outage is challenged: %q", name, h)
		}
		if msg := r.Errors[0].Message; strings.Contains(msg, "sql") || strings.Contains(msg, "database") {
			t.Errorf("the 503 tells the client about internals: %q", msg)
		}
	}

	c, _, err := wsDial(t, e, "graphql-transport-ws", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tn.agentToken}})
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInternalServerErr {
		t.Errorf("connection_init with a valid token during the outage ended with %v, want close 1011", err)
	}
	c.Close()

	// The running subscription ends with the resume error on every field
	// it asked for, then completes.
	m := sub.read()
	raw, _ := json.Marshal(m["payload"])
	var p struct{ Errors []gqlError }
	_ = json.Unmarshal(raw, &p)
	if m["type"] != "next" || len(p.Errors) != 3 {
		t.Fatalf("the stream ended with %v, want one resume error for each of its 3 fields", m)
	}
	for _, e := range p.Errors {
		if e.Extensions["code"] != "FAILED_PRECONDITION" || e.Extensions["reason"] != "RESUME_FROM_CURSOR" {
			t.Fatalf("the stream ended with %+v, want FAILED_PRECONDITION / RESUME_FROM_CURSOR", p.Errors)
		}
	}
	if m := sub.read(); m["type"] != "complete" {
		t.Fatalf("after the resume error: %v, want complete", m)
	}
	// A resolver failing on the outage: its ERROR line names the request
	// like every other line.
	if _, r := rawPost(t, e, "", `mutation { login(email: "ai@example.vn", password: "mật khẩu nào đó") { token } }`); r.code() != "INTERNAL" {
		t.Errorf("a login during the outage: %+v, want INTERNAL", r.Errors)
	}
	logs := e.logText()
	if !strings.Contains(logs, `"msg":"authenticating a request failed"`) || !strings.Contains(logs, `"msg":"authenticating a WebSocket failed"`) ||
		!strings.Contains(logs, `"msg":"graphql: unhandled error"`) {
		t.Errorf("the failures are not logged:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if id, _ := m["request_id"].(string); m["level"] == "ERROR" && id == "" {
			t.Errorf("an ERROR line names no request: %s", line)
		}
	}

	if o.end == nil {
		return
	}
	o.end()
	if resp, r := rawPost(t, e, tn.ownerToken, `{ me { id } }`); resp.StatusCode != http.StatusOK || r.code() != "" {
		t.Fatalf("the same token once the database is back: %d %+v", resp.StatusCode, r.Errors)
	}
	resumed := subscribe(t, e, tn.ownerToken, messageEventsQuery, map[string]any{"after": last})
	addMessage(t, e, f, "after the outage")
	resumed.next(&ev)
	if ev.MessageEvents.Message.Text != "after the outage" {
		t.Fatalf("the resumed stream got %q", ev.MessageEvents.Message.Text)
	}
}

// TestUnauthenticatedShape checks that a request without a token that
// needs one and a request with a refused token answer alike: 401, a
// Bearer challenge, and one UNAUTHENTICATED error.
func TestUnauthenticatedShape(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Shape Org")
	for _, tc := range []struct {
		name, token, query string
		status             int
		challenge, code    string
	}{
		{"MissingToken", "", `{ me { id } }`, 401, `Bearer realm="dakenh"`, "UNAUTHENTICATED"},
		{"MissingTokenForData", "", `{ customers { totalCount } }`, 401, `Bearer realm="dakenh"`, "UNAUTHENTICATED"},
		{"WrongToken", "dks_not-a-session", `{ me { id } }`, 401, `Bearer realm="dakenh", error="invalid_token"`, "UNAUTHENTICATED"},
		{"WrongKey", "dkk_not-a-key", `{ __typename }`, 401, `Bearer realm="dakenh", error="invalid_token"`, "UNAUTHENTICATED"},
		{"OKAnonymousPublic", "", `{ __typename }`, 200, "", ""},
		// A refused login is an answer to the login, not a challenge.
		{"FailedLogin", "", `mutation { login(email: "ai@example.vn", password: "sai mật khẩu") { token } }`, 200, "", "UNAUTHENTICATED"},
		{"OKToken", tn.agentToken, `{ me { id } }`, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, r := rawPost(t, e, tc.token, tc.query)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge || r.code() != tc.code {
				t.Fatalf("got %d, WWW-Authenticate %q, %+v; want %d, %q, code %q",
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), r.Errors, tc.status, tc.challenge, tc.code)
			}
		})
	}
}
