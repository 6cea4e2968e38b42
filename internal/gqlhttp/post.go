// Package gqlhttp serves GraphQL over HTTP POST like gqlgen's own
// transport, without encoding every response twice. gqlgen's executor
// renders a response's data as JSON; its POST transport then passes the
// whole response through encoding/json, which validates and copies that
// data again (about 5 % of an inbox page's CPU). POST writes the rendered
// data as it is.
package gqlhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// POST is a gqlgen transport for application/json POST requests; it
// answers as gqlgen's transport.POST does, errors included. A client that
// asks for another response type (application/graphql-response+json) is
// served by transport.POST itself.
//
// It also takes batches, as Apollo's BatchHttpLink sends them: a JSON array
// of requests, answered by an array of their responses in the same order.
// Each operation runs on its own, one after the other, within every limit
// a single request has; a batch of more than MaxBatch operations is refused
// whole (HTTP 400, BAD_USER_INPUT with extensions.limit "batch").
type POST struct {
	// MaxBatch is the most operations one batch may hold; 0 refuses
	// batches.
	MaxBatch int

	fallback transport.POST
}

var _ graphql.Transport = POST{}

// Supports reports whether the request is a GraphQL POST.
func (p POST) Supports(r *http.Request) bool { return p.fallback.Supports(r) }

// Do executes the request's operation, or each operation of a batch, and
// writes the response.
func (p POST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !acceptsJSON(r.Header.Get("Accept")) {
		p.fallback.Do(w, r, exec)
		return
	}
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		Write(w, exec.DispatchError(ctx, gqlerror.List{badRequest("body", "could not read the request body")}))
		return
	}
	if isBatch(body) {
		p.batch(w, r, exec, body, start)
		return
	}
	var params graphql.RawParams
	if err := decodeParams(body, &params, "request body"); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		Write(w, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	status, resp := run(r, exec, &params, start)
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	Write(w, resp)
}

// batch runs the operations of a batched body in order and writes the
// array of their responses. A batch that is not a JSON array of at most
// MaxBatch items is refused whole; an item that is not a request gets its
// own error in its place.
func (p POST) batch(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, body []byte, start time.Time) {
	ctx := r.Context()
	items, err := decodeBatch(body, p.MaxBatch)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		Write(w, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	_, _ = io.WriteString(w, "[")
	for i, item := range items {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		var params graphql.RawParams
		if err := decodeParams(item, &params, fmt.Sprintf("operation %d of the batch", i+1)); err != nil {
			Write(w, exec.DispatchError(ctx, gqlerror.List{err}))
			continue
		}
		_, resp := run(r, exec, &params, start)
		Write(w, resp)
	}
	_, _ = io.WriteString(w, "]")
}

// run executes one decoded request and returns its HTTP status (422 for a
// request gqlgen cannot execute at all, as transport.POST answers) and
// its response.
func run(r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, start time.Time) (int, *graphql.Response) {
	ctx := r.Context()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
		}
		return status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	return http.StatusOK, responses(ctx)
}

// acceptsJSON reports whether gqlgen's transport would answer a request
// with this Accept header in application/json: the first media type it
// knows decides, and none means application/graphql-response+json.
func acceptsJSON(accept string) bool {
	if accept == "" {
		return true
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", "application/json":
			return true
		case "application/graphql-response+json":
			return false
		}
	}
	return false
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Write writes resp as encoding/json would (the fields in
// graphql.Response's order), copying the rendered data as it is.
func Write(w io.Writer, resp *graphql.Response) {
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		// Incremental delivery, which POST does not stream: leave it to
		// encoding/json.
		b, err := json.Marshal(resp)
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(b)
		return
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		buf.WriteString(`"errors":`)
		writeJSON(buf, resp.Errors)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		buf.Write(resp.Data)
	}
	if len(resp.Extensions) > 0 {
		buf.WriteString(`,"extensions":`)
		writeJSON(buf, resp.Extensions)
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}

func writeJSON(buf *bytes.Buffer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	buf.Write(b)
}
