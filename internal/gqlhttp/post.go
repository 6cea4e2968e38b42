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
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// POST is a gqlgen transport for application/json POST requests; it
// answers as gqlgen's transport.POST does, errors included. A client that
// asks for another response type (application/graphql-response+json) is
// served by transport.POST itself.
type POST struct {
	fallback transport.POST
}

var _ graphql.Transport = POST{}

// Supports reports whether the request is a GraphQL POST.
func (p POST) Supports(r *http.Request) bool { return p.fallback.Supports(r) }

// Do executes the request's operation and writes its response.
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
		write(w, exec.DispatchError(ctx, gqlerror.List{badRequest("body", "could not read the request body")}))
		return
	}
	var params graphql.RawParams
	if err := decodeParams(body, &params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		write(w, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		write(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	write(w, responses(ctx))
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

// write writes resp as encoding/json would (the fields in
// graphql.Response's order), copying the rendered data as it is.
func write(w io.Writer, resp *graphql.Response) {
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
