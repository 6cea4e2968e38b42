package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/requestlog"
)

// patience is how long a test waits for what must happen before it
// concludes that it never will. It only stops a broken build from hanging:
// tests wait on conditions, and a loaded machine running the race detector
// may take many seconds for what usually takes milliseconds.
const patience = 2 * time.Minute

// env is one dakenh server on a fresh database, reached over real HTTP.
type env struct {
	t   testing.TB
	app *App
	srv *httptest.Server
	db  *database.DB
	// logw holds everything the server logged, to check no secret leaks.
	logw *lockedWriter
}

type envOption func(*Config, *appOptions)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	db := dbtest.Open(t)
	return newEnvOn(t, db, opts...)
}

func newEnvOn(t testing.TB, db *database.DB, opts ...envOption) *env {
	t.Helper()
	cfg := Config{
		DataDir:       t.TempDir(),
		AllowSignUp:   true,
		Introspection: true,
		CORSOrigins:   []string{"http://localhost:3000"},
		MaxBodyBytes:  1 << 20,
		Secret:        []byte(testSecret),
	}
	o := appOptions{db: db, auth: auth.Options{BcryptCost: bcrypt.MinCost}}
	for _, f := range opts {
		f(&cfg, &o)
	}
	logw := &lockedWriter{w: &bytes.Buffer{}}
	logger := requestlog.NewLogger(logw, slog.LevelDebug)
	app, err := newApp(context.Background(), cfg, logger, func(ao *appOptions) { *ao = o })
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	// Cleanups run last-in first-out: the server closes first, then the
	// workers stop and the event bus closes; the database is dbtest's.
	t.Cleanup(func() {
		app.Stop()
		if err := app.bus.Close(); err != nil {
			t.Errorf("closing the event bus: %v", err)
		}
	})
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			logw.mu.Lock()
			t.Logf("server log:\n%s", logw.w.String())
			logw.mu.Unlock()
		}
	})
	return &env{t: t, app: app, srv: srv, db: o.db, logw: logw}
}

// lockedWriter serializes the server's concurrent log writes.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logText returns what the server has logged so far.
func (e *env) logText() string {
	e.logw.mu.Lock()
	defer e.logw.mu.Unlock()
	return e.logw.w.String()
}

// gqlError is one error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// code is the code of the first error, or "" when there is none.
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// decode unmarshals data into v, failing the test on errors in the response.
func (r *gqlResponse) decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Data, err)
	}
}

// gql posts a GraphQL request with the given bearer token ("" for none).
func (e *env) gql(token, query string, vars map[string]any) *gqlResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) *gqlResponse {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		e.t.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	return out
}

// must runs a request that must succeed and decodes its data into v.
func (e *env) must(token, query string, vars map[string]any, v any) {
	e.t.Helper()
	r := e.gql(token, query, vars)
	r.decode(e.t, v)
}

// tenant is an organization with an OWNER, an ADMIN, an AGENT and an API
// key holding every scope.
type tenant struct {
	ownerToken, adminToken, agentToken, apiKey string
	ownerID, adminID, agentID                  string
}

var tenantSeq atomic.Int64

func (e *env) signUp(org string) (token, userID string) {
	e.t.Helper()
	n := tenantSeq.Add(1)
	var out struct {
		SignUp struct {
			Token string
			User  struct{ ID string }
		}
	}
	e.must("", `mutation($in: SignUpInput!) { signUp(input: $in) { token user { id } } }`, map[string]any{
		"in": map[string]any{"organizationName": org, "name": "Owner " + org, "email": fmt.Sprintf("owner%d@%s.vn", n, strings.ToLower(strings.ReplaceAll(org, " ", ""))), "password": "correct horse"},
	}, &out)
	return out.SignUp.Token, out.SignUp.User.ID
}

func (e *env) createUser(token, role string) (userID, userToken, email string) {
	e.t.Helper()
	email = fmt.Sprintf("%s%d@example.vn", strings.ToLower(role), tenantSeq.Add(1))
	var out struct{ CreateUser struct{ ID string } }
	e.must(token, `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`, map[string]any{
		"in": map[string]any{"name": "User " + role, "email": email, "password": "password " + role, "role": role},
	}, &out)
	var login struct{ Login struct{ Token string } }
	e.must("", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`,
		map[string]any{"e": email, "p": "password " + role}, &login)
	return out.CreateUser.ID, login.Login.Token, email
}

func (e *env) createAPIKey(token string, scopes ...string) string {
	e.t.Helper()
	var out struct{ CreateApiKey struct{ Key string } }
	e.must(token, `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { key } }`,
		map[string]any{"in": map[string]any{"name": "partner", "scopes": scopes}}, &out)
	return out.CreateApiKey.Key
}

func (e *env) newTenant(org string) *tenant {
	e.t.Helper()
	t := &tenant{}
	t.ownerToken, t.ownerID = e.signUp(org)
	t.adminID, t.adminToken, _ = e.createUser(t.ownerToken, "ADMIN")
	t.agentID, t.agentToken, _ = e.createUser(t.ownerToken, "AGENT")
	t.apiKey = e.createAPIKey(t.ownerToken, "READ", "WRITE", "EVENTS")
	return t
}

// createCustomer creates a customer and returns its ID.
func (e *env) createCustomer(token string, in map[string]any) string {
	e.t.Helper()
	var out struct{ CreateCustomer struct{ ID string } }
	e.must(token, `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateCustomer.ID
}
