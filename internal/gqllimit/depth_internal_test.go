package gqllimit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// These tests measure documents that are parsed but not validated, because
// the cases they cover (fragment cycles, unknown fragments) can never get
// past validation to the handler; the walker must still terminate on them.
func TestOperationDepth(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{name: "single field", query: `{ a }`, want: 1},
		{name: "nested", query: `{ a { b { c } } d }`, want: 3},
		{name: "deepest branch wins", query: `{ a { b } c { d { e { f } } } }`, want: 4},
		{name: "inline fragment adds no level", query: `{ a { ... on T { b { c } } } }`, want: 3},
		{name: "spread adds no level", query: `{ a { ...F } } fragment F on T { b { c } }`, want: 3},
		{name: "unknown fragment counts nothing", query: `{ a { ...Missing } }`, want: 1},
		{name: "self-referencing fragment", query: `{ a { ...F } } fragment F on T { b ...F }`, want: 2},
		{
			name:  "fragment cycle",
			query: `{ a { ...F } } fragment F on T { b { ...G } } fragment G on T { c { ...F } }`,
			want:  3,
		},
		{
			// F is memoized as it was measured inside G, with the cycle cut
			// short, so its later use under x.y.z counts 1 rather than 2.
			// Exactness is not worth exponential time on documents that
			// validation rejects anyway; what matters is termination.
			name:  "cycle entered from its other end",
			query: `{ a { ...G } x { y { z { ...F } } } } fragment F on T { b { ...G } } fragment G on T { c { ...F } }`,
			want:  4,
		},
		{name: "introspection fields count", query: `{ __type(name: "T") { fields { name } } }`, want: 3},
		{name: "typename is a field", query: `{ a { __typename } }`, want: 2},
		// Pinned so that whoever picks Depth.Max knows what GraphiQL and
		// other tools need when introspection is enabled.
		{name: "GraphiQL introspection query", query: introspection.Query, want: 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := operationDepth(doc, doc.Operations[0]); got != tt.want {
				t.Errorf("depth = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOperationDepthIsLinearInFragmentReuse(t *testing.T) {
	// Each fragment spreads the next one twice, so the expanded tree has
	// 2^n leaves; without memoization this would not finish.
	const n = 60
	var b strings.Builder
	b.WriteString(`{ ...F0 }`)
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on T { a { ...F%d } b { ...F%d } }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on T { leaf }", n)
	doc, err := parser.ParseQuery(&ast.Source{Input: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	w := depthWalker{fragments: newFragmentMemo(doc.Fragments)}
	if got := w.selectionSet(doc.Operations[0].SelectionSet); got != n+1 {
		t.Errorf("depth = %d, want %d", got, n+1)
	}
	// Each of the n+1 fragments is spread 2^i times; memoised, each is
	// measured once.
	if w.fragments.measured != n+1 {
		t.Errorf("measured %d fragments, want %d: fragment depths are not memoised", w.fragments.measured, n+1)
	}
}

func TestOperationDepthWithoutDocument(t *testing.T) {
	// A nil document (no fragments known) must not panic.
	op := &ast.OperationDefinition{SelectionSet: ast.SelectionSet{&ast.Field{Name: "a"}}}
	if got := operationDepth(nil, op); got != 1 {
		t.Errorf("depth = %d, want 1", got)
	}
}
