package delivery

import (
	"slices"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/gid"
)

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{10, 150 * time.Second, 300 * time.Second},
		{MaxAttempts, 150 * time.Second, 300 * time.Second},
		{1000, 150 * time.Second, 300 * time.Second},
	} {
		for _, jitter := range []float64{0, 0.5, 0.999999} {
			if d := RetryDelay(tc.attempt, jitter); d < tc.lo || d > tc.hi {
				t.Errorf("RetryDelay(%d, %v) = %v, want within [%v, %v]", tc.attempt, jitter, d, tc.lo, tc.hi)
			}
		}
	}
}

func TestBudget(t *testing.T) {
	b := NewBudget(2, map[gid.ID]int{"busy": 2, "one": 1})
	if full := b.Full(); len(full) != 1 || full[0] != "busy" {
		t.Errorf("Full() = %v, want [busy]", full)
	}
	var got []bool
	for _, k := range []gid.ID{"busy", "one", "one", "new", "new", "new"} {
		got = append(got, b.Take(k))
	}
	if want := []bool{false, true, false, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("Take = %v, want %v", got, want)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"ạb", 2, ""}, // ạ is three bytes: never cut inside it
		{"aạb", 3, "a"},
		{"aạb", 4, "aạ"},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
