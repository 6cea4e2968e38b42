package gqllimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Stop reasons passed to Response.Stopped.
const (
	// StoppedCanceled is an operation whose client went away (its request's
	// context ended) before it finished.
	StoppedCanceled = "canceled"
	// StoppedResponseBytes is an operation whose response grew past
	// MaxBytes.
	StoppedResponseBytes = LimitResponseBytes
)

// Response is a gqlgen handler extension that stops a query or mutation
// once its work is wasted: when its response grows past MaxBytes, and when
// its client goes away.
//
// gqlgen resolves a whole operation into memory before the transport writes
// a byte, so a response's size is only known at the end; Response counts,
// as each field resolves, about the bytes it adds to the JSON (its name and
// its value; strings by their length). Past MaxBytes it cancels the
// operation's context, so resolvers and database queries still running
// end, no further field is resolved, and the operation answers one
// BAD_USER_INPUT error with extensions.limit "responseBytes" and no data,
// instead of holding hundreds of megabytes to send.
//
// Its context descends from the request's, which net/http cancels when the
// client disconnects: then too no further field resolves (each answers the
// cancellation without running its resolver) and what runs sees its
// context done. Subscriptions, whose events are each small and which end
// with their socket, are left alone.
//
// The executor does the per-field part: it asks each field's Budget
// (FieldBudget) whether the operation Stopped before resolving the field,
// and Counts what the field resolved to (graph's resolveField does, for
// every field). As a gqlgen field interceptor the same work cost two
// closures and three calls around each of the thousand fields of an inbox
// page.
type Response struct {
	// MaxBytes bounds the bytes of one operation's response; it must be
	// positive.
	MaxBytes int
	// Stopped, when set, is called once for each operation stopped early,
	// with StoppedCanceled or StoppedResponseBytes: a metric's hook.
	Stopped func(reason string)
}

// Compile-time checks that Response hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension    = Response{}
	_ graphql.ResponseInterceptor = Response{}
)

// ExtensionName returns the name gqlgen shows for this extension.
func (Response) ExtensionName() string { return "ResponseLimit" }

// Validate reports a non-positive MaxBytes.
func (r Response) Validate(graphql.ExecutableSchema) error {
	if r.MaxBytes <= 0 {
		return fmt.Errorf("gqllimit: Response.MaxBytes must be positive, got %d", r.MaxBytes)
	}
	return nil
}

// budgetKey is the context key of an operation's *Budget.
type budgetKey struct{}

// Budget is what one query or mutation has written and how to stop it.
// Root fields resolve concurrently, hence the atomics.
type Budget struct {
	max     int64
	written atomic.Int64
	// ctx is the operation's own context, done once the client left or the
	// budget ran out: each field asks it rather than its own context,
	// whose Err walks every field context above it. (A flag set by
	// context.AfterFunc would be set by another goroutine, later: fields
	// resolving meanwhile would not stop.)
	ctx context.Context
	// stopped is set when a field found the operation done and did not
	// resolve.
	stopped atomic.Bool
	cancel  context.CancelCauseFunc
}

// errTooLarge is the cause of an operation stopped for its size.
var errTooLarge = errors.New("gqllimit: response too large")

// InterceptResponse runs a query or mutation with a budget and a context
// it can cancel, and answers the limit's error when the budget ran out.
func (r Response) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation == ast.Subscription {
		return next(ctx)
	}
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := &Budget{max: int64(r.MaxBytes), ctx: opCtx, cancel: cancel}
	resp := next(context.WithValue(opCtx, budgetKey{}, b))
	switch {
	case errors.Is(context.Cause(opCtx), errTooLarge):
		r.stopped(StoppedResponseBytes)
		return &graphql.Response{Errors: gqlerror.List{LimitError(LimitResponseBytes,
			"the response would exceed %d bytes; ask for fewer items or fields", r.MaxBytes)}}
	case b.stopped.Load():
		r.stopped(StoppedCanceled)
	}
	return resp
}

func (r Response) stopped(reason string) {
	if r.Stopped != nil {
		r.Stopped(reason)
	}
}

// FieldBudget returns the budget of the operation ctx is a field of, or
// nil outside a query or mutation that Response runs.
func FieldBudget(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Stopped returns the error a field answers instead of resolving once its
// operation has stopped (its client left, or its response grew too large),
// and nil until then or with no budget.
func (b *Budget) Stopped(ctx context.Context) error {
	if b == nil || b.ctx.Err() == nil {
		return nil
	}
	b.stopped.Store(true)
	cause := context.Cause(ctx)
	if errors.Is(cause, errTooLarge) {
		// The operation answers the limit's error alone.
		return apierr.OverLimit(LimitResponseBytes, "response too large")
	}
	return cause
}

// Count adds about what a field with this alias, resolved to v, writes to
// the response, and stops the operation past its budget. With no budget it
// does nothing.
func (b *Budget) Count(alias string, v any) {
	if b == nil {
		return
	}
	b.CountBytes(alias, valueBytes(v))
}

// CountBytes is Count for a value whose size the caller estimated (with
// ValueBytes, or as it does for kinds it knows without boxing them).
func (b *Budget) CountBytes(alias string, n int64) {
	if b == nil {
		return
	}
	if b.written.Add(4+int64(len(alias))+n) > b.max { // quotes, colon, comma
		b.cancel(errTooLarge) // at once: the next field stops
	}
}

// ValueBytes is the estimate Count makes of a resolved value.
func ValueBytes(v any) int64 { return valueBytes(v) }

// valueBytes estimates the JSON bytes of a resolved value on its own: a
// scalar's text, or the brackets of an object or a list, whose items are
// counted as fields resolve.
func valueBytes(v any) int64 {
	switch s := v.(type) {
	case nil:
		return 4
	case string:
		return int64(len(s)) + 2
	case *string:
		if s == nil {
			return 4
		}
		return int64(len(*s)) + 2
	case bool, *bool:
		return 5
	case int, int32, int64, float64, *int, *int64, *float64:
		return 8
	case time.Time, *time.Time:
		return 32
	case json.RawMessage:
		return int64(len(s))
	case []byte:
		return int64(len(s))
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return 4
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String: // IDs, enums
		return int64(rv.Len()) + 2
	case reflect.Slice, reflect.Array:
		n := int64(rv.Len()) + 2
		if rv.Type().Elem().Kind() == reflect.String {
			// A list of strings or enums has no fields of its own to
			// count its items.
			for i := range rv.Len() {
				n += int64(rv.Index(i).Len()) + 2
			}
		}
		return n
	case reflect.Map: // a JSON value (the Map scalar)
		if b, err := json.Marshal(v); err == nil {
			return int64(len(b))
		}
	}
	return 2
}
