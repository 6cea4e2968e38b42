package gqlhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/dakenh/dakenh/internal/gqlhttp"
)

// TestSameAnswersAsGqlgen sends the same requests to a server on gqlgen's
// POST transport and to one on this package's, and wants byte-identical
// answers: status, content type and body.
func TestSameAnswersAsGqlgen(t *testing.T) {
	gqlgen := testserver.New()
	gqlgen.AddTransport(transport.POST{})
	ours := testserver.New()
	ours.AddTransport(gqlhttp.POST{})

	cases := []struct{ name, body, accept string }{
		{"data", `{"query":"{ name }"}`, ""},
		{"data, operation name and variables", `{"query":"query Q($x: Int) { name }","operationName":"Q","variables":{"x":1}}`, "application/json"},
		{"axios's accept header", `{"query":"{ name }"}`, "application/json, text/plain, */*"},
		{"graphql-response+json", `{"query":"{ name }"}`, "application/graphql-response+json"},
		{"an unknown accept header", `{"query":"{ name }"}`, "text/html"},
		{"parse error", `{"query":"{ name"}`, ""},
		{"validation error", `{"query":"{ nope }"}`, ""},
		{"no query", `{}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { same(t, gqlgen, ours, c.body, c.accept) })
	}
	// A resolver's error: errors beside the data.
	gqlgenErr, oursErr := testserver.NewError(), testserver.NewError()
	gqlgenErr.AddTransport(transport.POST{})
	oursErr.AddTransport(gqlhttp.POST{})
	same(t, gqlgenErr, oursErr, `{"query":"{ name }"}`, "")
}

func same(t *testing.T, gqlgen, ours http.Handler, body, accept string) {
	t.Helper()
	want := do(t, gqlgen, body, accept)
	got := do(t, ours, body, accept)
	if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Body.String() != want.Body.String() {
		t.Errorf("got %d %q %s\nwant %d %q %s", got.Code, got.Header().Get("Content-Type"), got.Body,
			want.Code, want.Header().Get("Content-Type"), want.Body)
	}
}

func do(t *testing.T, h http.Handler, body, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestMalformedBodies wants a body that is not a GraphQL-over-HTTP request
// answered 400 BAD_USER_INPUT naming the parameter at fault, with a message
// that quotes nothing of the body (which the presenter may log).
func TestMalformedBodies(t *testing.T) {
	srv := testserver.New()
	srv.AddTransport(gqlhttp.POST{})
	for _, c := range []struct{ name, body, field string }{
		{"NotJSON", `{"query":"{ name }", "password": "pw-123`, "body"},
		{"Array", `[{"query":"pw-123"}]`, "body"},
		{"QueryNotString", `{"query":{"pw":"pw-123"}}`, "query"},
		{"VariablesNotObject", `{"query":"{ name }","variables":"pw-123"}`, "variables"},
		{"ExtensionsNotObject", `{"query":"{ name }","extensions":["pw-123"]}`, "extensions"},
		{"OperationNameNotString", `{"query":"{ name }","operationName":1}`, "operationName"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := do(t, srv, c.body, "")
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest || !strings.Contains(body, `"code":"BAD_USER_INPUT"`) ||
				!strings.Contains(body, `"field":"`+c.field+`"`) || strings.Contains(body, "pw-123") {
				t.Fatalf("got %d %s", rec.Code, body)
			}
		})
	}
}
