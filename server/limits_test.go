package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TestAttackQueries sends the small documents that once kept a core busy
// for minutes; each must be refused, before validation, with the limit it
// breaks. The test's patience, not a timer, guards against a hang.
func TestAttackQueries(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Attack Org")
	var chain strings.Builder
	chain.WriteString("query Chain { me { ...F26 } }\nfragment F0 on User { id }\n")
	for i := 1; i <= 26; i++ {
		fmt.Fprintf(&chain, "fragment F%d on User { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 1000 {
		fmt.Fprintf(&aliases, "a%d: __typename ", i)
	}
	aliases.WriteString("}")
	for _, tc := range []struct {
		name, query, limit string
	}{
		{"ChainedFragments", chain.String(), "fields"},
		{"TenThousandRepeatedFields", "{ " + strings.Repeat("me { id } ", 10_000) + "}", "tokens"},
		{"RepeatedFields", "{ " + strings.Repeat("me { id } ", 1500) + "}", "fields"},
		{"Aliases", aliases.String(), "aliases"},
		{"Tokens", "{ " + strings.Repeat("__typename ", 30_000) + "}", "tokens"},
		{"Spreads", "query { me { " + strings.Repeat("...U ", 1000) + "} } fragment U on User { id }", "fragmentSpreads"},
		{"NestedConnections", "{ customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id name } } } } } } } } } } } }", "complexity"},
		{"NestedDefaultPages", "{ customers { edges { node { id tags { customers { edges { node { id name } } } } } } } }", "complexity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.agentToken, tc.query, nil)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["limit"] != tc.limit {
				t.Fatalf("got %d %+v", r.Status, r.Errors)
			}
		})
	}
	t.Run("TheREADMEExample", func(t *testing.T) {
		// README, "Limits": its cost is worked out there.
		r := e.gql(tn.agentToken, "{ customers(first: 100) { edges { node { tags { customers(first: 100) { edges { node { name } } } } } } } }", nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Message != "operation costs 30401, more than the maximum of 10000: a connection's selections count once per item of its page" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("OrdinaryFragmentsPass", func(t *testing.T) {
		q := "query { me { ...A ...B } } fragment A on User { id email } fragment B on User { id role }"
		if r := e.gql(tn.agentToken, q, nil); r.code() != "" {
			t.Fatalf("refused: %+v", r.Errors)
		}
	})
}

// TestMalformedBodiesAreNotLogged posts bodies that do not decode, holding a
// password, an access token and a 200 KB blob, and checks that each is a
// client error naming what is wrong and that none of them reaches the log.
func TestMalformedBodiesAreNotLogged(t *testing.T) {
	e := newEnv(t)
	const password, token = "hunter2-never-logged", "zalo-access-token-never-logged"
	blob := strings.Repeat("b", 200<<10)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"TruncatedLogin", `{"query":"mutation { login(email: \"a@b.vn\", password: \"` + password + `\") { token } }","extensions":`, "body"},
		{"ExtensionsNotObject", `{"query":"mutation { login(email: \"a@b.vn\", password: \"` + password + `\") { token } }","extensions":"` + token + `"}`, "extensions"},
		{"VariablesNotObject", `{"query":"mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }","variables":["` + token + `"]}`, "variables"},
		{"QueryNotString", `{"query":{"blob":"` + blob + `"}}`, "query"},
		{"NotJSON", `query=` + blob, "body"},
		{"BrokenBatch", `[{"query":"mutation { login(email: \"a@b.vn\", password: \"` + password + `\") { token } }"`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader([]byte(tc.body)))
			req.Header.Set("Content-Type", "application/json")
			r := e.send(req)
			if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %d %+v", r.Status, r.Errors)
			}
		})
	}
	t.Run("BatchItemNotObject", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`["`+password+`"]`))
		req.Header.Set("Content-Type", "application/json")
		out := e.sendBatch(req)
		if len(out) != 1 || len(out[0].Errors) != 1 || out[0].code() != "BAD_USER_INPUT" || out[0].Errors[0].Extensions["field"] != "body" {
			t.Fatalf("got %+v", out)
		}
	})
	log := e.logText()
	for name, secret := range map[string]string{"password": password, "token": token, "blob": blob[:1024]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
	if strings.Contains(log, `"level":"ERROR"`) {
		t.Errorf("client mistakes logged at ERROR:\n%s", log)
	}
}

