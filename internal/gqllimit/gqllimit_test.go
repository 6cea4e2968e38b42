package gqllimit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gqllimit"
)

// testSDL is a miniature of the CRM schema: Relay connections with
// first/last, a self-referencing type to build deep queries, a list field
// with a non-null first, and fields that fail or panic.
const testSDL = `
type Query {
  viewer: User
  users(first: Int, last: Int): UserConnection
  top(first: Int!): [User!]
  nodes(ids: [ID!]!): [User]
  boom: String
  fail: String
}
type User {
  name: String!
  manager: User
  friends(first: Int, last: Int): UserConnection
}
type UserConnection {
  totalCount: Int!
  edges: [UserEdge!]!
}
type UserEdge {
  node: User!
}
`

// secret stands for internal detail that must never reach a client.
const secret = "s3cr3t-dsn"

// resolverFunc resolves one field given its parent object and decoded args.
type resolverFunc func(ctx context.Context, parent any, args map[string]any) (any, error)

// testSchema is a hand-written graphql.ExecutableSchema standing in for
// gqlgen's generated code, which this repository does not have yet. It
// executes fields through graphql.ResolveField and decodes arguments through
// graphql.ProcessArgField, as generated code does, so extensions, the
// presenter and the recover function see what they will see in production.
type testSchema struct {
	schema    *ast.Schema
	resolvers map[string]resolverFunc

	mu    sync.Mutex
	calls map[string]int
}

func newTestSchema() *testSchema {
	user := func(name string, manager any) map[string]any {
		return map[string]any{"name": name, "manager": manager}
	}
	alice := user("alice", user("bob", user("carol", nil)))
	conn := func(_ context.Context, _ any, args map[string]any) (any, error) {
		n := 2
		if first, ok := args["first"].(*int); ok && first != nil {
			n = min(*first, 3)
		}
		edges := make([]any, n)
		for i := range edges {
			edges[i] = map[string]any{"node": alice}
		}
		return map[string]any{"totalCount": n, "edges": edges}, nil
	}
	return &testSchema{
		schema: gqlparser.MustLoadSchema(&ast.Source{Name: "test.graphql", Input: testSDL}),
		calls:  map[string]int{},
		resolvers: map[string]resolverFunc{
			"Query.viewer": func(context.Context, any, map[string]any) (any, error) { return alice, nil },
			"Query.users":  conn,
			"User.friends": conn,
			"Query.top": func(_ context.Context, _ any, args map[string]any) (any, error) {
				return []any{alice}, nil
			},
			"Query.boom": func(context.Context, any, map[string]any) (any, error) {
				var m map[string]int
				m["x"]++ // a genuine runtime panic: assignment to entry in nil map
				return "unreachable", nil
			},
			"Query.fail": func(context.Context, any, map[string]any) (any, error) {
				return nil, fmt.Errorf("pq: connection to %s refused", secret)
			},
		},
	}
}

// called returns how many times the resolver of typ.field ran.
func (s *testSchema) called(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

func (s *testSchema) executable() graphql.ExecutableSchema {
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return s.schema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) {
			return 0, false
		},
		ExecFunc: func(context.Context) graphql.ResponseHandler {
			ran := false
			return func(ctx context.Context) *graphql.Response {
				if ran {
					return nil
				}
				ran = true
				opCtx := graphql.GetOperationContext(ctx)
				if opCtx.Operation.Operation != ast.Query {
					return graphql.ErrorResponse(ctx, "only queries are supported")
				}
				var buf bytes.Buffer
				s.object(ctx, opCtx, opCtx.Operation.SelectionSet, s.schema.Query, nil).MarshalGQL(&buf)
				return &graphql.Response{Data: buf.Bytes()}
			}
		},
	}
}

