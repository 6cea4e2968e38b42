// Package gqllimit contains gqlgen handler extensions that bound the cost a
// single GraphQL request can impose, each refusing what it bounds with
// BAD_USER_INPUT and extensions.limit naming the bound (names.go):
//
//   - Document measures the query before validation (tokens, expanded
//     fields, aliases, spreads), fragments memoised;
//   - Depth bounds nesting, Complexity prices the operation with pages
//     multiplied, Arguments bounds lists and strings and refuses NULs, all
//     before any resolver runs;
//   - PageSize checks first/last where the connection resolves and gives a
//     connection asked with neither its default page;
//   - Response stops an operation whose response outgrows its bound or
//     whose client went away.
package gqllimit

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
	err := LimitError(LimitDepth, "query depth %d exceeds the maximum of %d", depth, d.Max)
	if pos := opCtx.Operation.Position; pos != nil && pos.Line > 0 {
		err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	return err
}

// operationDepth returns the maximum field depth of op, resolving fragment
// spreads against doc.
func operationDepth(doc *ast.QueryDocument, op *ast.OperationDefinition) int {
	var fragments ast.FragmentDefinitionList
	if doc != nil {
		fragments = doc.Fragments
	}
	w := depthWalker{fragments: newFragmentMemo(fragments)}
	return w.selectionSet(op.SelectionSet)
}

// depthWalker computes depths with each fragment's depth memoised.
type depthWalker struct {
	fragments fragmentMemo
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
			d = w.fragments.of(s.Name, w.selectionSet)
		}
		deepest = max(deepest, d)
	}
	return deepest
}
