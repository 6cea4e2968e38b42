package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// testSchema is a hand-written graphql.ExecutableSchema, standing in for
// generated code so the extension is exercised by the real gqlgen executor
// and transports.
type testSchema struct {
	schema *ast.Schema
}

func newTestSchema() *testSchema {
	return &testSchema{schema: gqlparser.MustLoadSchema(&ast.Source{Input: `
		type Query { hello: String! fail: String }
		type Mutation { bump: String! }
		type Subscription { tick: String! broken: String! }
	`})}
}

func (s *testSchema) Schema() *ast.Schema { return s.schema }

func (s *testSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (s *testSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx).Operation
	field := op.SelectionSet[0].(*ast.Field).Name

	if op.Operation == ast.Subscription {
		if field == "broken" {
			// Like a subscription resolver refusing to start: the error
			// is raised during Exec, which gqlgen returns without running
			// response interceptors.
			graphql.AddError(ctx, &gqlerror.Error{Message: "login required", Extensions: map[string]any{"code": "UNAUTHENTICATED"}})
			return nil
		}
		events := 2
		return func(ctx context.Context) *graphql.Response {
			if events == 0 {
				return nil
			}
			events--
			return &graphql.Response{Data: json.RawMessage(`{"tick":"t"}`)}
		}
	}

	done := false
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		if field == "fail" {
			graphql.AddError(ctx, &gqlerror.Error{Message: "no such thing", Extensions: map[string]any{"code": "NOT_FOUND"}})
			graphql.AddError(ctx, &gqlerror.Error{Message: "uncoded"})
			return &graphql.Response{Data: json.RawMessage(`{"fail":null}`)}
		}
		return &graphql.Response{Data: json.RawMessage(fmt.Sprintf(`{%q:"ok"}`, field))}
	}
}

// newGraphQLServer returns an instrumented gqlgen server like the real one.
func newGraphQLServer(m *Metrics) http.Handler {
	srv := handler.New(newTestSchema())
	srv.AddTransport(transport.Websocket{})
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(transport.POST{})
	srv.Use(m.GraphQL())
	return m.Instrument("graphql", srv)
}

type opKey struct{ typ, name string }

