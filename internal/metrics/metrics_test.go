package metrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches m's /metrics output through its HTTP handler, as Prometheus
// would, and parses it.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// findMetric returns the series of family name whose labels are exactly
// labels, or nil.
func findMetric(families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	mf, ok := families[name]
	if !ok {
		return nil
	}
	for _, metric := range mf.GetMetric() {
		if len(metric.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, lp := range metric.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				match = false
				break
			}
		}
		if match {
			return metric
		}
	}
	return nil
}

// seriesCount returns how many series family name has in the scrape.
func seriesCount(families map[string]*dto.MetricFamily, name string) int {
	if mf, ok := families[name]; ok {
		return len(mf.GetMetric())
	}
	return 0
}

// counterValue returns the value of a counter series, or 0 if it is absent.
func counterValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if metric := findMetric(families, name, labels); metric != nil {
		return metric.GetCounter().GetValue()
	}
	return 0
}

// histogramCount returns the sample count of a histogram series, or 0 if it
// is absent.
func histogramCount(families map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	if metric := findMetric(families, name, labels); metric != nil {
		return metric.GetHistogram().GetSampleCount()
	}
	return 0
}

func TestNewRegistersRuntimeAndCustomCollectors(t *testing.T) {
	// Two instances in one process must not collide: that is why each has
	// its own registry.
	_ = New()
	m := New()

	custom := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_custom_total", Help: "A collector registered by another package."})
	m.Registry().MustRegister(custom)
	custom.Add(3)

	families := scrape(t, m)
	want := []string{"go_goroutines", "go_gc_duration_seconds", "test_custom_total"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_start_time_seconds", "process_open_fds")
	}
	for _, name := range want {
		if _, ok := families[name]; !ok {
			t.Errorf("scrape lacks %s", name)
		}
	}
	if got := counterValue(families, "test_custom_total", map[string]string{}); got != 3 {
		t.Errorf("test_custom_total = %v, want 3", got)
	}
}

func TestInstrument(t *testing.T) {
	type request struct {
		method, path string
	}
	tests := []struct {
		name      string
		route     string
		handler   http.HandlerFunc
		requests  []request
		wantCode  string
		wantCalls float64
		method    string
	}{
		{
			name:      "implicit 200 from write",
			route:     "graphql",
			handler:   func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") },
			requests:  []request{{http.MethodPost, "/graphql"}},
			method:    http.MethodPost,
			wantCode:  "200",
			wantCalls: 1,
		},
		{
			name:      "nothing written is 200",
			route:     "health",
			handler:   func(w http.ResponseWriter, r *http.Request) {},
			requests:  []request{{http.MethodGet, "/healthz"}},
			method:    http.MethodGet,
			wantCode:  "200",
			wantCalls: 1,
		},
		{
			name:      "explicit status",
			route:     "api",
			handler:   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			requests:  []request{{http.MethodGet, "/a"}},
			method:    http.MethodGet,
			wantCode:  "404",
			wantCalls: 1,
		},
		{
			name: "informational status is not final",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			route:     "api",
			requests:  []request{{http.MethodPut, "/a"}},
			method:    http.MethodPut,
			wantCode:  "202",
			wantCalls: 1,
		},
		{
			name:      "switching protocols is final",
			route:     "graphql",
			handler:   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) },
			requests:  []request{{http.MethodGet, "/graphql"}},
			method:    http.MethodGet,
			wantCode:  "101",
			wantCalls: 1,
		},
		{
			name:    "raw paths collapse into the route",
			route:   "files",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			requests: []request{
				{http.MethodGet, "/files/1"},
				{http.MethodGet, "/files/2?token=x"},
				{http.MethodGet, "/files/3"},
			},
			method:    http.MethodGet,
			wantCode:  "200",
			wantCalls: 3,
		},
		{
			name:      "unknown method is bucketed",
			route:     "api",
			handler:   func(w http.ResponseWriter, r *http.Request) {},
			requests:  []request{{"BREW", "/pot"}},
			method:    "OTHER",
			wantCode:  "200",
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			h := m.Instrument(tt.route, tt.handler)
			for _, req := range tt.requests {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
			}

			families := scrape(t, m)
			labels := map[string]string{"route": tt.route, "method": tt.method, "code": tt.wantCode}
			if got := counterValue(families, "dakenh_http_requests_total", labels); got != tt.wantCalls {
				t.Errorf("dakenh_http_requests_total%v = %v, want %v", labels, got, tt.wantCalls)
			}
			if got := histogramCount(families, "dakenh_http_request_duration_seconds", labels); got != uint64(tt.wantCalls) {
				t.Errorf("dakenh_http_request_duration_seconds%v count = %v, want %v", labels, got, tt.wantCalls)
			}
			// Exactly one series: neither the raw path nor anything else
			// may add label values.
			if n := seriesCount(families, "dakenh_http_requests_total"); n != 1 {
				t.Errorf("dakenh_http_requests_total has %d series, want 1", n)
			}
			inflight := findMetric(families, "dakenh_http_requests_in_flight", map[string]string{"route": tt.route})
			if inflight == nil || inflight.GetGauge().GetValue() != 0 {
				t.Errorf("dakenh_http_requests_in_flight{route=%q} = %v, want 0", tt.route, inflight)
			}
		})
	}
}

