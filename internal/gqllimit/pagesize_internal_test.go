package gqllimit

import (
	"context"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestPageSizeWrapsOnlyWhatItChecks checks that an operation whose page
// sizes are all given and in range resolves its fields as it would without
// the extension, and that one with a field to check or to default is
// wrapped, for exactly those fields.
func TestPageSizeWrapsOnlyWhatItChecks(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
type Query { users(first: Int, last: Int): [User!] top(first: Int!): [User!] }
type User { name: String! friends(first: Int, last: Int): [User!] }`})
	p := PageSize{Max: 100, Default: 10}
	base := func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }
	for _, tc := range []struct {
		name   string
		query  string
		vars   map[string]any
		fields []string // the fields PageSize acts on
	}{
		{name: "all given and in range", query: `{ users(first: 50) { name friends(last: 1) { name } } top(first: 3) { name } }`},
		{name: "through a variable", query: `query($n: Int) { users(first: $n) { name } }`, vars: map[string]any{"n": int64(20)}},
		{name: "out of range", query: `{ users(first: 101) { name } top(first: 5) { name } }`, fields: []string{"users"}},
		{name: "out of range through a variable", query: `query($n: Int) { users(first: $n) { name } }`, vars: map[string]any{"n": int64(500)}, fields: []string{"users"}},
		{name: "defaulted, in a fragment", query: `{ users(first: 1) { ...F } } fragment F on User { friends { name } }`, fields: []string{"friends"}},
		{name: "a null variable is defaulted", query: `query($n: Int) { users(first: $n) { name } }`, vars: map[string]any{"n": nil}, fields: []string{"users"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if errs != nil {
				t.Fatal(errs)
			}
			opCtx := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: tc.vars, ResolverMiddleware: base}
			if err := p.MutateOperationContext(context.Background(), opCtx); err != nil {
				t.Fatal(err)
			}
			wrapped := reflect.ValueOf(opCtx.ResolverMiddleware).Pointer() != reflect.ValueOf(base).Pointer()
			if wrapped != (len(tc.fields) > 0) {
				t.Fatalf("wrapped = %v, want %v", wrapped, len(tc.fields) > 0)
			}
			w := pageWalker{p: p, vars: tc.vars, fragments: map[string]*ast.FragmentDefinition{}, seen: map[string]bool{}}
			for _, f := range doc.Fragments {
				w.fragments[f.Name] = f
			}
			w.selectionSet(doc.Operations[0].SelectionSet)
			var got []string
			for f := range w.fields {
				got = append(got, f.Name)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("acts on %v, want %v", got, tc.fields)
			}
		})
	}
}