// TestArgumentBounds sends lists and strings past their bounds, in
// variables and in the query, at the top and inside input objects: each is
// refused before any resolver runs, naming where the value is and the limit.
func TestArgumentBounds(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Bounds Org")
	ids := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = fmt.Sprintf("cus_%026d", i)
		}
		return out
	}
	names := make([]string, 101)
	for i := range names {
		names[i] = fmt.Sprintf("%q", fmt.Sprint("n", i))
	}
	for _, tc := range []struct {
		name, query  string
		vars         map[string]any
		field, limit string
	}{
		{"NodesIDs", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids(101)}, "ids", "listLength"},
		{"DeleteIDs", `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": ids(101)}, "ids", "listLength"},
		{"Search", `query($s: String) { customers(search: $s, first: 10) { edges { node { id } } } }`, map[string]any{"s": strings.Repeat("a", 201)}, "search", "stringLength"},
		{"SearchInQuery", `{ conversations(search: "` + strings.Repeat("ă", 201) + `") { totalCount } }`, nil, "search", "stringLength"},
		{"ExportSearch", `query($s: String) { exportCustomers(search: $s) }`, map[string]any{"s": strings.Repeat("a", 201)}, "search", "stringLength"},
		{"NestedList", `{ customers(where: {nameIn: [` + strings.Join(names, ",") + `]}) { totalCount } }`, nil, "where.nameIn", "listLength"},
		{"DefaultString", `query($s: String) { customers(where: {nameContains: $s}) { totalCount } }`, map[string]any{"s": strings.Repeat("a", 10_001)}, "where.nameContains", "stringLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.ownerToken, tc.query, tc.vars)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field || r.Errors[0].Extensions["limit"] != tc.limit || string(r.Data) != "null" {
				t.Fatalf("got %d %s %+v", r.Status, r.Data, r.Errors)
			}
		})
	}
	t.Run("WithinBounds", func(t *testing.T) {
		r := e.gql(tn.ownerToken, `query($ids: [ID!]!, $s: String) { nodes(ids: $ids) { id } customers(search: $s) { totalCount } }`,
			map[string]any{"ids": ids(100), "s": strings.Repeat("a", 200)})
		for _, err := range r.Errors {
			if err.Extensions["code"] != "NOT_FOUND" {
				t.Fatalf("refused: %+v", err)
			}
		}
	})
	t.Run("ImportIsAFile", func(t *testing.T) {
		// The CSV text is bounded by the import's own limits, not the
		// string bound.
		var csv strings.Builder
		csv.WriteString("name\n")
		for i := range 1000 {
			fmt.Fprintf(&csv, "Customer %d\n", i)
		}
		var out struct{ ImportCustomers struct{ Imported int } }
		e.must(tn.ownerToken, `mutation($csv: String!) { importCustomers(csv: $csv) { imported } }`, map[string]any{"csv": csv.String()}, &out)
		if csv.Len() <= maxStringChars || out.ImportCustomers.Imported != 1000 {
			t.Fatalf("imported %d", out.ImportCustomers.Imported)
		}
	})
	if m := e.metricsText(); strings.Contains(m, `dakenh_graphql_errors_total{code="INTERNAL"}`) {
		t.Errorf("bounds counted as INTERNAL:\n%s", m)
	}
}

// TestClientMistakesAreClientErrors sends what clients get wrong and checks
// each answer is coded as the client's mistake, as GraphQL-over-HTTP
// clients expect, and that none is logged at ERROR or counted as INTERNAL.
func TestClientMistakesAreClientErrors(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Mistakes Org")
	cust := e.createCustomer(tn.ownerToken, map[string]any{"name": "Lan"})
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"FirstAndLast", `{ customers(first: 2, last: 2) { totalCount } }`, nil, "last"},
		{"NULInID", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": cust + "\x00"}, "id"},
		{"NULInIDs", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []any{cust, "cus_\x00"}}, "ids[1]"},
		{"NULInSearch", `query($s: String) { customers(search: $s) { totalCount } }`, map[string]any{"s": "Lan\x00"}, "search"},
		{"NULInInput", `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { id } }`, map[string]any{"in": map[string]any{"name": "A\x00B"}}, "input.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.ownerToken, tc.query, tc.vars)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %d %s %+v", r.Status, r.Data, r.Errors)
			}
		})
	}
	post := func(body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tn.ownerToken)
		return req
	}
	t.Run("PersistedQueries", func(t *testing.T) {
		const q = `{ me { email } }`
		sum := sha256.Sum256([]byte(q))
		hash := hex.EncodeToString(sum[:])
		wrong := strings.Repeat("0", 64)
		for _, tc := range []struct {
			name, body, code string
		}{
			{"UnknownHash", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + wrong + `"}}}`, "PERSISTED_QUERY_NOT_FOUND"},
			{"HashMismatch", `{"query":"` + q + `","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + wrong + `"}}}`, "BAD_USER_INPUT"},
			{"Version", `{"query":"` + q + `","extensions":{"persistedQuery":{"version":2,"sha256Hash":"` + hash + `"}}}`, "BAD_USER_INPUT"},
			{"Malformed", `{"query":"` + q + `","extensions":{"persistedQuery":"` + hash + `"}}`, "BAD_USER_INPUT"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(post(tc.body))
				if r.code() != tc.code {
					t.Fatalf("got %d %+v", r.Status, r.Errors)
				}
				if tc.code == "BAD_USER_INPUT" && r.Errors[0].Extensions["field"] != "extensions.persistedQuery" {
					t.Fatalf("got %+v", r.Errors)
				}
			})
		}
	})
	t.Run("Batch", func(t *testing.T) {
		out := e.sendBatch(post(`[
			{"query":"{ me { email } }"},
			{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":"` + cust + `"}},
			{"query":"{ customers(first: 1, last: 1) { totalCount } }"},
			{"query":"{ me {"},
			{"query":"query { a: me { id } }","variables":[1]}
		]`))
		if len(out) != 5 {
			t.Fatalf("%d results, want 5: %+v", len(out), out)
		}
		if out[0].code() != "" || !strings.Contains(string(out[0].Data), "@") {
			t.Errorf("me: %s %+v", out[0].Data, out[0].Errors)
		}
		if out[1].code() != "" || !strings.Contains(string(out[1].Data), cust) {
			t.Errorf("node: %s %+v", out[1].Data, out[1].Errors)
		}
		for i, want := range map[int]string{2: "BAD_USER_INPUT", 3: "GRAPHQL_PARSE_FAILED", 4: "BAD_USER_INPUT"} {
			if out[i].code() != want {
				t.Errorf("operation %d: %+v, want %s", i+1, out[i].Errors, want)
			}
		}
	})
	t.Run("BatchBounds", func(t *testing.T) {
		for _, tc := range []struct {
			name, body, limit string
		}{
			{"Empty", `[]`, ""},
			{"TooMany", "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ me { id } }"},`, 21), ",") + "]", "batch"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(post(tc.body))
				if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["limit"] != nil && r.Errors[0].Extensions["limit"] != tc.limit {
					t.Fatalf("got %d %+v", r.Status, r.Errors)
				}
			})
		}
		if out := e.sendBatch(post("[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ me { id } }"},`, 20), ",") + "]")); len(out) != 20 || out[19].code() != "" {
			t.Fatalf("a batch of 20: %+v", out)
		}
	})
	if log := e.logText(); strings.Contains(log, `"level":"ERROR"`) || strings.Contains(log, `"level":"WARN"`) {
		t.Errorf("client mistakes logged above INFO:\n%s", log)
	}
	if m := e.metricsText(); strings.Contains(m, `dakenh_graphql_errors_total{code="INTERNAL"}`) {
		t.Errorf("client mistakes counted as INTERNAL:\n%s", m)
	}
}

