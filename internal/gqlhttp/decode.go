package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gqllimit"
)

// decodeParams decodes a GraphQL-over-HTTP request into params; what names
// the request in messages ("request body", or an operation of a batch). Its
// errors say what is wrong and where (the parameter, the byte offset),
// never what the body holds: bodies carry passwords and access tokens, and
// the error is logged. Each is BAD_USER_INPUT naming the parameter ("body"
// when the JSON itself is malformed).
func decodeParams(body []byte, params *graphql.RawParams, what string) *gqlerror.Error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return jsonError(err, what, "a JSON object")
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

// jsonError describes err, the failure to decode what as want, by its kind
// and position alone.
func jsonError(err error, what, want string) *gqlerror.Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badRequest("body", "%s is not valid JSON (syntax error at byte %d)", what, syntax.Offset)
	case errors.As(err, &typ):
		return badRequest("body", "%s must be %s, not %s", what, want, typ.Value)
	default:
		return badRequest("body", "%s is not valid JSON", what)
	}
}

// isBatch reports whether body is a batch: a JSON array.
func isBatch(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '['
}

// decodeBatch splits a batched body into its requests, refusing a body
// that is not a JSON array, an empty batch and one of more than max
// requests.
func decodeBatch(body []byte, max int) ([]json.RawMessage, *gqlerror.Error) {
	if max <= 0 {
		return nil, badRequest("body", "batched requests are not accepted; send one request per POST")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, jsonError(err, "the batch", "an array of requests")
	}
	if len(items) == 0 {
		return nil, badRequest("body", "the batch is empty")
	}
	if len(items) > max {
		e := apierr.OverLimit(gqllimit.LimitBatch, "the batch has %d operations, more than the maximum of %d", len(items), max)
		e.Field = "body"
		return nil, e.GraphQL()
	}
	return items, nil
}

// badRequest returns the BAD_USER_INPUT error of a request that is not a
// well-formed GraphQL-over-HTTP request, naming the parameter at fault.
func badRequest(field, format string, args ...any) *gqlerror.Error {
	return apierr.BadInput(field, format, args...).GraphQL()
}
