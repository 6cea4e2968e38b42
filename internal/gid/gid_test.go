package gid

import (
	"strconv"
	"strings"
	"testing"
)

func TestNewAndTypeOf(t *testing.T) {
	for typ := range prefixes {
		t.Run(typ, func(t *testing.T) {
			id := New(typ)
			if !strings.HasPrefix(string(id), prefixes[typ]+"_") {
				t.Fatalf("New(%q) = %q, want prefix %q", typ, id, prefixes[typ])
			}
			got, err := TypeOf(id)
			if err != nil || got != typ {
				t.Fatalf("TypeOf(%q) = %q, %v; want %q", id, got, err, typ)
			}
		})
	}
}

func TestTypeOfRejectsMalformed(t *testing.T) {
	for _, s := range []string{"", "cus", "cus_", "cus_123", "zzz_01JD3Q2V5Z8N4M7K1P6R9T0W2X", "cus_01JD3Q2V5Z8N4M7K1P6R9T0W2!", "42"} {
		t.Run(s, func(t *testing.T) {
			if typ, err := TypeOf(ID(s)); err == nil {
				t.Fatalf("TypeOf(%q) = %q, want an error", s, typ)
			}
		})
	}
}

func TestNewIsMonotonic(t *testing.T) {
	prev := New("Customer")
	for i := 0; i < 1000; i++ {
		next := New("Customer")
		if next <= prev {
			t.Fatalf("IDs not increasing: %q then %q", prev, next)
		}
		prev = next
	}
}

// TestMarshalGQLQuotes writes every ID as strconv.Quote does, the IDs the
// server makes and strings a client sent alike.
func TestMarshalGQLQuotes(t *testing.T) {
	for _, id := range []ID{New("Customer"), "", "abc", `a"b`, `a\b`, "a\nb", "khách", "\x7f", "tab\there"} {
		var b strings.Builder
		id.MarshalGQL(&b)
		if want := strconv.Quote(string(id)); b.String() != want {
			t.Errorf("%q: wrote %s, want %s", string(id), b.String(), want)
		}
	}
}