// object executes sel against an object of type def, returning null when a
// non-null field is null, as the GraphQL spec's null propagation requires.
func (s *testSchema) object(
	ctx context.Context, opCtx *graphql.OperationContext, sel ast.SelectionSet, def *ast.Definition, parent any,
) graphql.Marshaler {
	fields := graphql.CollectFields(opCtx, sel, []string{def.Name})
	out := graphql.NewFieldSet(fields)
	for i, f := range fields {
		if f.Name == "__typename" {
			out.Values[i] = graphql.MarshalString(def.Name)
			continue
		}
		out.Values[i] = s.field(ctx, opCtx, def, f, parent)
		if out.Values[i] == graphql.Null && def.Fields.ForName(f.Name).Type.NonNull {
			return graphql.Null
		}
	}
	return out
}

func (s *testSchema) field(
	ctx context.Context, opCtx *graphql.OperationContext, def *ast.Definition, f graphql.CollectedField, parent any,
) graphql.Marshaler {
	fdef := def.Fields.ForName(f.Name)
	key := def.Name + "." + f.Name
	initFC := func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
		_, isResolver := s.resolvers[key]
		fc := &graphql.FieldContext{Object: def.Name, Field: field, IsResolver: isResolver}
		ctx = graphql.WithFieldContext(ctx, fc)
		args, err := decodeArgs(ctx, fdef, field.ArgumentMap(opCtx.Variables))
		if err != nil {
			opCtx.Error(ctx, err)
			return fc, err
		}
		fc.Args = args
		return fc, nil
	}
	resolve := func(ctx context.Context) (any, error) {
		s.mu.Lock()
		s.calls[key]++
		s.mu.Unlock()
		if r, ok := s.resolvers[key]; ok {
			return r(ctx, parent, graphql.GetFieldContext(ctx).Args)
		}
		obj, _ := parent.(map[string]any)
		return obj[f.Name], nil
	}
	marshal := func(ctx context.Context, sel ast.SelectionSet, v any) graphql.Marshaler {
		return s.value(ctx, opCtx, fdef.Type, sel, v)
	}
	return graphql.ResolveField(ctx, opCtx, f, initFC, resolve, nil, marshal, true, fdef.Type.NonNull)
}

func (s *testSchema) value(
	ctx context.Context, opCtx *graphql.OperationContext, typ *ast.Type, sel ast.SelectionSet, v any,
) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	if typ.Elem != nil {
		items := v.([]any)
		out := make(graphql.Array, len(items))
		for i, item := range items {
			ctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: item})
			out[i] = s.value(ctx, opCtx, typ.Elem, sel, item)
			if out[i] == graphql.Null && typ.Elem.NonNull {
				return graphql.Null
			}
		}
		return out
	}
	if def := s.schema.Types[typ.NamedType]; def.Kind == ast.Object {
		return s.object(ctx, opCtx, sel, def, v)
	}
	return graphql.MarshalAny(v)
}

// decodeArgs decodes Int and String arguments the way gqlgen's generated
// code does: nullable Int to *int, Int! to int.
func decodeArgs(ctx context.Context, fdef *ast.FieldDefinition, raw map[string]any) (map[string]any, error) {
	args := map[string]any{}
	for _, a := range fdef.Arguments {
		var v any
		var err error
		switch {
		case a.Type.NamedType == "Int" && a.Type.NonNull:
			v, err = graphql.ProcessArgField(ctx, raw, a.Name, func(ctx context.Context, v any) (int, error) {
				n, err := graphql.UnmarshalInt(v)
				return n, graphql.ErrorOnPath(ctx, err)
			})
		case a.Type.NamedType == "Int":
			v, err = graphql.ProcessArgField(ctx, raw, a.Name, func(ctx context.Context, v any) (*int, error) {
				if v == nil {
					return nil, nil
				}
				n, err := graphql.UnmarshalInt(v)
				return &n, graphql.ErrorOnPath(ctx, err)
			})
		default:
			v, err = graphql.ProcessArgField(ctx, raw, a.Name, func(ctx context.Context, v any) (any, error) {
				return v, nil
			})
		}
		if err != nil {
			return nil, err
		}
		args[a.Name] = v
	}
	return args, nil
}

