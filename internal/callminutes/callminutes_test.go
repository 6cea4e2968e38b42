package callminutes

import (
	"testing"
	"time"
)

func TestMonth(t *testing.T) {
	for _, tc := range []struct {
		at     time.Time
		month  string
		resets time.Time
	}{
		// 23:59:59 on 31 December in Vietnam is still December.
		{time.Date(2026, 12, 31, 16, 59, 59, 0, time.UTC), "2026-12", time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)},
		// Midnight of 1 January in Vietnam, 17:00 UTC the day before.
		{time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), "2027-01", time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC)},
		// February 2027 ends on the 28th; 00:30 UTC on 1 March is March.
		{time.Date(2027, 2, 28, 16, 59, 0, 0, time.UTC), "2027-02", time.Date(2027, 2, 28, 17, 0, 0, 0, time.UTC)},
		{time.Date(2027, 3, 1, 0, 30, 0, 0, time.UTC), "2027-03", time.Date(2027, 3, 31, 17, 0, 0, 0, time.UTC)},
	} {
		month, resets := Month(tc.at)
		if month != tc.month || !resets.Equal(tc.resets) {
			t.Errorf("Month(%s) = %s, %s; want %s, %s", tc.at, month, resets, tc.month, tc.resets)
		}
	}
}

func TestMinutes(t *testing.T) {
	for d, want := range map[time.Duration]int{
		0: 0, -time.Second: 0, time.Second: 1, 59 * time.Second: 1, time.Minute: 1,
		61 * time.Second: 2, 150 * time.Second: 3, time.Hour: 60,
	} {
		if got := Minutes(d); got != want {
			t.Errorf("Minutes(%s) = %d, want %d", d, got, want)
		}
	}
}
