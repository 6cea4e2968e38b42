package metrics

import (
	"fmt"
	"testing"
	"time"
)

// TestWebhookAttempt: attempts count per endpoint and outcome, and
// endpoints past the label limit count as "other".
func TestWebhookAttempt(t *testing.T) {
	m := New()
	m.WebhookAttempt("whe_A", WebhookDelivered, 20*time.Millisecond)
	m.WebhookAttempt("whe_A", WebhookDelivered, 30*time.Millisecond)
	m.WebhookAttempt("whe_A", WebhookRejected, time.Second)
	m.WebhookAttempt("whe_B", WebhookRefused, 0)
	for i := range maxWebhookEndpoints {
		m.WebhookAttempt(fmt.Sprintf("whe_%d", i), WebhookUnreachable, 0)
	}
	families := scrape(t, m)
	for _, tc := range []struct {
		endpoint, outcome string
		want              float64
	}{
		{"whe_A", WebhookDelivered, 2},
		{"whe_A", WebhookRejected, 1},
		{"whe_B", WebhookRefused, 1},
		{"whe_0", WebhookUnreachable, 1},
		{labelOther, WebhookUnreachable, 2},
	} {
		if got := counterValue(families, "dakenh_webhook_attempts_total", map[string]string{"endpoint": tc.endpoint, "outcome": tc.outcome}); got != tc.want {
			t.Errorf("%s %s = %v, want %v", tc.endpoint, tc.outcome, got, tc.want)
		}
	}
}
