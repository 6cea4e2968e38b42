package gqllimit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// PageSize is a gqlgen handler extension that rejects, before its resolver
// runs, any field whose "first" or "last" argument is negative or greater
// than Max, or that is given both (Relay pagination goes one way at a
// time). Every Relay connection in the API takes these arguments, so one
// extension bounds them all without each resolver repeating the check.
//
// It reads the operation once, when gqlgen has parsed and validated it and
// knows its variables, and finds the fields that need it: those with a page
// size out of range (which then answer BAD_USER_INPUT at their own path, the
// rest of the operation going on) and those that get the Default. Only an
// operation with such fields has its field resolution wrapped, and the
// wrapper acts on those fields alone; a field interceptor would wrap every
// field of every operation, a cost an inbox page of a thousand fields paid
// for nothing.
type PageSize struct {
	// Max is the greatest allowed page size; it must be positive.
	Max int
	// Default, when positive, is the page size of a connection queried with
	// neither first nor last: without it the whole table would come back.
	Default int
}

// Compile-time checks that PageSize hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension        = PageSize{}
	_ graphql.OperationContextMutator = PageSize{}
)

// pageArgs are the Relay pagination arguments that bound a page's size.
var pageArgs = [...]string{"first", "last"}

// ExtensionName returns the name gqlgen shows for this extension in stats
// and logs.
func (PageSize) ExtensionName() string {
	return "PageSizeLimit"
}

// Validate reports a non-positive Max, which would reject every paginated
// field; gqlgen calls it when the extension is added, so a misconfiguration
// fails at start-up.
func (p PageSize) Validate(graphql.ExecutableSchema) error {
	if p.Max <= 0 {
		return fmt.Errorf("gqllimit: PageSize.Max must be positive, got %d", p.Max)
	}
	return nil
}

// MutateOperationContext finds the operation's fields whose page size is out
// of range or defaulted and, if there are any, has them checked when they
// resolve. It never fails the whole operation.
func (p PageSize) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx == nil || opCtx.Operation == nil {
		return nil
	}
	w := pageWalker{p: p, vars: opCtx.Variables, fragments: map[string]*ast.FragmentDefinition{}, seen: map[string]bool{}}
	if opCtx.Doc != nil {
		for _, f := range opCtx.Doc.Fragments {
			w.fragments[f.Name] = f
		}
	}
	w.selectionSet(opCtx.Operation.SelectionSet)
	if len(w.fields) == 0 {
		return nil
	}
	next := opCtx.ResolverMiddleware
	opCtx.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc != nil && w.fields[fc.Field.Field] {
			return p.interceptField(ctx, func(ctx context.Context) (any, error) { return next(ctx, resolve) })
		}
		return next(ctx, resolve)
	}
	return nil
}

// pageWalker collects the fields of an operation that PageSize acts on.
type pageWalker struct {
	p         PageSize
	vars      map[string]any
	fragments map[string]*ast.FragmentDefinition
	seen      map[string]bool // fragments already walked
	fields    map[*ast.Field]bool
}

func (w *pageWalker) selectionSet(set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if w.acts(s) {
				if w.fields == nil {
					w.fields = map[*ast.Field]bool{}
				}
				w.fields[s] = true
			}
			w.selectionSet(s.SelectionSet)
		case *ast.InlineFragment:
			w.selectionSet(s.SelectionSet)
		case *ast.FragmentSpread:
			if def := w.fragments[s.Name]; def != nil && !w.seen[s.Name] {
				w.seen[s.Name] = true
				w.selectionSet(def.SelectionSet)
			}
		}
	}
}

// acts reports whether f takes a page size that is out of range, or
// neither page size while it takes both and a Default is set.
func (w *pageWalker) acts(f *ast.Field) bool {
	if f.Definition == nil {
		return false
	}
	takes, given := 0, 0
	for _, name := range pageArgs {
		if f.Definition.Arguments.ForName(name) == nil {
			continue
		}
		takes++
		arg := f.Arguments.ForName(name)
		if arg == nil || arg.Value == nil {
			continue
		}
		v, err := arg.Value.Value(w.vars)
		if err != nil {
			return true // let the field's own decoding report it
		}
		n, ok := intArg(v)
		if !ok {
			continue
		}
		given++
		if n < 0 || n > int64(w.p.Max) {
			return true
		}
	}
	if given == len(pageArgs) {
		return true // both: refused
	}
	return w.p.Default > 0 && takes == len(pageArgs) && given == 0
}

// interceptField checks a field's decoded "first" and "last" arguments and
// returns an apierr BAD_USER_INPUT error naming the offending argument
// instead of calling next when one is out of range. Arguments that are
// absent, null or not integers are left to the resolver.
func (p PageSize) interceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && len(fc.Args) > 0 {
		p.applyDefault(fc)
		if _, first := intArg(fc.Args["first"]); first {
			if _, last := intArg(fc.Args["last"]); last {
				return nil, apierr.BadInput("last", "first and last cannot be given together: page forward with first and after, or backward with last and before")
			}
		}
		for _, name := range pageArgs {
			n, ok := intArg(fc.Args[name])
			if !ok {
				continue
			}
			if n < 0 {
				return nil, apierr.BadInput(name, "%s must not be negative, got %d", name, n)
			}
			if n > int64(p.Max) {
				e := apierr.BadInput(name, "%s must not exceed %d, got %d", name, p.Max, n)
				e.Limit = LimitPageSize
				return nil, e
			}
		}
	}
	return next(ctx)
}

// applyDefault sets first to Default on a field that takes both first and
// last when the query gave neither. The resolver reads fc.Args after the
// interceptors run, so this is what it sees.
func (p PageSize) applyDefault(fc *graphql.FieldContext) {
	if p.Default <= 0 || fc.Field.Field == nil || fc.Field.Definition == nil {
		return
	}
	for _, name := range pageArgs {
		if fc.Field.Definition.Arguments.ForName(name) == nil {
			return
		}
		if _, given := intArg(fc.Args[name]); given {
			return
		}
	}
	n := p.Default
	fc.Args["first"] = &n
}

// intArg returns v as an int64 if it is one of the integer types gqlgen
// decodes an Int argument into (int by default, *int when nullable, and the
// sized variants when a model binds Int to them) or a value of the
// operation's AST or variables (int64, json.Number, float64).
func intArg(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case *int:
		if n != nil {
			return int64(*n), true
		}
	case *int32:
		if n != nil {
			return int64(*n), true
		}
	case *int64:
		if n != nil {
			return *n, true
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}
