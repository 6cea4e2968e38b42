// Package httpstat records the status code and body size an HTTP handler
// sends, for middleware that reports them after the handler returns (the
// metrics instrumentation and the access log).
//
// It lives in one place because the rules for "the status the client saw"
// are subtle (informational codes, the implicit 200, hijacked connections)
// and two copies would drift apart, making the metrics and the access log
// disagree about the same request.
package httpstat

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/felixge/httpsnoop"
)

// Recorder holds what a handler sent through the writer returned by Wrap.
// Read it after the handler has returned: like the http.ResponseWriter it
// observes, it is not safe for concurrent use, and while the handler runs
// the response may not be final yet.
type Recorder struct {
	code     int
	bytes    int64
	hijacked bool
}

// Wrap returns w wrapped so that the returned Recorder sees the status and
// body bytes sent through it.
//
// httpsnoop gives the wrapper exactly the optional interfaces of w
// (http.Flusher, http.Hijacker, io.ReaderFrom, ...) and an Unwrap method for
// http.ResponseController: claiming one w lacks would make gqlgen's SSE
// transport or the WebSocket upgrader choose a path that then fails, and
// hiding one would break them outright.
func Wrap(w http.ResponseWriter) (http.ResponseWriter, *Recorder) {
	rec := &Recorder{}
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		// Informational 1xx codes other than 101 may precede the final
		// status (e.g. 103 Early Hints) and are not recorded.
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if rec.code == 0 && (code >= http.StatusOK || code == http.StatusSwitchingProtocols) {
					rec.code = code
				}
				next(code)
			}
		},
		// The first write commits the implicit 200. httpsnoop also routes
		// WriteString through this hook.
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				rec.commit()
				n, err := next(b)
				rec.bytes += int64(n)
				return n, err
			}
		},
		// ReadFrom (sendfile for static files) commits it too, and its
		// bytes bypass Write, so they are counted here.
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				rec.commit()
				n, err := next(src)
				rec.bytes += n
				return n, err
			}
		},
		// So does flushing, which sends the headers. httpsnoop also routes
		// FlushError (used by http.ResponseController) through this hook.
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				rec.commit()
				next()
			}
		},
		// Only a successful hijack counts: after a failed one the handler
		// still answers over HTTP.
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) {
				conn, brw, err := next()
				if err == nil {
					rec.hijacked = true
				}
				return conn, brw, err
			}
		},
	}), rec
}

// commit records the implicit 200 that net/http sends when the body or the
// headers go out before any status was written.
func (rec *Recorder) commit() {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
}

// Status returns the status the client saw: the first final one written
// (2xx-5xx, or 101), 101 for a hijacked connection (a protocol switch such
// as a WebSocket upgrade), and otherwise 200, which net/http sends when a
// handler writes nothing. A status written after the body or a flush is
// ignored, as net/http ignores it.
func (rec *Recorder) Status() int {
	switch {
	case rec.code != 0:
		return rec.code
	case rec.hijacked:
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}

// Bytes returns the number of body bytes written through Write, WriteString
// and ReadFrom. It excludes headers, and anything sent on a hijacked
// connection, which bypasses the writer.
func (rec *Recorder) Bytes() int64 {
	return rec.bytes
}

// Hijacked reports whether the handler took over the connection with a
// successful Hijack, so that callers can tell a real protocol switch from a
// handler that merely wrote 101.
func (rec *Recorder) Hijacked() bool {
	return rec.hijacked
}