// newHandler wires a real gqlgen server the way production should: POST
// transport, apierr presenter and recover function, then the extensions.
func newHandler(t *testing.T, es graphql.ExecutableSchema, exts ...graphql.HandlerExtension) http.Handler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(apierr.Presenter(logger))
	srv.SetRecoverFunc(apierr.Recover(logger))
	for _, ext := range exts {
		srv.Use(ext)
	}
	return srv
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// post sends one GraphQL request and decodes the response.
func post(t *testing.T, h http.Handler, query, operationName string, vars map[string]any) (int, gqlResponse, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "operationName": operationName, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var resp gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decoding response %q: %v", rec.Body.String(), err)
	}
	return rec.Code, resp, rec.Body.String()
}

func TestDepthThroughHandler(t *testing.T) {
	const deepUsers = `{ users(first: 1) { edges { node { manager { name } } } } }` // depth 5
	const twoOps = `
		query Shallow { viewer { name } }
		query Deep { viewer { manager { manager { manager { name } } } } }`
	tests := []struct {
		name    string
		query   string
		op      string
		wantErr string // "" means the query must execute
	}{
		{name: "flat", query: `{ viewer { name } }`},
		{name: "typename only", query: `{ __typename }`},
		{name: "exactly at the limit", query: `{ users(first: 1) { edges { node { name } } } }`},
		{name: "one over the limit", query: deepUsers, wantErr: "query depth 5 exceeds the maximum of 4"},
		{
			name: "fragment spread counts its fields",
			query: `query { users(first: 1) { ...Edges } }
				fragment Edges on UserConnection { edges { node { manager { name } } } }`,
			wantErr: "query depth 5 exceeds the maximum of 4",
		},
		{
			name: "nested fragment spreads",
			query: `query { viewer { ...A } }
				fragment A on User { manager { ...B } }
				fragment B on User { manager { manager { name } } }`,
			wantErr: "query depth 5 exceeds the maximum of 4",
		},
		{
			name: "fragment reused at different depths is measured at its deepest use",
			query: `query { viewer { name ...M } users(first: 1) { edges { node { ...M } } } }
				fragment M on User { manager { name } }`,
			wantErr: "query depth 5 exceeds the maximum of 4",
		},
		{
			name:    "inline fragment counts its fields",
			query:   `{ viewer { ... on User { manager { manager { manager { name } } } } } }`,
			wantErr: "query depth 5 exceeds the maximum of 4",
		},
		{
			name:    "introspection counts like other fields",
			query:   `{ __schema { types { fields { type { name } } } } }`,
			wantErr: "query depth 5 exceeds the maximum of 4",
		},
		{name: "only the selected operation is measured", query: twoOps, op: "Shallow"},
		{name: "the selected deep operation is rejected", query: twoOps, op: "Deep", wantErr: "query depth 5 exceeds the maximum of 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSchema()
			h := newHandler(t, ts.executable(), gqllimit.Depth{Max: 4})
			status, resp, raw := post(t, h, tt.query, tt.op, nil)
			if tt.wantErr == "" {
				if status != http.StatusOK || len(resp.Errors) != 0 || resp.Data == nil {
					t.Fatalf("status %d, response %s; want data and no errors", status, raw)
				}
				return
			}
			if len(resp.Errors) != 1 {
				t.Fatalf("response %s; want one error", raw)
			}
			e := resp.Errors[0]
			if e.Message != tt.wantErr || e.Extensions["code"] != "BAD_USER_INPUT" {
				t.Errorf("error = %q %v, want %q BAD_USER_INPUT", e.Message, e.Extensions, tt.wantErr)
			}
			if resp.Data != nil {
				t.Errorf("data = %v, want none: the operation must not run", resp.Data)
			}
			for _, key := range []string{"Query.viewer", "Query.users"} {
				if n := ts.called(key); n != 0 {
					t.Errorf("resolver %s ran %d times, want 0", key, n)
				}
			}
		})
	}
}

