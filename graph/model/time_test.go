package model

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TestMarshalTimeAsGqlgen writes times byte for byte as gqlgen's
// MarshalTime, into the executor's bytes.Buffer and into another writer.
func TestMarshalTimeAsGqlgen(t *testing.T) {
	hcm := time.FixedZone("ICT", 7*3600)
	for _, tm := range []time.Time{
		{}, time.Date(2026, 12, 3, 6, 27, 13, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456789, hcm),
		time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC), time.Unix(0, 1),
	} {
		var want, got bytes.Buffer
		graphql.MarshalTime(tm).MarshalGQL(&want)
		got.WriteString("x") // what the buffer holds before is kept
		MarshalTime(tm).MarshalGQL(&got)
		var other strings.Builder
		MarshalTime(tm).MarshalGQL(&other)
		if got.String() != "x"+want.String() || other.String() != want.String() {
			t.Errorf("%v: wrote %s and %s, want %s", tm, got.String(), other.String(), want.String())
		}
		back, err := UnmarshalTime(strings.Trim(want.String(), `"`))
		if !tm.IsZero() && (err != nil || !back.Equal(tm)) {
			t.Errorf("%v: read back %v, %v", tm, back, err)
		}
	}
}
