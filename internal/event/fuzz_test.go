package event

import (
	"testing"
)

// FuzzParseCursor: any string a client sends as `after` either is refused
// or names one position whose cursor is that very string.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", Start.String(), cursorAt(42).String(), "djE6NDI", "djE6LTE", "djE6MDU", "not-a-cursor", "v1:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if c.Seq() < 0 {
			t.Fatalf("ParseCursor(%q) = seq %d", s, c.Seq())
		}
		if c.String() != s {
			t.Fatalf("ParseCursor(%q) = %v, which encodes as %q", s, c, c.String())
		}
	})
}
