package graph

import (
	"context"
	"errors"
	"reflect"
	"time"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dakenh/dakenh/internal/gqllimit"
)

// The generated executor resolves every field through resolveField and
// builds every scalar field's context with scalarFieldContext (see
// graph/gqlgen), instead of gqlgen's graphql.ResolveField and
// graphql.NewScalarFieldContext. They do what gqlgen's do, with fewer
// allocations per field: an inbox page resolves about a thousand fields,
// and allocating for them is much of what the page costs.

// resolveField is graphql.ResolveField (gqlgen v0.17) without two of its
// allocations per field: the result is marshaled directly instead of
// through a closure, and the field context keeps the resolver's value as
// it came instead of boxing it again. It also keeps the response's budget
// (gqllimit.Response), which is no field interceptor. Its signature is
// gqlgen's, so that a gqlgen upgrade that changes it fails to compile here.
func resolveField[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	field graphql.CollectedField,
	initializeFieldContext func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error),
	fieldResolver func(ctx context.Context) (any, error),
	middlewareChain func(ctx context.Context, next graphql.Resolver) graphql.Resolver,
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	recoverFromPanic bool,
	nonNull bool,
) (ret graphql.Marshaler) {
	fc, err := initializeFieldContext(ctx, field)
	if err != nil {
		return graphql.Null
	}
	ctx = graphql.WithFieldContext(ctx, fc)
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				ret = graphql.Null
			}
		}()
	}
	next := func(rctx context.Context) (any, error) {
		ctx = rctx // children see the context the middleware passed on
		return fieldResolver(rctx)
	}
	if middlewareChain != nil {
		next = middlewareChain(ctx, next)
	}
	// The response's budget (gqllimit.Response): no field resolves once
	// the operation stopped, and each counts what it adds.
	budget := gqllimit.FieldBudget(ctx)
	if err := budget.Stopped(ctx); err != nil {
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return graphql.Null
	}
	res, err := oc.ResolverMiddleware(ctx, next)
	budget.Count(field.Alias, res)
	if err != nil {
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return graphql.Null
	}
	if res == nil {
		if nonNull && !graphql.HasFieldError(ctx, fc) {
			oc.Errorf(ctx, "must not be null")
		}
		return graphql.Null
	}
	if v, ok := res.(T); ok {
		fc.Result = res
		return marshal(ctx, field.Selections, v)
	}
	if m, ok := res.(graphql.Marshaler); ok {
		fc.Result = res
		return m
	}
	var t T
	oc.Errorf(ctx, `unexpected type %T from middleware/directive chain, should be %T`, res, t)
	return graphql.Null
}

// childFunc is a FieldContext's Child.
type childFunc = func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error)

// noChildFields is the Child of every scalar field of a type: the error
// gqlgen gives for a selection under a scalar, made once per type.
func noChildFields(typ string) childFunc {
	err := errors.New("field of type " + typ + " does not have child fields")
	return func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) { return nil, err }
}

// scalarFieldContext is graphql.NewScalarFieldContext with a Child made
// once per scalar type rather than per field.
func scalarFieldContext(object string, field graphql.CollectedField, isMethod, isResolver bool, child childFunc) (*graphql.FieldContext, error) {
	return &graphql.FieldContext{Object: object, Field: field, IsMethod: isMethod, IsResolver: isResolver, Child: child}, nil
}

// resolvePlainField resolves a scalar field that reads its object's struct
// field (no resolver, no method, no directive; graph/gqlgen picks them):
// most of a page's fields. It does what resolveField does for such a field
// without a field context, a closure or a boxed result per field: the value
// is marshaled in the parent's context, which a scalar's marshaler does
// not read, and the field context is made only for an error. It skips
// field middleware only in an operation marked by WithPlainFields, which
// no extension intercepts fields of; otherwise it is resolveField.
func resolvePlainField[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	field graphql.CollectedField,
	initializeFieldContext func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error),
	value T,
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	recoverFromPanic bool,
	nonNull bool,
) (ret graphql.Marshaler) {
	if ctx.Value(plainFieldsKey{}) == nil {
		return resolveField(ctx, oc, field, initializeFieldContext,
			func(context.Context) (any, error) { return value, nil }, nil, marshal, recoverFromPanic, nonNull)
	}
	fieldCtx := func() context.Context {
		if fc, err := initializeFieldContext(ctx, field); err == nil {
			return graphql.WithFieldContext(ctx, fc)
		}
		return ctx
	}
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				ctx := fieldCtx()
				oc.Error(ctx, oc.Recover(ctx, r))
				ret = graphql.Null
			}
		}()
	}
	budget := gqllimit.FieldBudget(ctx)
	if err := budget.Stopped(ctx); err != nil {
		ctx := fieldCtx()
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return graphql.Null
	}
	if budget != nil {
		budget.CountBytes(field.Alias, plainBytes(value))
	}
	return marshal(ctx, field.Selections, value)
}

// plainBytes is gqllimit.ValueBytes without boxing the value for the kinds
// most fields have (IDs, enums, text, numbers, flags, times).
func plainBytes[T any](v T) int64 {
	t := reflect.TypeFor[T]()
	switch t.Kind() {
	case reflect.String:
		return int64(len(*(*string)(unsafe.Pointer(&v)))) + 2
	case reflect.Bool:
		return 5
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return 8
	}
	if t == timeType {
		return 32
	}
	return gqllimit.ValueBytes(v)
}

var timeType = reflect.TypeFor[time.Time]()

type plainFieldsKey struct{}

// WithPlainFields marks an operation's context: no extension intercepts
// its fields, so its plain fields need not pass through field middleware
// (resolvePlainField).
func WithPlainFields(ctx context.Context) context.Context {
	return context.WithValue(ctx, plainFieldsKey{}, true)
}
