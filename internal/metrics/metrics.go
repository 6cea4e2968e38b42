// Package metrics exposes the server's Prometheus metrics: Go runtime and
// process statistics, HTTP request metrics per route, and GraphQL operation
// metrics, all kept on a registry private to one Metrics value.
//
// A private registry (rather than prometheus.DefaultRegisterer) is used so
// that tests can build several servers in one process without "duplicate
// metrics collector registration" panics, and so that nothing a dependency
// registers globally leaks into the scrape output by accident.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dakenh/dakenh/internal/httpstat"
)

// namespace prefixes every application metric so that they are easy to tell
// apart from the go_* and process_* metrics on the same endpoint.
const namespace = "dakenh"

// Label values used when the real value cannot or must not be used.
const (
	// labelOther is the overflow bucket for invalid or excess label values.
	labelOther = "other"
	// labelAnonymous is used for GraphQL operations without a name.
	labelAnonymous = "anonymous"
	// labelUnknown is used when a value is missing, e.g. an error without
	// extensions.code.
	labelUnknown = "unknown"
)

// Cardinality limits. Every distinct label value is a separate time series
// held in memory here and in Prometheus forever, and operation names and
// error codes can be influenced by clients, so both are bounded.
const (
	maxOperationNames = 200
	maxErrorCodes     = 50
)

// safeLabelValue is the shape accepted for client-influenced label values. It
// is the GraphQL name grammar with a length cap, which real operation names
// and error codes satisfy, while rejecting anything crafted to bloat the
// label set or the scrape output.
var safeLabelValue = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Metrics owns a Prometheus registry and the application metrics registered
// on it. Create it with New; the zero value is not usable. All methods are
// safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight *prometheus.GaugeVec

	gqlOperations *prometheus.CounterVec
	gqlDuration   *prometheus.HistogramVec
	gqlErrors     *prometheus.CounterVec
	gqlStopped    *prometheus.CounterVec

	operationNames *labelLimiter
	errorCodes     *labelLimiter

	webhooks *webhookMetrics
}

// New creates a Metrics with its own registry holding the Go runtime
// collector, the process collector and the dakenh_* HTTP and GraphQL
// metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests handled, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "HTTP request latency, by route, method and status code. WebSocket connections (code 101) are observed when they close.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		httpInFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Subsystem: "http",
			Name:      "requests_in_flight",
			Help:      "HTTP requests currently being served, including open WebSocket connections, by route.",
		}, []string{"route"}),
		gqlOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "graphql",
			Name:      "operations_total",
			Help:      "GraphQL operations started, by operation type and name. Subscriptions count once when they start.",
		}, []string{"operation_type", "operation_name"}),
		gqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Subsystem: "graphql",
			Name:      "operation_duration_seconds",
			Help:      "GraphQL query and mutation latency from request start to the final response, by operation type and name. Subscriptions are not observed.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"operation_type", "operation_name"}),
		gqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "graphql",
			Name:      "errors_total",
			Help:      "GraphQL errors returned to clients, by extensions.code, including parse and validation failures.",
		}, []string{"code"}),
		gqlStopped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "graphql",
			Name:      "operations_stopped_total",
			Help:      "GraphQL operations stopped before they finished, by reason: canceled (the client went away) or responseBytes (the response grew past its limit).",
		}, []string{"reason"}),
		operationNames: newLabelLimiter(maxOperationNames),
		errorCodes:     newLabelLimiter(maxErrorCodes),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.httpInFlight,
		m.gqlOperations, m.gqlDuration, m.gqlErrors, m.gqlStopped,
	)
	m.webhooks = newWebhookMetrics(reg)
	// Build the handler once: InstrumentMetricHandler and HandlerOpts.Registry
	// register promhttp_* collectors, and doing that per Handler() call
	// would be wasted work on every call after the first.
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector failing (e.g. /proc unreadable) should not blank the
		// whole scrape; the failure is counted in
		// promhttp_metric_handler_errors_total instead.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
	return m
}

// Registry returns the registry behind the /metrics endpoint, so that other
// packages (database pool, caches, ...) can register their own collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	return m.registry
}

// Handler returns the handler serving the registry in the Prometheus
// exposition format; mount it as "GET /metrics".
func (m *Metrics) Handler() http.Handler {
	return m.handler
}

// Instrument wraps h so that each request is counted and timed, labelled by
// route, method and status code, and tracked in the in-flight gauge for
// route. The route must be a fixed name chosen by the caller (for example
// "graphql"), never the raw request path: paths are client-controlled and
// would create unbounded time series.
//
// The ResponseWriter passed to h is wrapped by httpstat.Wrap, so it keeps
// exactly the optional interfaces (http.Flusher, http.Hijacker,
// io.ReaderFrom, ...) of the underlying writer and unwraps to it for
// http.ResponseController: SSE and WebSocket upgrades on /graphql keep
// working. A hijacked connection is recorded with code 101.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	// Curry the route once here rather than resolving it per request.
	requests := m.httpRequests.MustCurryWith(prometheus.Labels{"route": route})
	durations := m.httpDuration.MustCurryWith(prometheus.Labels{"route": route})

	// promhttp.InstrumentHandlerCounter/Duration are not used because their
	// response writer wrapper records a hijacked WebSocket upgrade as 200;
	// this one reports 101, matching what the client actually received and
	// what the request log says.
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww, rec := httpstat.Wrap(w)
		h.ServeHTTP(ww, r)
		method := sanitizeMethod(r.Method)
		code := strconv.Itoa(rec.Status())
		requests.WithLabelValues(method, code).Inc()
		durations.WithLabelValues(method, code).Observe(time.Since(start).Seconds())
	})
	return promhttp.InstrumentHandlerInFlight(m.httpInFlight.WithLabelValues(route), counted)
}

// sanitizeMethod maps the request method onto a fixed set, because the
// method is client-controlled and any token is syntactically valid.
func sanitizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodConnect,
		http.MethodOptions, http.MethodTrace:
		return method
	default:
		return "OTHER"
	}
}
