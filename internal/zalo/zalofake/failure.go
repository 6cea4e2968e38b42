package zalofake

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// failureKind is what an injected Failure does.
type failureKind int

const (
	failStatus failureKind = iota + 1
	failSlow
	failErrorCode
	failReset
	failMalformed
)

// Failure is a failure FailNext injects. Build one with Status, Slow,
// ErrorCode, ConnectionReset or Malformed.
type Failure struct {
	kind   failureKind
	status int
	code   int
	delay  time.Duration
}

// Status answers with the HTTP status (e.g. 500 or 502) and a plain-text
// body, as a gateway in front of Zalo would.
func Status(code int) Failure { return Failure{kind: failStatus, status: code} }

// Slow waits d before answering normally; when the client gives up first
// (its timeout or context), the request is dropped without effect.
func Slow(d time.Duration) Failure { return Failure{kind: failSlow, delay: d} }

// ErrorCode answers HTTP 200 with error code (e.g. -230): in the Open API
// envelope, or in the OAuth error format on AccessToken.
func ErrorCode(code int) Failure { return Failure{kind: failErrorCode, code: code} }

// ConnectionReset drops the connection without an answer, with a TCP reset.
//
// Go's http.Transport retries a GET once by itself when a reused
// connection fails this way, so inject two resets to make a GET fail.
func ConnectionReset() Failure { return Failure{kind: failReset} }

// Malformed answers HTTP 200 with a body that is not JSON.
func Malformed() Failure { return Failure{kind: failMalformed} }

// String names the failure, for test output.
func (f Failure) String() string {
	switch f.kind {
	case failStatus:
		return fmt.Sprintf("HTTP %d", f.status)
	case failSlow:
		return fmt.Sprintf("slow %s", f.delay)
	case failErrorCode:
		return fmt.Sprintf("error %d", f.code)
	case failReset:
		return "connection reset"
	case failMalformed:
		return "malformed body"
	}
	return "no failure"
}

// FailNext makes the next n requests to endpoint fail with f, after any
// failures already queued for it. The requests are still recorded.
func (s *Server) FailNext(endpoint Endpoint, n int, f Failure) {
	s.tb.Helper()
	if f.kind == 0 {
		s.tb.Fatalf("zalofake: FailNext: zero Failure; use Status, Slow, ErrorCode, ConnectionReset or Malformed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[endpoint] = append(s.failures[endpoint], f)
	}
}

// PendingFailures is how many of the failures queued for endpoint no
// request has taken yet.
func (s *Server) PendingFailures(endpoint Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failures[endpoint])
}

// takeFailureLocked pops the next failure queued for endpoint.
func (s *Server) takeFailureLocked(endpoint Endpoint) (Failure, bool) {
	q := s.failures[endpoint]
	if len(q) == 0 {
		return Failure{}, false
	}
	s.failures[endpoint] = q[1:]
	return q[0], true
}

// apply performs the failure and reports whether the request is finished;
// false means it is to be answered normally (a slow answer whose delay
// elapsed).
func (f Failure) apply(w http.ResponseWriter, r *http.Request, ep Endpoint, closing <-chan struct{}) bool {
	switch f.kind {
	case failStatus:
		http.Error(w, "fake upstream failure", f.status)
	case failSlow:
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
		case <-closing:
		}
	case failErrorCode:
		if ep == AccessToken {
			writeJSON(w, oauthError(f.code, "injected", "injected failure"))
		} else {
			writeJSON(w, apiError(f.code, "injected failure"))
		}
	case failReset:
		reset(w)
	case failMalformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"error":0,"data":{"message_id":`))
	}
	return true
}

// reset closes the request's connection with a TCP RST instead of an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// Only HTTP/2 cannot be hijacked, and httptest.NewServer speaks HTTP/1.1.
		http.Error(w, "zalofake: cannot reset this connection", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close with RST rather than FIN
	}
	_ = conn.Close()
}
