package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// decodeParams decodes a GraphQL-over-HTTP request body into params. Its
// errors say what is wrong and where (the parameter, the byte offset),
// never what the body holds: bodies carry passwords and access tokens, and
// the error is logged. Each is BAD_USER_INPUT naming the parameter ("body"
// when the JSON itself is malformed).
func decodeParams(body []byte, params *graphql.RawParams) *gqlerror.Error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return badRequest("body", "request body is not valid JSON (syntax error at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			return badRequest("body", "request body must be a JSON object, not %s", typ.Value)
		default:
			return badRequest("body", "request body is not valid JSON")
		}
	}
	fields := []struct {
		name, want string
		into       any
	}{
		{"query", "a string", &params.Query},
		{"operationName", "a string", &params.OperationName},
		{"variables", "an object", &params.Variables},
		{"extensions", "an object", &params.Extensions},
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok || bytes.Equal(v, []byte("null")) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(f.into); err != nil {
			return badRequest(f.name, "%s must be %s", f.name, f.want)
		}
	}
	return nil
}

// badRequest returns the BAD_USER_INPUT error of a request that is not a
// well-formed GraphQL-over-HTTP request, naming the parameter at fault.
func badRequest(field, format string, args ...any) *gqlerror.Error {
	return apierr.BadInput(field, format, args...).GraphQL()
}
