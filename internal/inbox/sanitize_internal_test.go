package inbox

import (
	"strings"
	"testing"
)

func TestStripNUL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"NoNUL", `{"a":"x\\u0000y"}`, `{"a":"x\\u0000y"}`},
		{"InValue", `{"a":"x\u0000y","n":12345678901234567890}`, `{"a":"xy","n":12345678901234567890}`},
		{"InKeyAndArray", `{"k\u0000":["\u0000",1.5]}`, `{"k":["",1.5]}`},
		{"EscapedBackslashThenNUL", `{"a":"\\\u0000<"}`, `{"a":"\\<"}`},
		{"NotJSON", `{"a":"\u0000`, `{"a":"\u0000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(stripNUL([]byte(tc.in))); got != tc.want {
				t.Errorf("stripNUL(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestFitID(t *testing.T) {
	long := strings.Repeat("x", 101)
	if got := fitID(long, 100); !strings.HasPrefix(got, "sha256:") || len(got) > 100 || got != fitID(long, 100) {
		t.Errorf("fitID(101 bytes) = %q", got)
	}
	if got := fitID("a\x00b\xff", 100); got != "ab\uFFFD" {
		t.Errorf("fitID cleans to %q", got)
	}
}
