package model

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalTime writes the Time scalar as gqlgen's graphql.MarshalTime does
// (RFC 3339 with nanoseconds, quoted; null for the zero time), formatting
// into the response's buffer when the writer offers it (bytes.Buffer, what
// the executor writes into) instead of building a string and a quoted copy
// of it for each of a page's times.
func MarshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		if bw, ok := w.(interface{ AvailableBuffer() []byte }); ok {
			b := append(bw.AvailableBuffer(), '"')
			b = append(t.AppendFormat(b, time.RFC3339Nano), '"')
			_, _ = w.Write(b)
			return
		}
		_, _ = io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads the Time scalar as gqlgen does.
func UnmarshalTime(v any) (time.Time, error) { return graphql.UnmarshalTime(v) }