func TestPageSizeThroughHandler(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		wantField string // "" means no error
		wantMsg   string
		wantPath  []any
		resolver  string // the resolver that must (not) run
	}{
		{name: "at the limit", query: `{ users(first: 100) { totalCount } }`, resolver: "Query.users"},
		{name: "zero", query: `{ users(first: 0) { totalCount } }`, resolver: "Query.users"},
		{name: "absent", query: `{ users { totalCount } }`, resolver: "Query.users"},
		{name: "explicit null", query: `{ users(first: null) { totalCount } }`, resolver: "Query.users"},
		{name: "last at the limit", query: `{ users(last: 100) { totalCount } }`, resolver: "Query.users"},
		{
			name: "first over the limit", query: `{ users(first: 101) { totalCount } }`,
			wantField: "first", wantMsg: "first must not exceed 100, got 101", wantPath: []any{"users"}, resolver: "Query.users",
		},
		{
			name: "last over the limit", query: `{ users(last: 1000) { totalCount } }`,
			wantField: "last", wantMsg: "last must not exceed 100, got 1000", wantPath: []any{"users"}, resolver: "Query.users",
		},
		{
			name: "negative first", query: `{ users(first: -1) { totalCount } }`,
			wantField: "first", wantMsg: "first must not be negative, got -1", wantPath: []any{"users"}, resolver: "Query.users",
		},
		{
			name: "via a variable", query: `query($n: Int) { users(first: $n) { totalCount } }`, vars: map[string]any{"n": 500},
			wantField: "first", wantMsg: "first must not exceed 100, got 500", wantPath: []any{"users"}, resolver: "Query.users",
		},
		{
			name: "nested connection", query: `{ viewer { friends(first: 101) { totalCount } } }`,
			wantField: "first", wantMsg: "first must not exceed 100, got 101", wantPath: []any{"viewer", "friends"}, resolver: "User.friends",
		},
		{
			name: "non-null int argument", query: `{ top(first: 101) { name } }`,
			wantField: "first", wantMsg: "first must not exceed 100, got 101", wantPath: []any{"top"}, resolver: "Query.top",
		},
		{name: "non-null int argument within the limit", query: `{ top(first: 5) { name } }`, resolver: "Query.top"},
		{
			name: "first and last together", query: `{ users(first: 2, last: 2) { totalCount } }`,
			wantField: "last", wantMsg: "first and last cannot be given together: page forward with first and after, or backward with last and before", wantPath: []any{"users"}, resolver: "Query.users",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSchema()
			h := newHandler(t, ts.executable(), gqllimit.PageSize{Max: 100})
			status, resp, raw := post(t, h, tt.query, "", tt.vars)
			if status != http.StatusOK {
				t.Fatalf("status %d, response %s", status, raw)
			}
			if tt.wantField == "" {
				if len(resp.Errors) != 0 {
					t.Fatalf("response %s; want no errors", raw)
				}
				if ts.called(tt.resolver) != 1 {
					t.Errorf("resolver %s ran %d times, want 1", tt.resolver, ts.called(tt.resolver))
				}
				return
			}
			if len(resp.Errors) != 1 {
				t.Fatalf("response %s; want one error", raw)
			}
			e := resp.Errors[0]
			wantExt := map[string]any{"code": "BAD_USER_INPUT", "field": tt.wantField}
			if strings.Contains(tt.wantMsg, "must not exceed") {
				wantExt["limit"] = "pageSize"
			}
			if e.Message != tt.wantMsg || !reflect.DeepEqual(e.Extensions, wantExt) {
				t.Errorf("error = %q %v, want %q %v", e.Message, e.Extensions, tt.wantMsg, wantExt)
			}
			if !reflect.DeepEqual(e.Path, tt.wantPath) {
				t.Errorf("path = %v, want %v", e.Path, tt.wantPath)
			}
			if n := ts.called(tt.resolver); n != 0 {
				t.Errorf("resolver %s ran %d times, want 0", tt.resolver, n)
			}
		})
	}
}

