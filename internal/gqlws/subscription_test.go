package gqlws

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func operation(t *testing.T, query string, vars map[string]any) *graphql.OperationContext {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	return &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars}
}

// TestGroupOf checks which subscriptions render together: the root field's
// arguments (where a stream starts) do not separate them; the viewer and
// variables used below the root field do.
func TestGroupOf(t *testing.T) {
	const q = `subscription($after: String, $c: ID, $n: Int, $skip: Boolean!) {
		messageEvents(after: $after, conversationId: $c) { cursor message @skip(if: $skip) { text(max: $n) } }
	}`
	base := groupOf(operation(t, q, map[string]any{"after": "a", "c": "x", "n": 1, "skip": false}), "agent-1")
	for _, tc := range []struct {
		name   string
		vars   map[string]any
		viewer string
		same   bool
	}{
		{"another start and conversation", map[string]any{"after": "b", "c": "y", "n": 1, "skip": false}, "agent-1", true},
		{"another nested argument", map[string]any{"after": "a", "c": "x", "n": 2, "skip": false}, "agent-1", false},
		{"another directive argument", map[string]any{"after": "a", "c": "x", "n": 1, "skip": true}, "agent-1", false},
		{"another viewer", map[string]any{"after": "a", "c": "x", "n": 1, "skip": false}, "agent-2", false},
	} {
		got := groupOf(operation(t, q, tc.vars), tc.viewer)
		if (got == base) != tc.same {
			t.Errorf("%s: same group = %v, want %v", tc.name, got == base, tc.same)
		}
	}
	other := groupOf(operation(t, `subscription { messageEvents { cursor } }`, nil), "agent-1")
	if other == base {
		t.Error("another selection shares the group")
	}
}
