package apierr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Extension keys sent in a GraphQL error's extensions object. They are part
// of the public API contract.
const (
	extCode   = "code"
	extField  = "field"
	extReason = "reason"
	extLimit  = "limit"
)

// Presenter returns a gqlgen error presenter that enforces the API error
// contract: every error leaves the server as a *gqlerror.Error with the
// resolver's path and an extensions.code, and no internal detail is shown.
//
// The error is classified in this order, first match wins:
//
//  1. an *Error anywhere in the chain is presented with its code, message,
//     field and reason;
//  2. each classify function, in order, may map a foreign error (e.g. an ent
//     NotFound or constraint error) to an *Error; nil means "not mine";
//  3. context.Canceled and context.DeadlineExceeded become INTERNAL with a
//     generic message, because a timeout is not the client's fault but its
//     text is not useful to the client either;
//  4. a *gqlerror.Error that already has a code extension is returned as is,
//     because it was produced by gqlgen itself (parse, validation,
//     complexity, persisted-query errors) or by one of our extensions, and
//     its message is meant for the client;
//  5. a failure to decode a field argument (gqlgen reports these with a path
//     that ends in the argument's name, e.g. a malformed custom scalar) is
//     BAD_USER_INPUT with extensions.field set to that argument, because the
//     input, not the server, is at fault;
//  6. anything else is logged at error level and presented as INTERNAL with
//     the message "internal error".
//
// INTERNAL errors from steps 1 and 2 are logged at error level too, since
// they carry a cause that only the logs may see. A nil logger means
// slog.Default().
func Presenter(logger *slog.Logger, classify ...func(error) *Error) graphql.ErrorPresenterFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, err error) *gqlerror.Error {
		if err == nil {
			return nil
		}
		if e, ok := As(err); ok {
			return present(ctx, logger, err, e)
		}
		for _, c := range classify {
			if c == nil {
				continue
			}
			if e := c(err); e != nil {
				// Copy, because a classifier may return a shared value.
				cp := *e
				if cp.Err == nil {
					// Keep the original error as the cause so the log line
					// for an INTERNAL classification still says what failed.
					cp.Err = err
				}
				return present(ctx, logger, err, &cp)
			}
		}
		if errors.Is(err, context.Canceled) {
			// Almost always the client going away; not worth an error log.
			logger.DebugContext(ctx, "graphql: request canceled", logAttrs(ctx, err, err)...)
			return build(ctx, err, &Error{Code: Internal, Message: "request canceled"})
		}
		if errors.Is(err, context.DeadlineExceeded) {
			// A server-side timeout: operators want to see these, but they
			// are expected under load, hence warn rather than error.
			logger.WarnContext(ctx, "graphql: request timed out", logAttrs(ctx, err, err)...)
			return build(ctx, err, &Error{Code: Internal, Message: "request timed out"})
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) {
			if code, ok := gqlErr.Extensions[extCode].(string); ok && code != "" {
				return gqlErr
			}
			if field, fieldPath, ok := argumentField(ctx, gqlErr); ok {
				out := build(ctx, err, &Error{
					Code:    BadUserInput,
					Field:   field,
					Message: fmt.Sprintf("invalid value for %q: %s", field, argumentMessage(gqlErr)),
				})
				// The response path names the field, not the argument,
				// which the field extension already identifies.
				out.Path = fieldPath
				return out
			}
		}
		logger.ErrorContext(ctx, "graphql: unhandled error", logAttrs(ctx, err, err)...)
		return build(ctx, err, &Error{Code: Internal, Message: internalMessage})
	}
}

// present logs e when it is INTERNAL (its cause is otherwise lost) and builds
// the client-facing error.
func present(ctx context.Context, logger *slog.Logger, err error, e *Error) *gqlerror.Error {
	switch {
	case e.Code == Internal && isPanic(e):
		// Recover has already logged the panic with its stack.
	case e.Code == Internal:
		logger.ErrorContext(ctx, "graphql: internal error", logAttrs(ctx, e, err)...)
	case e.Err != nil:
		// Expected outcome (not found, bad input, ...) but the cause may
		// still help when debugging a client's report.
		logger.DebugContext(ctx, "graphql: request error", logAttrs(ctx, e, err)...)
	}
	return build(ctx, err, e)
}

// build turns e into the wire error. The path and locations come from the
// *gqlerror.Error that gqlgen wraps resolver errors in (graphql.ErrorOnPath,
// graphql.AddFieldLocationToError), falling back to the context's field, so
// the client can tell which field failed.
func build(ctx context.Context, err error, e *Error) *gqlerror.Error {
	out := e.GraphQL()
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		out.Path = gqlErr.Path
		out.Locations = gqlErr.Locations
	}
	if out.Path == nil {
		out.Path = graphql.GetPath(ctx)
	}
	if out.Locations == nil {
		// gqlgen adds the field's location to resolver errors but not to
		// recovered panics or argument errors; the spec wants one on all.
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil {
			if pos := fc.Field.Position; pos != nil && pos.Line > 0 {
				out.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
			}
		}
	}
	return out
}

