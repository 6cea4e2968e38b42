package metrics

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

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
			name:      "explicit status",
			route:     "api",
			handler:   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			requests:  []request{{http.MethodGet, "/a"}},
			method:    http.MethodGet,
			wantCode:  "404",
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

// hijackWriter's Hijack succeeds, as net/http's does for an HTTP/1.x
// request, without a real connection.
type hijackWriter struct{ http.ResponseWriter }

func (hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	client, server := net.Pipe()
	_ = client.Close()
	return server, nil, nil
}

// TestInstrumentRecordsWithHTTPStat checks that h gets the server's writer
// wrapped by httpstat and that the status httpstat records is the code
// label, including 101 for a hijacked connection (a WebSocket upgrade),
// which promhttp's own wrapper would count as 200. The recording rules
// themselves are tested in package httpstat.
func TestInstrumentRecordsWithHTTPStat(t *testing.T) {
	m := New()
	w := hijackWriter{httptest.NewRecorder()}
	var unwraps bool
	h := m.Instrument("graphql", http.HandlerFunc(func(ww http.ResponseWriter, r *http.Request) {
		u, ok := ww.(interface{ Unwrap() http.ResponseWriter })
		unwraps = ok && u.Unwrap() == w
		hj, ok := ww.(http.Hijacker)
		if !ok {
			t.Error("instrumented writer is not an http.Hijacker")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		_ = conn.Close()
	}))
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/graphql", nil))
	if !unwraps {
		t.Error("instrumented writer does not Unwrap to the original")
	}

	families := scrape(t, m)
	labels := map[string]string{"route": "graphql", "method": "GET", "code": "101"}
	if got := counterValue(families, "dakenh_http_requests_total", labels); got != 1 {
		t.Errorf("dakenh_http_requests_total%v = %v, want 1", labels, got)
	}
	if got := histogramCount(families, "dakenh_http_request_duration_seconds", labels); got != 1 {
		t.Errorf("dakenh_http_request_duration_seconds%v count = %v, want 1", labels, got)
	}
	if n := seriesCount(families, "dakenh_http_requests_total"); n != 1 {
		t.Errorf("dakenh_http_requests_total has %d series, want 1", n)
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
