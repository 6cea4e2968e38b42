package httpstat_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/httpstat"
)

// Fake writers with each combination of optional interfaces.
type (
	plainWriter  struct{ http.ResponseWriter }
	flushWriter  struct{ http.ResponseWriter }
	hijackWriter struct{ http.ResponseWriter }
	bothWriter   struct{ http.ResponseWriter }
)

func (flushWriter) Flush() {}
func (hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}
func (bothWriter) Flush() {}
func (bothWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}

// okHijackWriter's Hijack succeeds, as net/http's does for an HTTP/1.x
// request, without a real connection.
type okHijackWriter struct{ http.ResponseWriter }

func (okHijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	client, server := net.Pipe()
	_ = client.Close()
	return server, nil, nil
}

// readFromWriter has io.ReaderFrom, as net/http's writer has for sendfile,
// and records whether it was reached.
type readFromWriter struct {
	http.ResponseWriter
	used bool
}

func (w *readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.used = true
	return io.Copy(w.ResponseWriter, src)
}

// TestRecorder checks which status and how many bytes are recorded. Writing,
// flushing and ReadFrom commit the implicit 200, so a status set afterwards
// (which net/http ignores) is not what gets recorded; a failed hijack is not
// a protocol switch.
func TestRecorder(t *testing.T) {
	newRecorder := func() http.ResponseWriter { return httptest.NewRecorder() }
	tests := []struct {
		name         string
		writer       func() http.ResponseWriter
		handler      http.HandlerFunc
		wantStatus   int
		wantBytes    int64
		wantHijacked bool
	}{
		{
			name:       "nothing written is 200",
			writer:     newRecorder,
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: 200, wantBytes: 0,
		},
		{
			name:       "implicit 200 from write",
			writer:     newRecorder,
			handler:    func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") },
			wantStatus: 200, wantBytes: 2,
		},
		{
			name:       "explicit status",
			writer:     newRecorder,
			handler:    func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantStatus: 404, wantBytes: int64(len("404 page not found\n")),
		},
		{
			name:   "explicit status and body",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte("hello"))
			},
			wantStatus: 201, wantBytes: 5,
		},
		{
			name:   "first final status wins",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 404, wantBytes: 0,
		},
		{
			name:   "informational status is not final",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			wantStatus: 202, wantBytes: 0,
		},
		{
			name:       "switching protocols is final",
			writer:     newRecorder,
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) },
			wantStatus: 101, wantBytes: 0,
		},
		{
			name:   "write commits 200",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "x")
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 200, wantBytes: 1,
		},
		{
			name:   "flush commits 200",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush()
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 200, wantBytes: 0,
		},
		{
			name:   "ResponseController flush commits 200",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("ResponseController.Flush: %v", err)
				}
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 200, wantBytes: 0,
		},
		{
			// httptest.ResponseRecorder has no ReadFrom, so neither has
			// the wrapper and io.Copy goes through Write.
			name:   "io.Copy without ReadFrom is counted",
			writer: newRecorder,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(w, io.LimitReader(strings.NewReader("0123456789"), 100))
			},
			wantStatus: 200, wantBytes: 10,
		},
		{
			name:   "ReadFrom commits 200 and is counted",
			writer: func() http.ResponseWriter { return &readFromWriter{ResponseWriter: httptest.NewRecorder()} },
			handler: func(w http.ResponseWriter, r *http.Request) {
				// LimitReader hides strings.Reader's WriteTo, so io.Copy
				// takes the ReadFrom path.
				_, _ = io.Copy(w, io.LimitReader(strings.NewReader("0123456789"), 100))
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 200, wantBytes: 10,
		},
		{
			name:   "failed hijack",
			writer: func() http.ResponseWriter { return hijackWriter{httptest.NewRecorder()} },
			handler: func(w http.ResponseWriter, r *http.Request) {
				if _, _, err := w.(http.Hijacker).Hijack(); err == nil {
					t.Error("Hijack succeeded, want http.ErrNotSupported")
				}
			},
			wantStatus: 200, wantBytes: 0, wantHijacked: false,
		},
		{
			name:   "successful hijack",
			writer: func() http.ResponseWriter { return okHijackWriter{httptest.NewRecorder()} },
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Errorf("Hijack: %v", err)
					return
				}
				_ = conn.Close()
			},
			wantStatus: 101, wantBytes: 0, wantHijacked: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.writer()
			ww, rec := httpstat.Wrap(w)
			tt.handler(ww, httptest.NewRequest(http.MethodGet, "/", nil))
			if rf, ok := w.(*readFromWriter); ok && !rf.used {
				t.Error("io.Copy did not reach the underlying writer's ReadFrom")
			}
			if got := rec.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %d, want %d", got, tt.wantStatus)
			}
			if got := rec.Bytes(); got != tt.wantBytes {
				t.Errorf("Bytes() = %d, want %d", got, tt.wantBytes)
			}
			if got := rec.Hijacked(); got != tt.wantHijacked {
				t.Errorf("Hijacked() = %v, want %v", got, tt.wantHijacked)
			}
		})
	}
}

