package apierr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// secret stands for anything that must never reach a client: SQL, DSNs,
// driver messages. Every internal error in these tests contains it.
const secret = "s3cr3t-dsn"

// logRecorder captures slog output as JSON records. It is safe for the
// concurrent writes gqlgen's field execution can produce.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *logRecorder) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *logRecorder) records(t *testing.T) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.buf.Bytes()))
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decoding log: %v", err)
		}
		out = append(out, rec)
	}
}

// fieldPos is where the failing field sits in the (imaginary) query; the
// presenter must keep the location gqlgen attached.
var fieldPos = &ast.Position{Line: 3, Column: 5}

// wantPath is the path of the failing field: deals[0].owner, i.e. a field of
// a list element, so both name and index elements are exercised.
var wantPath = ast.Path{ast.PathName("deals"), ast.PathIndex(0), ast.PathName("owner")}

// resolveOwner runs one field through gqlgen's own field execution
// (graphql.ResolveField, as generated code does) under deals[0], so that
// the error reaches the presenter exactly as in production: wrapped by
// graphql.ErrorOnPath and AddFieldLocationToError, or produced by the
// recover function. nonNull makes the field non-nullable. rawLimit, when non-nil, is decoded as the field's Int
// argument "limit" the way generated code decodes arguments.
func resolveOwner(
	t *testing.T,
	presenter graphql.ErrorPresenterFunc,
	recoverFn graphql.RecoverFunc,
	rawLimit any,
	nonNull bool,
	resolver func(ctx context.Context) (any, error),
) gqlerror.List {
	t.Helper()
	opCtx := &graphql.OperationContext{
		OperationName: "ListDeals",
		RecoverFunc:   recoverFn,
		ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) {
			return next(ctx)
		},
	}
	ctx := graphql.WithOperationContext(context.Background(), opCtx)
	ctx = graphql.WithResponseContext(ctx, presenter, recoverFn)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{
		Object: "Query",
		Field:  graphql.CollectedField{Field: &ast.Field{Name: "deals", Alias: "deals"}},
	})
	idx := 0
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &idx})

	def := &ast.FieldDefinition{
		Name:      "owner",
		Arguments: ast.ArgumentDefinitionList{{Name: "limit", Type: ast.NamedType("Int", nil)}},
		Type:      ast.NamedType("String", nil),
	}
	field := graphql.CollectedField{Field: &ast.Field{
		Name: "owner", Alias: "owner", Definition: def, Position: fieldPos,
	}}
	initFC := func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
		fc := &graphql.FieldContext{Object: "Deal", Field: field, IsResolver: true}
		ctx = graphql.WithFieldContext(ctx, fc)
		if rawLimit == nil {
			return fc, nil
		}
		// Mirrors the generated field_Deal_owner_args / fieldContext code.
		limit, err := graphql.ProcessArgField(ctx, map[string]any{"limit": rawLimit}, "limit",
			func(ctx context.Context, v any) (int, error) {
				n, err := graphql.UnmarshalInt(v)
				return n, graphql.ErrorOnPath(ctx, err)
			})
		if err != nil {
			opCtx.Error(ctx, err)
			return fc, err
		}
		fc.Args = map[string]any{"limit": limit}
		return fc, nil
	}
	marshal := func(ctx context.Context, _ ast.SelectionSet, v string) graphql.Marshaler {
		return graphql.MarshalString(v)
	}
	graphql.ResolveField(ctx, opCtx, field, initFC, resolver, nil, marshal, true, nonNull)
	return graphql.GetErrors(ctx)
}

