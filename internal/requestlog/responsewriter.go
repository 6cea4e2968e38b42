package requestlog

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseRecorder remembers the status code and body size a handler sends.
// It is wrapped by wrap into a type that implements exactly the optional
// interfaces (http.Flusher, http.Hijacker) of the writer it decorates:
// claiming one the underlying writer lacks would make gqlgen's SSE transport
// or the WebSocket upgrader choose a path that then fails, and hiding one
// would break them outright.
type responseRecorder struct {
	http.ResponseWriter
	code     int
	bytes    int64
	hijacked bool
}

// wrap returns rec as an http.ResponseWriter with the same optional
// interfaces as the writer it decorates.
func (rec *responseRecorder) wrap() http.ResponseWriter {
	_, canFlush := rec.ResponseWriter.(http.Flusher)
	_, canHijack := rec.ResponseWriter.(http.Hijacker)
	switch {
	case canFlush && canHijack:
		return flushHijackRecorder{rec}
	case canFlush:
		return flushRecorder{rec}
	case canHijack:
		return hijackRecorder{rec}
	default:
		return rec
	}
}

// statusCode returns the status the client saw: the one written, 101 for a
// hijacked connection (a protocol switch such as a WebSocket upgrade), and
// otherwise 200, which net/http sends when a handler writes nothing.
func (rec *responseRecorder) statusCode() int {
	switch {
	case rec.code != 0:
		return rec.code
	case rec.hijacked:
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}

// WriteHeader records the first final status code. Informational 1xx codes
// other than 101 may precede it (e.g. 103 Early Hints) and are not final.
func (rec *responseRecorder) WriteHeader(code int) {
	if rec.code == 0 && (code >= http.StatusOK || code == http.StatusSwitchingProtocols) {
		rec.code = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 that net/http sends on the first write and
// counts the body bytes.
func (rec *responseRecorder) Write(b []byte) (int, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy able to use the underlying writer's ReadFrom
// (sendfile for static files) instead of a buffered copy through Write.
func (rec *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	n, err := io.Copy(rec.ResponseWriter, src)
	rec.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer, e.g. to
// set deadlines on a long-lived streaming response.
func (rec *responseRecorder) Unwrap() http.ResponseWriter {
	return rec.ResponseWriter
}

func (rec *responseRecorder) flush() {
	// Flushing commits the headers, which net/http sends as 200 if none
	// were written.
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	rec.ResponseWriter.(http.Flusher).Flush()
}

func (rec *responseRecorder) hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := rec.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		rec.hijacked = true
	}
	return conn, rw, err
}

// flushRecorder is a responseRecorder whose underlying writer is an
// http.Flusher.
type flushRecorder struct{ *responseRecorder }

// Flush implements http.Flusher.
func (r flushRecorder) Flush() { r.flush() }

// hijackRecorder is a responseRecorder whose underlying writer is an
// http.Hijacker.
type hijackRecorder struct{ *responseRecorder }

// Hijack implements http.Hijacker.
func (r hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) { return r.hijack() }

// flushHijackRecorder is a responseRecorder whose underlying writer is both
// an http.Flusher and an http.Hijacker, as net/http's HTTP/1.x writer is.
type flushHijackRecorder struct{ *responseRecorder }

// Flush implements http.Flusher.
func (r flushHijackRecorder) Flush() { r.flush() }

// Hijack implements http.Hijacker.
func (r flushHijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) { return r.hijack() }