func TestPageSizeIgnoresOtherArguments(t *testing.T) {
	// Arguments that are not integers, or are named differently, are the
	// resolver's business; the interceptor must pass them through.
	tests := []struct {
		name string
		args map[string]any
	}{
		{name: "no args", args: nil},
		{name: "other int args", args: map[string]any{"limit": 1000, "offset": -5}},
		{name: "first is a string", args: map[string]any{"first": "1000"}},
		{name: "first is a nil pointer", args: map[string]any{"first": (*int)(nil)}},
		{name: "sized first within the limit", args: map[string]any{"first": int32(10)}},
		{name: "sized last within the limit", args: map[string]any{"last": ptr(int64(10))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Args: tt.args})
			called := false
			_, err := gqllimit.InterceptField(gqllimit.PageSize{Max: 100}, ctx, func(context.Context) (any, error) {
				called = true
				return "ok", nil
			})
			if err != nil || !called {
				t.Errorf("err = %v, called = %v; want nil, true", err, called)
			}
		})
	}
}

func TestPageSizeSizedInts(t *testing.T) {
	// Models may bind Int to int32 or int64; those must be limited too.
	tests := []struct {
		name  string
		value any
	}{
		{name: "int32", value: int32(101)},
		{name: "int64", value: int64(101)},
		{name: "*int32", value: ptr(int32(101))},
		{name: "*int64", value: ptr(int64(101))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Args: map[string]any{"last": tt.value}})
			_, err := gqllimit.InterceptField(gqllimit.PageSize{Max: 100}, ctx, func(context.Context) (any, error) {
				t.Fatal("resolver ran")
				return nil, nil
			})
			e, ok := apierr.As(err)
			if !ok || e.Code != apierr.BadUserInput || e.Field != "last" {
				t.Errorf("err = %v, want BAD_USER_INPUT on last", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		ext     graphql.HandlerExtension
		wantErr bool
	}{
		{name: "Depth positive", ext: gqllimit.Depth{Max: 1}},
		{name: "Depth zero", ext: gqllimit.Depth{}, wantErr: true},
		{name: "Depth negative", ext: gqllimit.Depth{Max: -1}, wantErr: true},
		{name: "PageSize positive", ext: gqllimit.PageSize{Max: 100}},
		{name: "PageSize zero", ext: gqllimit.PageSize{}, wantErr: true},
		{name: "PageSize negative", ext: &gqllimit.PageSize{Max: -3}, wantErr: true},
		{name: "Complexity", ext: &gqllimit.Complexity{Max: 10, DefaultPage: 10}},
		{name: "Complexity without a default page", ext: &gqllimit.Complexity{Max: 10}, wantErr: true},
		{name: "Arguments", ext: &gqllimit.Arguments{MaxList: 1, MaxString: 1, Lists: map[string]int{"Query.nodes(ids:)": 5}, Strings: map[string]int{"User.name": 3}}},
		{name: "Arguments zero", ext: &gqllimit.Arguments{MaxList: 1}, wantErr: true},
		{name: "Arguments bound of an unknown argument", ext: &gqllimit.Arguments{MaxList: 1, MaxString: 1, Lists: map[string]int{"Query.nodes(names:)": 5}}, wantErr: true},
		{name: "Arguments bound of an unknown field", ext: &gqllimit.Arguments{MaxList: 1, MaxString: 1, Strings: map[string]int{"User.nick": 5}}, wantErr: true},
		{name: "Response", ext: gqllimit.Response{MaxBytes: 1}},
		{name: "Response zero", ext: gqllimit.Response{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := newTestSchema().executable()
			if err := tt.ext.Validate(es); (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tt.wantErr)
			}
			// gqlgen refuses, by panicking, to Use an extension that fails
			// validation; that is what makes a bad limit fail at start-up.
			defer func() {
				if r := recover(); (r != nil) != tt.wantErr {
					t.Errorf("Use panic = %v, want panic %v", r, tt.wantErr)
				}
			}()
			handler.New(es).Use(tt.ext)
		})
	}
}

