package event_test

import (
	"encoding/base64"
	"testing"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
)

func TestParseCursor(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	t.Run("EmptyMeansFromNow", func(t *testing.T) {
		c, err := event.ParseCursor("")
		if err != nil || !c.IsZero() || c.String() != "" {
			t.Errorf(`ParseCursor("") = %+v, %v; want the zero Cursor`, c, err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		for _, s := range []string{enc("v1:0"), enc("v1:1"), enc("v1:9223372036854775807")} {
			c, err := event.ParseCursor(s)
			if err != nil || c.IsZero() || c.String() != s {
				t.Errorf("ParseCursor(%q) = %+v (%q), %v", s, c, c.String(), err)
			}
		}
		if got, err := event.ParseCursor(event.Start.String()); err != nil || got != event.Start || got.Seq() != 0 {
			t.Errorf("Start does not round-trip: %+v, %v", got, err)
		}
	})

	for _, tc := range []struct{ name, in string }{
		{"ErrNotBase64", "not a cursor!"},
		{"ErrPadded", base64.URLEncoding.EncodeToString([]byte("v1:12"))},
		{"ErrStdAlphabet", "djE6Pz8/"}, // "v1:???" with the standard alphabet's "/"
		{"ErrNoVersion", enc("12")},
		{"ErrUnknownVersion", enc("v2:12")},
		{"ErrNotANumber", enc("v1:abc")},
		{"ErrNegative", enc("v1:-1")},
		{"ErrNonCanonical", enc("v1:012")},
		{"ErrPlusSign", enc("v1:+12")},
		{"ErrOverflow", enc("v1:9223372036854775808")},
		{"ErrGlobalID", "cnv_01JD3Q2V5Z8N4M7K1P6R9T0W2X"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := event.ParseCursor(tc.in)
			e, ok := apierr.As(err)
			if !ok || e.Code != apierr.BadUserInput || e.Field != "after" {
				t.Errorf("ParseCursor(%q) = %+v, %v; want BAD_USER_INPUT on after", tc.in, c, err)
			}
		})
	}
}