func TestPresenter(t *testing.T) {
	errEntNotFound := errors.New("ent: deal not found")
	errEntConstraint := errors.New("ent: constraint failed: " + secret)
	errEntBroken := errors.New("ent: driver bad connection " + secret)
	classifyEnt := func(err error) *apierr.Error {
		switch {
		case errors.Is(err, errEntNotFound):
			return apierr.New(apierr.NotFound, "not found")
		case errors.Is(err, errEntConstraint):
			return apierr.Wrap(apierr.Conflict, err, "already exists")
		case errors.Is(err, errEntBroken):
			return apierr.Wrap(apierr.Internal, err, "database unavailable: "+secret)
		}
		return nil
	}
	neverMatches := func(error) *apierr.Error { return nil }

	tests := []struct {
		name       string
		resolver   func(ctx context.Context) (any, error) // nil means the field returns "ok"
		rawLimit   any
		nonNull    bool
		classify   []func(error) *apierr.Error
		wantCode   string
		wantMsg    string
		wantExt    map[string]any // extensions other than code
		wantLog    string         // level of the one expected log record, "" for none
		wantLogMsg string
		wantLogErr string // text the logged error must contain; secret if empty
	}{
		{
			name:     "apierr NotFound",
			resolver: fails(apierr.New(apierr.NotFound, "deal not found")),
			wantCode: "NOT_FOUND", wantMsg: "deal not found",
		},
		{
			name:     "apierr BadInput carries field",
			resolver: fails(apierr.BadInput("input.email", "invalid email")),
			wantCode: "BAD_USER_INPUT", wantMsg: "invalid email",
			wantExt: map[string]any{"field": "input.email"},
		},
		{
			name:     "apierr Precondition carries reason",
			resolver: fails(apierr.Precondition("DEAL_CLOSED", "deal is closed")),
			wantCode: "FAILED_PRECONDITION", wantMsg: "deal is closed",
			wantExt: map[string]any{"reason": "DEAL_CLOSED"},
		},
		{
			name:     "apierr wrapped by fmt still wins, cause hidden, logged at debug",
			resolver: fails(fmt.Errorf("update deal: %w", apierr.Wrap(apierr.Conflict, errors.New(secret), "version mismatch"))),
			wantCode: "CONFLICT", wantMsg: "version mismatch",
			wantLog: "DEBUG", wantLogMsg: "graphql: request error",
		},
		{
			name:     "apierr wins over classify",
			resolver: fails(apierr.Wrap(apierr.Forbidden, errEntNotFound, "not your deal")),
			classify: []func(error) *apierr.Error{classifyEnt},
			wantCode: "FORBIDDEN", wantMsg: "not your deal",
			wantLog: "DEBUG", wantLogMsg: "graphql: request error",
		},
		{
			name:     "apierr with empty message gets the code's default",
			resolver: fails(apierr.Wrap(apierr.RateLimited, nil, "")),
			wantCode: "RATE_LIMITED", wantMsg: "rate limited",
		},
		{
			name:     "apierr Internal never shows its message and is logged",
			resolver: fails(apierr.Wrap(apierr.Internal, errors.New("dial tcp: "+secret), "saving deal failed: "+secret)),
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: internal error",
		},
		{
			name:     "classify maps a foreign error",
			resolver: fails(fmt.Errorf("query: %w", errEntNotFound)),
			classify: []func(error) *apierr.Error{neverMatches, classifyEnt},
			wantCode: "NOT_FOUND", wantMsg: "not found",
			wantLog: "DEBUG", wantLogMsg: "graphql: request error",
		},
		{
			name:     "classify result hides the cause",
			resolver: fails(errEntConstraint),
			classify: []func(error) *apierr.Error{classifyEnt},
			wantCode: "CONFLICT", wantMsg: "already exists",
			wantLog: "DEBUG", wantLogMsg: "graphql: request error",
		},
		{
			name:     "classify to Internal is logged and hidden",
			resolver: fails(errEntBroken),
			classify: []func(error) *apierr.Error{classifyEnt},
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: internal error",
		},
		{
			name:     "classify that does not match falls through",
			resolver: fails(errors.New("sql: " + secret)),
			classify: []func(error) *apierr.Error{neverMatches, nil},
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: unhandled error",
		},
		{
			name:     "context canceled",
			resolver: fails(fmt.Errorf("query deals %s: %w", secret, context.Canceled)),
			wantCode: "INTERNAL", wantMsg: "request canceled",
			wantLog: "DEBUG", wantLogMsg: "graphql: request canceled",
		},
		{
			name:     "context deadline exceeded",
			resolver: fails(fmt.Errorf("query deals %s: %w", secret, context.DeadlineExceeded)),
			wantCode: "INTERNAL", wantMsg: "request timed out",
			wantLog: "WARN", wantLogMsg: "graphql: request timed out",
		},
		{
			name: "gqlerror with a code is kept",
			resolver: fails(&gqlerror.Error{
				Message:    "operation has complexity 300, which exceeds the limit of 200",
				Extensions: map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED", "hint": "split it"},
			}),
			wantCode: "COMPLEXITY_LIMIT_EXCEEDED", wantMsg: "operation has complexity 300, which exceeds the limit of 200",
			wantExt: map[string]any{"hint": "split it"},
		},
		{
			name:     "gqlerror without a code is internal",
			resolver: fails(gqlerror.Errorf("pq: %s", secret)),
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: unhandled error",
		},
		{
			name:     "plain error is internal, logged, hidden",
			resolver: fails(errors.New("pq: password authentication failed " + secret)),
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: unhandled error",
		},
		{
			name:     "nullable field returning null is no error",
			resolver: func(context.Context) (any, error) { return nil, nil },
			wantCode: "",
		},
		{
			name:     "non-null field returning null is internal",
			resolver: func(context.Context) (any, error) { return nil, nil },
			nonNull:  true,
			wantCode: "INTERNAL", wantMsg: "internal error",
			wantLog: "ERROR", wantLogMsg: "graphql: unhandled error", wantLogErr: "must not be null",
		},
		{
			name:     "argument that fails to decode is bad input",
			rawLimit: "ten",
			wantCode: "BAD_USER_INPUT", wantMsg: `invalid value for "limit": strconv.ParseInt: parsing "ten": invalid syntax`,
			wantExt: map[string]any{"field": "limit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logRecorder
			logger := logs.logger()
			resolver := tt.resolver
			if resolver == nil {
				resolver = func(context.Context) (any, error) { return "ok", nil }
			}
			errs := resolveOwner(t, apierr.Presenter(logger, tt.classify...), apierr.Recover(logger), tt.rawLimit, tt.nonNull, resolver)

			if tt.wantCode == "" {
				if len(errs) != 0 {
					t.Fatalf("got errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			assertPresented(t, errs[0], tt.wantCode, tt.wantMsg, tt.wantExt)
			wantLogErr := tt.wantLogErr
			if wantLogErr == "" {
				wantLogErr = secret
			}
			assertLogged(t, logs.records(t), tt.wantLog, tt.wantLogMsg, wantLogErr)
		})
	}
}

// fails returns a resolver that fails with err.
func fails(err error) func(context.Context) (any, error) {
	return func(context.Context) (any, error) { return nil, err }
}

// assertPresented checks the wire form of a presented error: code, message,
// extra extensions, the field's path and location, and that nothing secret
// is in it.
func assertPresented(t *testing.T, got *gqlerror.Error, code, msg string, ext map[string]any) {
	t.Helper()
	wantExt := map[string]any{"code": code}
	for k, v := range ext {
		wantExt[k] = v
	}
	if got.Message != msg {
		t.Errorf("message = %q, want %q", got.Message, msg)
	}
	if !reflect.DeepEqual(got.Extensions, wantExt) {
		t.Errorf("extensions = %v, want %v", got.Extensions, wantExt)
	}
	if !reflect.DeepEqual(got.Path, wantPath) {
		t.Errorf("path = %v, want %v", got.Path, wantPath)
	}
	wantLoc := []gqlerror.Location{{Line: fieldPos.Line, Column: fieldPos.Column}}
	if !reflect.DeepEqual(got.Locations, wantLoc) {
		t.Errorf("locations = %v, want %v", got.Locations, wantLoc)
	}
	wire, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(wire), secret) {
		t.Errorf("presented error leaks internals: %s", wire)
	}
}

// assertLogged checks that exactly the expected record was logged (or none),
// at the expected level, with the failing path, and for error-level records
// with the internal cause the client did not get.
func assertLogged(t *testing.T, recs []map[string]any, level, msg, cause string) {
	t.Helper()
	if level == "" {
		if len(recs) != 0 {
			t.Errorf("got log records %v, want none", recs)
		}
		return
	}
	if len(recs) != 1 {
		t.Fatalf("got %d log records %v, want 1", len(recs), recs)
	}
	rec := recs[0]
	if rec["level"] != level || rec["msg"] != msg {
		t.Errorf("log = %v %q, want %v %q", rec["level"], rec["msg"], level, msg)
	}
	if rec["path"] != wantPath.String() {
		t.Errorf("log path = %v, want %q", rec["path"], wantPath.String())
	}
	if rec["operation"] != "ListDeals" {
		t.Errorf("log operation = %v, want ListDeals", rec["operation"])
	}
	if level == "ERROR" && !strings.Contains(fmt.Sprint(rec["error"]), cause) {
		t.Errorf("log error = %v, want it to contain %q", rec["error"], cause)
	}
}

func TestPresenterPanic(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{name: "string", value: "nil map write " + secret},
		{name: "error", value: fmt.Errorf("index out of range %s", secret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logRecorder
			logger := logs.logger()
			errs := resolveOwner(t, apierr.Presenter(logger), apierr.Recover(logger), nil, false,
				func(context.Context) (any, error) { panic(tt.value) })
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			assertPresented(t, errs[0], "INTERNAL", "internal error", nil)

			// Recover logs once, with the stack; Presenter must not log it again.
			recs := logs.records(t)
			if len(recs) != 1 {
				t.Fatalf("got %d log records %v, want 1", len(recs), recs)
			}
			rec := recs[0]
			if rec["level"] != "ERROR" || rec["msg"] != "graphql: panic" {
				t.Errorf("log = %v %q, want ERROR %q", rec["level"], rec["msg"], "graphql: panic")
			}
			if !strings.Contains(fmt.Sprint(rec["panic"]), secret) {
				t.Errorf("log panic = %v, want the panic value", rec["panic"])
			}
			if !strings.Contains(fmt.Sprint(rec["stack"]), "TestPresenterPanic") {
				t.Errorf("log stack does not show the panicking goroutine: %v", rec["stack"])
			}
			if rec["path"] != wantPath.String() {
				t.Errorf("log path = %v, want %q", rec["path"], wantPath.String())
			}
		})
	}
}

func TestPresenterOutsideFieldExecution(t *testing.T) {
	// gqlgen calls the presenter without a field or response context for
	// request-level errors (DispatchError) and for panics its HTTP handler
	// recovers (PresentRecoveredError); the presenter must cope with both.
	var logs logRecorder
	logger := logs.logger()
	present := apierr.Presenter(logger)
	ctx := context.Background()

	if got := present(ctx, nil); got != nil {
		t.Errorf("present(nil) = %v, want nil", got)
	}

	validation := &gqlerror.Error{
		Message:    `Cannot query field "nope" on type "Query".`,
		Locations:  []gqlerror.Location{{Line: 1, Column: 3}},
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
	}
	if got := present(ctx, validation); got != validation {
		t.Errorf("validation error = %v, want it unchanged", got)
	}

	got := present(ctx, apierr.Recover(logger)(ctx, "boom "+secret))
	if got == nil || got.Message != "internal error" || got.Extensions["code"] != "INTERNAL" || got.Path != nil {
		t.Errorf("recovered panic = %#v, want INTERNAL without path", got)
	}
	if len(logs.records(t)) != 1 {
		t.Errorf("got %d log records, want 1 (the panic)", len(logs.records(t)))
	}
}

func TestPresenterUsesContextPathForUnwrappedErrors(t *testing.T) {
	// A direct call (not via graphql.AddError) has no gqlerror wrapper; the
	// path must then come from the context.
	ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{
		Field: graphql.CollectedField{Field: &ast.Field{Name: "deal", Alias: "myDeal"}},
	})
	got := apierr.Presenter(slog.New(slog.DiscardHandler))(ctx, apierr.New(apierr.NotFound, "gone"))
	if want := (ast.Path{ast.PathName("myDeal")}); !reflect.DeepEqual(got.Path, want) {
		t.Errorf("path = %v, want %v", got.Path, want)
	}
}

func TestClassifierResultIsNotMutated(t *testing.T) {
	// A classifier may return a shared value; the presenter must not write
	// the cause into it (that would race across requests).
	shared := &apierr.Error{Code: apierr.NotFound, Message: "not found"}
	present := apierr.Presenter(slog.New(slog.DiscardHandler), func(error) *apierr.Error { return shared })
	if got := present(context.Background(), errors.New("x")); got.Extensions["code"] != "NOT_FOUND" {
		t.Fatalf("code = %v, want NOT_FOUND", got.Extensions["code"])
	}
	if shared.Err != nil {
		t.Errorf("shared classifier result was mutated: Err = %v", shared.Err)
	}
}
