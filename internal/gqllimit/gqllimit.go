// Package gqllimit contains gqlgen handler extensions that bound the cost a
// single GraphQL request can impose: how deeply a query may nest and how many
// items a connection may return per page. They complement, not replace,
// gqlgen's complexity limit: depth catches pathological nesting cheaply
// before execution, and the page-size check rejects oversized pages before
// a resolver runs a query against the database.
package gqllimit

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Depth is a gqlgen handler extension that rejects an operation whose
// selection sets nest deeper than Max, before any resolver runs.
//
// Depth counts fields: "{ a }" has depth 1 and "{ a { b } }" has depth 2.
// Fragment spreads and inline fragments add no depth of their own but their
// fields count where they are spread. Selections under @skip or @include
// count regardless of their condition, so a client cannot exceed the limit by
// toggling a variable. Introspection fields (__schema, __type) count like any
// other field, so Max must leave room for the introspection query of any tool
// that should work against the server (GraphiQL's has depth 13).
type Depth struct {
	// Max is the greatest allowed depth; it must be positive.
	Max int
}

// Compile-time checks that Depth hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension        = Depth{}
	_ graphql.OperationContextMutator = Depth{}
)

// ExtensionName returns the name gqlgen shows for this extension in stats
// and logs.
func (Depth) ExtensionName() string {
	return "DepthLimit"
}

// Validate reports a non-positive Max, which would reject every operation;
// gqlgen calls it when the extension is added, so a misconfiguration fails
// at start-up rather than on the first request.
func (d Depth) Validate(graphql.ExecutableSchema) error {
	if d.Max <= 0 {
		return fmt.Errorf("gqllimit: Depth.Max must be positive, got %d", d.Max)
	}
	return nil
}

// MutateOperationContext measures the depth of the operation about to be
// executed and returns a BAD_USER_INPUT error when it exceeds Max. It runs
// after parsing and validation, so the document is known to be well formed.
func (d Depth) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx == nil || opCtx.Operation == nil {
		return nil
	}
	depth := operationDepth(opCtx.Doc, opCtx.Operation)
	if depth <= d.Max {
		return nil
	}
	err := &gqlerror.Error{
		Message:    fmt.Sprintf("query depth %d exceeds the maximum of %d", depth, d.Max),
		Extensions: map[string]any{"code": string(apierr.BadUserInput)},
	}
	if pos := opCtx.Operation.Position; pos != nil && pos.Line > 0 {
		err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	return err
}

// operationDepth returns the maximum field depth of op, resolving fragment
// spreads against doc.
func operationDepth(doc *ast.QueryDocument, op *ast.OperationDefinition) int {
	w := depthWalker{
		fragments: map[string]*ast.FragmentDefinition{},
		memo:      map[string]int{},
		visiting:  map[string]bool{},
	}
	if doc != nil {
		for _, f := range doc.Fragments {
			w.fragments[f.Name] = f
		}
	}
	return w.selectionSet(op.SelectionSet)
}

// depthWalker computes depths with memoized fragment depths, so a document
// that spreads the same fragments many times (a cheap way to build a huge
// tree from a small query) is still measured in time linear in its size.
type depthWalker struct {
	fragments map[string]*ast.FragmentDefinition
	memo      map[string]int
	// visiting holds the fragments on the current spread chain. Validation
	// rejects fragment cycles, but this extension must not hang or overflow
	// the stack if it is ever run with customized validation rules.
	visiting map[string]bool
}

// selectionSet returns the depth contributed by set: the deepest of its
// selections, where a field adds one level and fragments add none.
func (w *depthWalker) selectionSet(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + w.selectionSet(s.SelectionSet)
		case *ast.InlineFragment:
			d = w.selectionSet(s.SelectionSet)
		case *ast.FragmentSpread:
			d = w.fragment(s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// fragment returns the depth of the named fragment's selection set. A spread
// that closes a cycle, or names an unknown fragment, contributes nothing:
// such documents are invalid and are only measured, never executed.
func (w *depthWalker) fragment(name string) int {
	if d, ok := w.memo[name]; ok {
		return d
	}
	def, ok := w.fragments[name]
	if !ok || w.visiting[name] {
		return 0
	}
	w.visiting[name] = true
	d := w.selectionSet(def.SelectionSet)
	delete(w.visiting, name)
	w.memo[name] = d
	return d
}

// PageSize is a gqlgen handler extension that rejects, before its resolver
// runs, any field whose "first" or "last" argument is negative or greater
// than Max. Every Relay connection in the API takes these arguments, so one
// interceptor bounds them all without each resolver repeating the check.
type PageSize struct {
	// Max is the greatest allowed page size; it must be positive.
	Max int
	// Default, when positive, is the page size of a connection queried with
	// neither first nor last: without it the whole table would come back.
	Default int
}

// Compile-time checks that PageSize hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension = PageSize{}
	_ graphql.FieldInterceptor = PageSize{}
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

// InterceptField checks the field's decoded "first" and "last" arguments and
// returns an apierr BAD_USER_INPUT error naming the offending argument
// instead of calling next when one is out of range. Arguments that are
// absent, null or not integers are left to the resolver.
func (p PageSize) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && len(fc.Args) > 0 {
		p.applyDefault(fc)
		for _, name := range pageArgs {
			n, ok := intArg(fc.Args[name])
			if !ok {
				continue
			}
			if n < 0 {
				return nil, apierr.BadInput(name, "%s must not be negative, got %d", name, n)
			}
			if n > int64(p.Max) {
				return nil, apierr.BadInput(name, "%s must not exceed %d, got %d", name, p.Max, n)
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
// decodes an Int argument into: int by default, *int when nullable, and the
// sized variants when a model binds Int to them.
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
	}
	return 0, false
}