func TestGraphQLExtension(t *testing.T) {
	longName := "Q" + strings.Repeat("a", 64) // valid GraphQL, 65 characters
	tests := []struct {
		name          string
		query         string
		operationName string
		sse           bool
		repeat        int
		wantOps       map[opKey]float64
		wantDurations map[opKey]uint64
		wantErrors    map[string]float64
	}{
		{
			name:          "named query",
			query:         `query GetHello { hello }`,
			repeat:        3,
			wantOps:       map[opKey]float64{{"query", "GetHello"}: 3},
			wantDurations: map[opKey]uint64{{"query", "GetHello"}: 3},
		},
		{
			name:          "anonymous query",
			query:         `{ hello }`,
			wantOps:       map[opKey]float64{{"query", "anonymous"}: 1},
			wantDurations: map[opKey]uint64{{"query", "anonymous"}: 1},
		},
		{
			name:          "selected operation of several",
			query:         `query A { hello } mutation B { bump }`,
			operationName: "B",
			wantOps:       map[opKey]float64{{"mutation", "B"}: 1},
			wantDurations: map[opKey]uint64{{"mutation", "B"}: 1},
		},
		{
			name:          "over-long name",
			query:         `query ` + longName + ` { hello }`,
			wantOps:       map[opKey]float64{{"query", "other"}: 1},
			wantDurations: map[opKey]uint64{{"query", "other"}: 1},
		},
		{
			name:          "resolver errors by code",
			query:         `query Fail { fail }`,
			wantOps:       map[opKey]float64{{"query", "Fail"}: 1},
			wantDurations: map[opKey]uint64{{"query", "Fail"}: 1},
			wantErrors:    map[string]float64{"NOT_FOUND": 1, "unknown": 1},
		},
		{
			name:       "parse failure is an error, not an operation",
			query:      `query {`,
			wantErrors: map[string]float64{"GRAPHQL_PARSE_FAILED": 1},
		},
		{
			name:       "validation failure",
			query:      `query Nope { nope }`,
			wantErrors: map[string]float64{"GRAPHQL_VALIDATION_FAILED": 1},
		},
		{
			name:          "unknown operation name",
			query:         `query A { hello }`,
			operationName: "Missing",
			wantErrors:    map[string]float64{"GRAPHQL_VALIDATION_FAILED": 1},
		},
		{
			name:    "subscription counts its start, not its events",
			query:   `subscription Ticks { tick }`,
			sse:     true,
			wantOps: map[opKey]float64{{"subscription", "Ticks"}: 1},
		},
		{
			name:       "subscription failing to start",
			query:      `subscription Broken { broken }`,
			sse:        true,
			wantOps:    map[opKey]float64{{"subscription", "Broken"}: 1},
			wantErrors: map[string]float64{"UNAUTHENTICATED": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			srv := httptest.NewServer(newGraphQLServer(m))
			defer srv.Close()

			body, err := json.Marshal(map[string]any{"query": tt.query, "operationName": tt.operationName})
			if err != nil {
				t.Fatal(err)
			}
			for range max(tt.repeat, 1) {
				req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(string(body)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				if tt.sse {
					req.Header.Set("Accept", "text/event-stream")
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}

			families := scrape(t, m)
			assertSeries(t, families, "dakenh_graphql_operations_total", tt.wantOps, func(k opKey) map[string]string {
				return map[string]string{"operation_type": k.typ, "operation_name": k.name}
			}, counterValue)
			assertSeries(t, families, "dakenh_graphql_operation_duration_seconds", tt.wantDurations, func(k opKey) map[string]string {
				return map[string]string{"operation_type": k.typ, "operation_name": k.name}
			}, histogramCount)
			assertSeries(t, families, "dakenh_graphql_errors_total", tt.wantErrors, func(code string) map[string]string {
				return map[string]string{"code": code}
			}, counterValue)
		})
	}
}

// assertSeries checks that family name has exactly the series in want, with
// the wanted values.
func assertSeries[K comparable, V comparable](
	t *testing.T,
	families map[string]*dto.MetricFamily,
	name string,
	want map[K]V,
	labels func(K) map[string]string,
	value func(map[string]*dto.MetricFamily, string, map[string]string) V,
) {
	t.Helper()
	if n := seriesCount(families, name); n != len(want) {
		t.Errorf("%s has %d series, want %d: %v", name, n, len(want), families[name])
	}
	for k, v := range want {
		if got := value(families, name, labels(k)); got != v {
			t.Errorf("%s%v = %v, want %v", name, labels(k), got, v)
		}
	}
}

// TestGraphQLWebSocket runs a subscription over a real WebSocket through
// Instrument, proving the upgrade survives the wrapper and is recorded as
// 101.
func TestGraphQLWebSocket(t *testing.T) {
	m := New()
	instrumented := newGraphQLServer(m)
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instrumented.ServeHTTP(w, r)
		close(served)
	}))
	defer srv.Close()

	dialer := websocket.Dialer{Subprotocols: []string{"graphql-ws"}, HandshakeTimeout: time.Minute}
	conn, resp, err := dialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = resp.Body.Close()
	// Guards against a hang, not timings: a loaded machine may be slow.
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))

	type message struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	send := func(msg message) {
		t.Helper()
		if err := conn.WriteJSON(msg); err != nil {
			t.Fatalf("write %s: %v", msg.Type, err)
		}
	}
	send(message{Type: "connection_init"})
	send(message{ID: "1", Type: "start", Payload: json.RawMessage(`{"query":"subscription Ticks { tick }"}`)})

	var data int
	for done := false; !done; {
		var msg message
		if err := conn.ReadJSON(&msg); err != nil {
			t.Fatalf("read: %v", err)
		}
		switch msg.Type {
		case "data":
			data++
		case "complete":
			done = true
		case "error", "connection_error":
			t.Fatalf("server sent %s: %s", msg.Type, msg.Payload)
		}
	}
	if data != 2 {
		t.Errorf("got %d data messages, want 2", data)
	}
	send(message{Type: "connection_terminate"})
	_ = conn.Close()

	select {
	case <-served:
	case <-time.After(time.Minute):
		t.Fatal("WebSocket handler did not return")
	}
	families := scrape(t, m)
	if got := counterValue(families, "dakenh_http_requests_total", map[string]string{"route": "graphql", "method": "GET", "code": "101"}); got != 1 {
		t.Errorf("upgrade requests with code 101 = %v, want 1", got)
	}
	if got := counterValue(families, "dakenh_graphql_operations_total", map[string]string{"operation_type": "subscription", "operation_name": "Ticks"}); got != 1 {
		t.Errorf("subscription starts = %v, want 1", got)
	}
	if n := seriesCount(families, "dakenh_graphql_operation_duration_seconds"); n != 0 {
		t.Errorf("subscriptions produced %d duration series, want 0", n)
	}
}