// GraphQL returns e as a client sees it, without a path or locations: the
// one construction of the wire error, used by Presenter for field errors and
// by the transport and limit extensions for errors of a whole request (a
// malformed body, a document over a limit) that no field owns.
func (e *Error) GraphQL() *gqlerror.Error {
	out := &gqlerror.Error{
		Err:        e,
		Message:    e.message(),
		Extensions: map[string]any{extCode: string(e.Code)},
	}
	if e.Code == Internal {
		// Never show a custom message on an INTERNAL error that might have
		// been built from an internal string, except the generic ones this
		// package itself chose.
		out.Message = internalOrGeneric(e.Message)
	}
	if e.Field != "" {
		out.Extensions[extField] = e.Field
	}
	if e.Reason != "" {
		out.Extensions[extReason] = e.Reason
	}
	if e.Limit != "" {
		out.Extensions[extLimit] = e.Limit
	}
	return out
}

// internalOrGeneric keeps the few generic INTERNAL messages this package
// produces and replaces everything else with "internal error". Resolvers can
// therefore write apierr.Wrap(apierr.Internal, err, "saving deal failed")
// for the logs without that text reaching the client.
func internalOrGeneric(msg string) string {
	switch msg {
	case "request canceled", "request timed out":
		return msg
	default:
		return internalMessage
	}
}

// argumentField reports whether gqlErr is gqlgen's report of a field
// argument that failed to decode, and if so returns the argument's path
// relative to the field (as ast.Path prints it, e.g. "input.emails[2]") and
// the field's own path. gqlgen produces these in the generated field-context
// code with the field's context and a path that extends the field's path by
// the argument name; resolver errors never have that shape.
func argumentField(ctx context.Context, gqlErr *gqlerror.Error) (string, ast.Path, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return "", nil, false
	}
	fieldPath := fc.Path()
	if len(gqlErr.Path) <= len(fieldPath) {
		return "", nil, false
	}
	for i, el := range fieldPath {
		if gqlErr.Path[i] != el {
			return "", nil, false
		}
	}
	rest := gqlErr.Path[len(fieldPath):]
	name, ok := rest[0].(ast.PathName)
	if !ok || fc.Field.Definition.Arguments.ForName(string(name)) == nil {
		return "", nil, false
	}
	return rest.String(), fieldPath, true
}

// argumentMessage returns the decoder's own message, which describes the
// input (e.g. "time should be RFC3339Nano formatted string"), without the
// path prefix that gqlerror.Error.Error would add.
func argumentMessage(gqlErr *gqlerror.Error) string {
	if gqlErr.Message != "" {
		return gqlErr.Message
	}
	if gqlErr.Err != nil {
		return gqlErr.Err.Error()
	}
	return "invalid value"
}

// logAttrs returns the attributes every log line of this package carries, so
// that a log entry can be matched to the failing field and operation. logged
// is the error to log; the path is taken from src, the error as gqlgen
// handed it over, which carries the path gqlgen attached.
func logAttrs(ctx context.Context, logged, src error) []any {
	attrs := []any{slog.Any("error", logged)}
	if p := pathOf(ctx, src); p != nil {
		attrs = append(attrs, slog.String("path", p.String()))
	}
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx); op.OperationName != "" {
			attrs = append(attrs, slog.String("operation", op.OperationName))
		}
	}
	return attrs
}

// pathOf returns the GraphQL path of err, preferring the one gqlgen attached.
func pathOf(ctx context.Context, err error) ast.Path {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Path != nil {
		return gqlErr.Path
	}
	return graphql.GetPath(ctx)
}

// panicError is the cause of the *Error that Recover returns. It is a
// distinct type so Presenter can tell that the panic was already logged,
// with its stack, and not log it a second time.
type panicError struct {
	value any
}

// Error describes the panic value for logs.
func (p *panicError) Error() string {
	return fmt.Sprintf("panic: %v", p.value)
}

// Unwrap exposes a panic value that is itself an error, so errors.Is works
// on it (e.g. a panic(context.Canceled) still looks like cancellation in
// logs and metrics).
func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// isPanic reports whether e was produced by Recover.
func isPanic(e *Error) bool {
	var p *panicError
	return errors.As(e.Err, &p)
}

// Recover returns a gqlgen recover function that logs the panic value and
// the goroutine's stack at error level and turns the panic into an INTERNAL
// *Error, so that a panicking resolver yields a normal GraphQL error for its
// field instead of a dropped connection. A nil logger means slog.Default().
func Recover(logger *slog.Logger) graphql.RecoverFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, v any) error {
		cause := &panicError{value: v}
		attrs := logAttrs(ctx, cause, cause)
		attrs = append(attrs,
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())),
		)
		logger.ErrorContext(ctx, "graphql: panic", attrs...)
		return &Error{Code: Internal, Message: internalMessage, Err: cause}
	}
}