func TestWrapKeepsOptionalInterfaces(t *testing.T) {
	tests := []struct {
		name                                string
		writer                              http.ResponseWriter
		wantFlush, wantHijack, wantReadFrom bool
	}{
		{"neither", plainWriter{httptest.NewRecorder()}, false, false, false},
		{"flusher", flushWriter{httptest.NewRecorder()}, true, false, false},
		{"hijacker", hijackWriter{httptest.NewRecorder()}, false, true, false},
		{"both", bothWriter{httptest.NewRecorder()}, true, true, false},
		{"reader from", &readFromWriter{ResponseWriter: plainWriter{httptest.NewRecorder()}}, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := httpstat.Wrap(tt.writer)
			_, gotFlush := w.(http.Flusher)
			_, gotHijack := w.(http.Hijacker)
			_, gotReadFrom := w.(io.ReaderFrom)
			if gotFlush != tt.wantFlush || gotHijack != tt.wantHijack || gotReadFrom != tt.wantReadFrom {
				t.Errorf("Flusher=%v Hijacker=%v ReaderFrom=%v, want %v %v %v",
					gotFlush, gotHijack, gotReadFrom, tt.wantFlush, tt.wantHijack, tt.wantReadFrom)
			}
			u, ok := w.(interface{ Unwrap() http.ResponseWriter })
			if !ok || u.Unwrap() != tt.writer {
				t.Error("wrapped writer does not Unwrap to the original")
			}
		})
	}
}

// TestWrapHijack hijacks a real net/http connection through the wrapper, as
// a WebSocket upgrade does, and checks that the protocol switch works and is
// recorded as 101.
func TestWrapHijack(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("wrapped writer is not an http.Hijacker")
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, brw, err := hj.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		// Switch to a line echo protocol, as a WebSocket upgrade would
		// switch to WebSocket framing.
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			t.Errorf("read after hijack: %v", err)
			return
		}
		_, _ = brw.WriteString(line)
		_ = brw.Flush()
	}
	var (
		status   int
		bytes    int64
		hijacked bool
	)
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, rec := httpstat.Wrap(w)
		handler(ww, r)
		// Read once the handler has returned, as the middleware does.
		status, bytes, hijacked = rec.Status(), rec.Bytes(), rec.Hijacked()
		close(served)
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A guard against a hang, not a timing: a loaded machine may be slow.
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	_, _ = io.WriteString(conn, "GET /graphql HTTP/1.1\r\nHost: test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo = %q, %v; want \"ping\\n\"", line, err)
	}
	<-served

	if status != http.StatusSwitchingProtocols || !hijacked {
		t.Errorf("Status() = %d, Hijacked() = %v; want 101, true", status, hijacked)
	}
	// What travels on the hijacked connection bypasses the writer.
	if bytes != 0 {
		t.Errorf("Bytes() = %d, want 0", bytes)
	}
}