// sendBatch sends a batched request and decodes its array of responses.
func (e *env) sendBatch(req *http.Request) []gqlResponse {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out []gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	for i := range out {
		out[i].Status = resp.StatusCode
	}
	return out
}

// metricsText returns what /metrics serves.
func (e *env) metricsText() string {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// TestResponseBytes asks for more than an operation may answer: the
// operation stops with the limit's one error and no data, and is counted
// as stopped; a smaller page passes.
func TestResponseBytes(t *testing.T) {
	e := newEnv(t, func(_ *Config, o *appOptions) { o.maxResponseBytes = 2000 })
	tn := e.newTenant("Bytes Org")
	for i := range 30 {
		e.createCustomer(tn.ownerToken, map[string]any{"name": fmt.Sprintf("Customer with a long enough name %d", i)})
	}
	r := e.gql(tn.ownerToken, `{ customers(first: 100) { edges { node { id name createdAt } } } }`, nil)
	if len(r.Errors) != 1 || r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["limit"] != "responseBytes" || string(r.Data) != "null" {
		t.Fatalf("got %d %s %+v", r.Status, r.Data, r.Errors)
	}
	if m := e.metricsText(); !strings.Contains(m, `dakenh_graphql_operations_stopped_total{reason="responseBytes"} 1`) {
		t.Errorf("not counted as stopped:\n%s", m)
	}
	var page struct {
		Customers struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.must(tn.ownerToken, `{ customers(first: 5) { edges { node { id } } } }`, nil, &page)
	if len(page.Customers.Edges) != 5 {
		t.Fatalf("page of %d", len(page.Customers.Edges))
	}
}

// holdField is a test extension that holds up the first resolution of one
// field until the field's context ends, and counts the fields that still
// reach it afterwards.
type holdField struct {
	field   string // "Type.field"
	held    chan struct{}
	once    sync.Once
	ended   atomic.Bool // the held field's context ended
	reached atomic.Int64
}

func (*holdField) ExtensionName() string                   { return "HoldField" }
func (*holdField) Validate(graphql.ExecutableSchema) error { return nil }

func (h *holdField) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if h.ended.Load() {
		h.reached.Add(1)
	}
	fc := graphql.GetFieldContext(ctx)
	hold := false
	if fc != nil && fc.Object+"."+fc.Field.Name == h.field {
		h.once.Do(func() { hold = true })
	}
	if hold {
		close(h.held)
		select {
		case <-ctx.Done():
			h.ended.Store(true)
		case <-time.After(patience):
		}
	}
	return next(ctx)
}

// TestClientGoneStopsWork holds a query's field until the client that sent
// it disconnects: the field's context ends with the request, and no field
// after it resolves, the operation being counted as stopped.
func TestClientGoneStopsWork(t *testing.T) {
	hold := &holdField{field: "Customer.name", held: make(chan struct{})}
	e := newEnv(t, func(_ *Config, o *appOptions) { o.extensions = append(o.extensions, hold) })
	tn := e.newTenant("Gone Org")
	// One customer: a list of one resolves its items' fields in order, so
	// phone and email come after name.
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Lan", "phone": "0901234567", "email": "lan@example.com"})
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"query": `{ customers(first: 10) { edges { node { id name phone email } } } }`})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tn.ownerToken)
	done := make(chan error, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-hold.held
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished although its client went away")
	}
	const stopped = `dakenh_graphql_operations_stopped_total{reason="canceled"} 1`
	for deadline := time.Now().Add(patience); !strings.Contains(e.metricsText(), stopped); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the operation was not stopped:\n%s", e.metricsText())
		}
	}
	if !hold.ended.Load() {
		t.Fatal("the held field's context did not end with the request")
	}
	if n := hold.reached.Load(); n != 0 {
		t.Errorf("%d fields resolved after the client went away", n)
	}
	if log := e.logText(); strings.Contains(log, `"level":"ERROR"`) {
		t.Errorf("a client going away logged at ERROR:\n%s", log)
	}
}