func TestInstrumentInFlight(t *testing.T) {
	m := New()
	entered := make(chan struct{})
	release := make(chan struct{})
	h := m.Instrument("slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
	}()

	<-entered
	labels := map[string]string{"route": "slow"}
	if got := findMetric(scrape(t, m), "dakenh_http_requests_in_flight", labels).GetGauge().GetValue(); got != 1 {
		t.Errorf("in flight during request = %v, want 1", got)
	}
	close(release)
	<-done
	if got := findMetric(scrape(t, m), "dakenh_http_requests_in_flight", labels).GetGauge().GetValue(); got != 0 {
		t.Errorf("in flight after request = %v, want 0", got)
	}
}

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

func TestInstrumentKeepsOptionalInterfaces(t *testing.T) {
	tests := []struct {
		name                  string
		writer                http.ResponseWriter
		wantFlush, wantHijack bool
	}{
		{"neither", plainWriter{httptest.NewRecorder()}, false, false},
		{"flusher", flushWriter{httptest.NewRecorder()}, true, false},
		{"hijacker", hijackWriter{httptest.NewRecorder()}, false, true},
		{"both", bothWriter{httptest.NewRecorder()}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotFlush, gotHijack, unwraps bool
			h := New().Instrument("r", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, gotFlush = w.(http.Flusher)
				_, gotHijack = w.(http.Hijacker)
				u, ok := w.(interface{ Unwrap() http.ResponseWriter })
				unwraps = ok && u.Unwrap() == tt.writer
			}))
			h.ServeHTTP(tt.writer, httptest.NewRequest(http.MethodGet, "/", nil))
			if gotFlush != tt.wantFlush || gotHijack != tt.wantHijack {
				t.Errorf("Flusher=%v Hijacker=%v, want %v %v", gotFlush, gotHijack, tt.wantFlush, tt.wantHijack)
			}
			if !unwraps {
				t.Error("wrapped writer does not Unwrap to the original")
			}
		})
	}
}

// TestInstrumentCommittedStatus checks that writing, flushing and ReadFrom
// record the implicit 200 they commit, so a status set afterwards (which
// net/http ignores) is not what gets counted, and that a failed hijack is not
// counted as a protocol switch.
func TestInstrumentCommittedStatus(t *testing.T) {
	tests := []struct {
		name    string
		writer  func() http.ResponseWriter
		handler http.HandlerFunc
	}{
		{
			name:   "write",
			writer: func() http.ResponseWriter { return httptest.NewRecorder() },
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "x")
				w.WriteHeader(http.StatusInternalServerError)
			},
		},
		{
			name:   "flush",
			writer: func() http.ResponseWriter { return httptest.NewRecorder() },
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush()
				w.WriteHeader(http.StatusInternalServerError)
			},
		},
		{
			name:   "ReadFrom",
			writer: func() http.ResponseWriter { return &readFromWriter{ResponseWriter: httptest.NewRecorder()} },
			handler: func(w http.ResponseWriter, r *http.Request) {
				// LimitReader hides strings.Reader's WriteTo, so io.Copy
				// takes the ReadFrom path.
				_, _ = io.Copy(w, io.LimitReader(strings.NewReader("0123456789"), 100))
				w.WriteHeader(http.StatusInternalServerError)
			},
		},
		{
			name:   "failed hijack",
			writer: func() http.ResponseWriter { return hijackWriter{httptest.NewRecorder()} },
			handler: func(w http.ResponseWriter, r *http.Request) {
				if _, _, err := w.(http.Hijacker).Hijack(); err == nil {
					t.Error("Hijack succeeded, want http.ErrNotSupported")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			w := tt.writer()
			m.Instrument("r", tt.handler).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if rf, ok := w.(*readFromWriter); ok && !rf.used {
				t.Error("io.Copy did not reach the underlying writer's ReadFrom")
			}

			families := scrape(t, m)
			labels := map[string]string{"route": "r", "method": "GET", "code": "200"}
			if got := counterValue(families, "dakenh_http_requests_total", labels); got != 1 {
				t.Errorf("dakenh_http_requests_total%v = %v, want 1", labels, got)
			}
			if n := seriesCount(families, "dakenh_http_requests_total"); n != 1 {
				t.Errorf("dakenh_http_requests_total has %d series, want 1", n)
			}
		})
	}
}

func TestInstrumentHijack(t *testing.T) {
	m := New()
	served := make(chan struct{})
	instrumented := m.Instrument("graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("instrumented writer is not an http.Hijacker")
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
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instrumented.ServeHTTP(w, r)
		// Metrics are recorded when the instrumented handler returns.
		close(served)
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
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

	families := scrape(t, m)
	labels := map[string]string{"route": "graphql", "method": "GET", "code": "101"}
	if got := counterValue(families, "dakenh_http_requests_total", labels); got != 1 {
		t.Errorf("dakenh_http_requests_total%v = %v, want 1", labels, got)
	}
}

func TestSanitizeMethod(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GET", "GET"},
		{"POST", "POST"},
		{"OPTIONS", "OPTIONS"},
		{"get", "OTHER"},
		{"PROPFIND", "OTHER"},
		{strings.Repeat("X", 1000), "OTHER"},
	}
	for _, tt := range tests {
		if got := sanitizeMethod(tt.in); got != tt.want {
			t.Errorf("sanitizeMethod(%.20q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
