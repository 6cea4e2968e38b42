package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxWebhookEndpoints bounds the endpoint label of the partner webhook
// metrics; endpoints past it are counted under "other".
const maxWebhookEndpoints = 1000

// The outcomes of a partner webhook attempt.
const (
	// WebhookDelivered: the partner answered 2xx in time.
	WebhookDelivered = "delivered"
	// WebhookRejected: the partner answered, but not 2xx.
	WebhookRejected = "rejected"
	// WebhookUnreachable: no answer came (connection, TLS, timeout).
	WebhookUnreachable = "unreachable"
	// WebhookRefused: the URL led to an address deliveries may not reach.
	WebhookRefused = "refused"
)

// webhookMetrics are the partner webhook delivery metrics.
type webhookMetrics struct {
	attempts  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	endpoints *labelLimiter
}

func newWebhookMetrics(reg *prometheus.Registry) *webhookMetrics {
	w := &webhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "webhook",
			Name:      "attempts_total",
			Help:      "Partner webhook delivery attempts, by endpoint ID and outcome: delivered, rejected (an answer other than 2xx), unreachable, refused (an address deliveries may not reach).",
		}, []string{"endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Subsystem: "webhook",
			Name:      "attempt_duration_seconds",
			Help:      "Partner webhook attempt latency, from the POST to the end of the answer (at most 10 s), by outcome.",
			Buckets:   []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		endpoints: newLabelLimiter(maxWebhookEndpoints),
	}
	reg.MustRegister(w.attempts, w.duration)
	return w
}

// WebhookAttempt records one attempt to deliver to endpoint, its outcome
// (WebhookDelivered, …) and how long it took.
func (m *Metrics) WebhookAttempt(endpoint, outcome string, d time.Duration) {
	m.webhooks.attempts.WithLabelValues(m.webhooks.endpoints.value(endpoint), outcome).Inc()
	m.webhooks.duration.WithLabelValues(outcome).Observe(d.Seconds())
}