// intercept runs one operation through the extension's interceptors with a
// constructed OperationContext, without a transport.
func intercept(ext graphql.HandlerExtension, opType ast.Operation, name string, resp *graphql.Response) {
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation: &ast.OperationDefinition{Operation: opType, Name: name},
	})
	handler := ext.(graphql.OperationInterceptor).InterceptOperation(ctx, func(context.Context) graphql.ResponseHandler {
		return graphql.OneShot(resp)
	})
	for handler(ctx) != nil {
	}
}

func TestGraphQLOperationNameCap(t *testing.T) {
	m := New()
	ext := m.GraphQL()
	const distinct = maxOperationNames + 50
	for i := range distinct {
		intercept(ext, ast.Query, fmt.Sprintf("Op%d", i), &graphql.Response{})
	}
	// Names admitted before the cap keep their own series afterwards, and
	// a second extension shares the budget.
	intercept(m.GraphQL(), ast.Query, "Op0", &graphql.Response{})
	intercept(m.GraphQL(), ast.Query, "", &graphql.Response{})

	families := scrape(t, m)
	counts := map[string]float64{}
	for _, metric := range families["dakenh_graphql_operations_total"].GetMetric() {
		for _, lp := range metric.GetLabel() {
			if lp.GetName() == "operation_name" {
				counts[lp.GetValue()] += metric.GetCounter().GetValue()
			}
		}
	}
	if got, want := len(counts), maxOperationNames+2; got != want {
		t.Errorf("%d distinct operation_name values, want %d (cap + other + anonymous)", got, want)
	}
	tests := []struct {
		name string
		want float64
	}{
		{"Op0", 2},
		{fmt.Sprintf("Op%d", maxOperationNames-1), 1},
		{fmt.Sprintf("Op%d", maxOperationNames), 0},
		{"other", distinct - maxOperationNames},
		{"anonymous", 1},
	}
	for _, tt := range tests {
		if got := counts[tt.name]; got != tt.want {
			t.Errorf("operations named %q = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestGraphQLDeferObservedOnce(t *testing.T) {
	m := New()
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation: &ast.OperationDefinition{Operation: ast.Query, Name: "Deferred"},
	})
	more, last := true, false
	responses := []*graphql.Response{{HasNext: &more}, {HasNext: &more}, {HasNext: &last}, nil}
	h := m.GraphQL().(graphql.OperationInterceptor).InterceptOperation(ctx, func(context.Context) graphql.ResponseHandler {
		return func(context.Context) *graphql.Response {
			r := responses[0]
			responses = responses[1:]
			return r
		}
	})
	for h(ctx) != nil {
	}
	labels := map[string]string{"operation_type": "query", "operation_name": "Deferred"}
	if got := histogramCount(scrape(t, m), "dakenh_graphql_operation_duration_seconds", labels); got != 1 {
		t.Errorf("duration observations = %d, want 1", got)
	}
}

func TestLabelLimiter(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"GetContacts", "GetContacts"},
		{"_private", "_private"},
		{"a1_B2", "a1_B2"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), "other"},
		{"", "other"},
		{"1abc", "other"},
		{"get-contacts", "other"},
		{"héllo", "other"},
		{"a b", "other"},
		{"a\nb", "other"},
		{`x"}`, "other"},
	}
	l := newLabelLimiter(10)
	for _, tt := range tests {
		if got := l.value(tt.in); got != tt.want {
			t.Errorf("value(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCountErrors(t *testing.T) {
	tests := []struct {
		name string
		err  *gqlerror.Error
		want string
	}{
		{"coded", &gqlerror.Error{Extensions: map[string]any{"code": "FORBIDDEN"}}, "FORBIDDEN"},
		{"no extensions", &gqlerror.Error{}, "unknown"},
		{"no code", &gqlerror.Error{Extensions: map[string]any{"field": "x"}}, "unknown"},
		{"non-string code", &gqlerror.Error{Extensions: map[string]any{"code": 42}}, "other"},
		{"unsafe code", &gqlerror.Error{Extensions: map[string]any{"code": "upstream said: <html>"}}, "other"},
		{"nil error", nil, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.countErrors(gqlerror.List{tt.err})
			families := scrape(t, m)
			if got := counterValue(families, "dakenh_graphql_errors_total", map[string]string{"code": tt.want}); got != 1 {
				t.Errorf("errors{code=%q} = %v, want 1", tt.want, got)
			}
		})
	}
}