func TestWiring(t *testing.T) {
	// The full production wiring: presenter, recover function and both
	// limits together, checked for the contract's cross-cutting promises.
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantCode   string
		wantMsg    string
		wantPath   []any
		wantData   map[string]any
	}{
		{
			name: "a panicking resolver is an INTERNAL error on its field", query: `{ boom viewer { name } }`,
			wantStatus: http.StatusOK, wantCode: "INTERNAL", wantMsg: "internal error", wantPath: []any{"boom"},
			wantData: map[string]any{"boom": nil, "viewer": map[string]any{"name": "alice"}},
		},
		{
			name: "a plain resolver error is INTERNAL and does not leak", query: `{ fail }`,
			wantStatus: http.StatusOK, wantCode: "INTERNAL", wantMsg: "internal error", wantPath: []any{"fail"},
			wantData: map[string]any{"fail": nil},
		},
		{
			name: "gqlgen's validation errors keep their code", query: `{ nope }`,
			wantStatus: http.StatusUnprocessableEntity, wantCode: "GRAPHQL_VALIDATION_FAILED",
			wantMsg: `Cannot query field "nope" on type "Query".`, // plus a suggestion
		},
		{
			name: "page size errors reach the client through the presenter", query: `{ users(first: 101) { totalCount } viewer { name } }`,
			wantStatus: http.StatusOK, wantCode: "BAD_USER_INPUT", wantMsg: "first must not exceed 100, got 101", wantPath: []any{"users"},
			wantData: map[string]any{"users": nil, "viewer": map[string]any{"name": "alice"}},
		},
		{
			name: "depth errors reach the client through the presenter", query: `{ viewer { manager { manager { manager { manager { manager { manager { manager { manager { manager { name } } } } } } } } } } }`,
			wantStatus: http.StatusOK, wantCode: "BAD_USER_INPUT", wantMsg: "query depth 11 exceeds the maximum of 10",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, newTestSchema().executable(), gqllimit.Depth{Max: 10}, gqllimit.PageSize{Max: 100})
			status, resp, raw := post(t, h, tt.query, "", nil)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if strings.Contains(raw, secret) || strings.Contains(raw, "nil map") {
				t.Errorf("response leaks internals: %s", raw)
			}
			if len(resp.Errors) != 1 {
				t.Fatalf("response %s; want one error", raw)
			}
			e := resp.Errors[0]
			if e.Extensions["code"] != tt.wantCode || !strings.HasPrefix(e.Message, tt.wantMsg) {
				t.Errorf("error = %q %v, want %q %s", e.Message, e.Extensions, tt.wantMsg, tt.wantCode)
			}
			if !reflect.DeepEqual(e.Path, tt.wantPath) {
				t.Errorf("path = %v, want %v", e.Path, tt.wantPath)
			}
			if !reflect.DeepEqual(resp.Data, tt.wantData) {
				t.Errorf("data = %v, want %v", resp.Data, tt.wantData)
			}
		})
	}
}

func TestWiringPanicOutsideResolvers(t *testing.T) {
	// A panic outside field execution (here in the executable schema itself)
	// is caught by gqlgen's handler and must still come out as a JSON INTERNAL
	// error through the presenter, not as a dropped connection.
	ts := newTestSchema()
	es := ts.executable().(*graphql.ExecutableSchemaMock)
	es.ExecFunc = func(context.Context) graphql.ResponseHandler {
		panic("executor exploded: " + secret)
	}
	status, resp, raw := post(t, newHandler(t, es), `{ viewer { name } }`, "", nil)
	if status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", status)
	}
	if strings.Contains(raw, secret) {
		t.Errorf("response leaks internals: %s", raw)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Message != "internal error" || resp.Errors[0].Extensions["code"] != "INTERNAL" {
		t.Errorf("response %s; want one INTERNAL error", raw)
	}
}
