package partner_test

import (
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/partner"
)

// TestRetryDelay: the backoff doubles from a minute to its 4 h cap with
// jitter, and MaxAttempts span at least 24 hours however the jitter falls.
func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{1, 30 * time.Second, time.Minute},
		{2, time.Minute, 2 * time.Minute},
		{5, 8 * time.Minute, 16 * time.Minute},
		{8, 64 * time.Minute, 128 * time.Minute},
		{9, 2 * time.Hour, 4 * time.Hour},
		{10, 2 * time.Hour, 4 * time.Hour},
		{1000, 2 * time.Hour, 4 * time.Hour},
	} {
		for _, j := range []float64{0, 0.5, 0.999999} {
			if d := partner.RetryDelay(tc.attempt, j); d < tc.lo || d > tc.hi {
				t.Errorf("RetryDelay(%d, %v) = %v, want within [%v, %v]", tc.attempt, j, d, tc.lo, tc.hi)
			}
		}
	}
	var shortest, longest time.Duration
	for a := 1; a < partner.MaxAttempts; a++ {
		shortest += partner.RetryDelay(a, 0)
		longest += partner.RetryDelay(a, 0.999999)
	}
	if shortest < 24*time.Hour || longest > 72*time.Hour {
		t.Fatalf("%d attempts span %v to %v, want at least 24 h and less than the 3 days that disable an endpoint", partner.MaxAttempts, shortest, longest)
	}
}
