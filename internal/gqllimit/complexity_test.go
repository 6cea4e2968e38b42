package gqllimit_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/dakenh/dakenh/internal/gqllimit"
)

func TestComplexityCost(t *testing.T) {
	ts := newTestSchema()
	c := &gqllimit.Complexity{Max: 1000, DefaultPage: 100}
	if err := c.Validate(ts.executable()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"Fields", `{ viewer { name manager { name } } }`, nil, 4},
		// 1 + 10 × (totalCount 1 + edges (1 + node (1 + name 1)))
		{"PageMultiplies", `{ users(first: 10) { totalCount edges { node { name } } } }`, nil, 1 + 10*4},
		{"Last", `{ users(last: 3) { totalCount } }`, nil, 1 + 3},
		{"DefaultPage", `{ users { totalCount } }`, nil, 1 + 100},
		{"FromVariable", `query($n: Int) { users(first: $n) { totalCount } }`, map[string]any{"n": 7}, 1 + 7},
		// users(10) { edges { node { friends(10) { edges { node { name } } } } } }
		{"NestedPagesMultiply", `{ users(first: 10) { edges { node { friends(first: 10) { edges { node { name } } } } } } }`, nil, 1 + 10*(1+1+(1+10*3))},
		{"ListArgument", `{ nodes(ids: ["a", "b", "c"]) { name } }`, nil, 1 + 3*1},
		{"ListArgumentFromVariable", `query($ids: [ID!]!) { nodes(ids: $ids) { name } }`, map[string]any{"ids": []any{"a", "b"}}, 1 + 2*1},
		{"FragmentsCountWhereSpread", `{ users(first: 2) { ...C } viewer { friends(first: 5) { ...C } } } fragment C on UserConnection { totalCount }`, nil, (1 + 2) + (1 + 1 + 5)},
		{"IntrospectionIsFree", `{ __schema { types { name } } }`, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(ts.schema, tc.query)
			if errs != nil {
				t.Fatal(errs)
			}
			if got := c.Cost(context.Background(), doc.Operations[0], tc.vars); got != tc.want {
				t.Errorf("cost = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestComplexityThroughHandler(t *testing.T) {
	const nested = `{ users(first: 100) { edges { node { friends(first: 100) { edges { node { friends(first: 100) { totalCount } } } } } } } }`
	ts := newTestSchema()
	h := newHandler(t, ts.executable(), &gqllimit.Complexity{Max: 1000, DefaultPage: 100})
	status, resp, raw := post(t, h, nested, "", nil)
	if status != http.StatusOK || len(resp.Errors) != 1 {
		t.Fatalf("status %d, response %s", status, raw)
	}
	want := map[string]any{"code": "BAD_USER_INPUT", "limit": "complexity"}
	if !reflect.DeepEqual(resp.Errors[0].Extensions, want) {
		t.Errorf("extensions = %v, want %v", resp.Errors[0].Extensions, want)
	}
	if n := ts.called("Query.users"); n != 0 {
		t.Errorf("Query.users ran %d times; the operation must be refused before execution", n)
	}
	if _, resp, raw := post(t, h, `{ users(first: 10) { edges { node { name } } } }`, "", nil); len(resp.Errors) != 0 {
		t.Errorf("a page of 10 was refused: %s", raw)
	}
}
