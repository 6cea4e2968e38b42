package phone

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeInputShapes(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"national with spaces", "0912 345 678", "+84912345678"},
		{"national compact", "0912345678", "+84912345678"},
		{"plus with dashes", "+84 912-345-678", "+84912345678"},
		{"country code without plus", "84912345678", "+84912345678"},
		{"parenthesised plus with dots", "(+84) 912.345.678", "+84912345678"},
		{"international prefix 00", "0084912345678", "+84912345678"},
		{"international prefix 00 spaced", "00 84 912 345 678", "+84912345678"},
		{"trunk 0 kept after country code", "+84 0912 345 678", "+84912345678"},
		{"trunk 0 kept after country code without plus", "840912345678", "+84912345678"},
		{"trunk 0 dropped by a spreadsheet", "912345678", "+84912345678"},
		{"084 mobile without trunk 0 is not a country code", "841234567", "+84841234567"},
		{"084 mobile with trunk 0", "0841 234 567", "+84841234567"},
		{"084 mobile with country code", "84841234567", "+84841234567"},
		{"slashes", "091/234/5678", "+84912345678"},
		{"surrounding whitespace", " \t0912345678\n", "+84912345678"},
		{"no-break spaces", "0912\u00a0345\u00a0678", "+84912345678"},
		{"bidi marks from a copied contact", "\u202a+84 912 345 678\u202c", "+84912345678"},
		{"en dash", "0912–345–678", "+84912345678"},
		{"Hanoi landline", "024 3825 1234", "+842438251234"},
		{"MobiFone 089, unknown to libphonenumber", "089 123 4567", "+84891234567"},
		{"Vietnamobile 052, unknown to libphonenumber", "0521234567", "+84521234567"},
		{"Hanoi landline international", "+84 24 3825 1234", "+842438251234"},
		{"Ho Chi Minh City landline", "(028) 3829 1234", "+842838291234"},
		{"toll free", "1800 1234", "+8418001234"},
		{"toll free international", "+84 1800 1234", "+8418001234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw)
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

// TestNormalizeOldMobilePrefixes checks every pre-2018 prefix in each way it
// is written. The table is deliberately a second copy of the renumbering, so
// a typo in the production table cannot also fix the expectation.
func TestNormalizeOldMobilePrefixes(t *testing.T) {
	renumbering := []struct{ carrier, old, new string }{
		{"Viettel", "0162", "032"},
		{"Viettel", "0163", "033"},
		{"Viettel", "0164", "034"},
		{"Viettel", "0165", "035"},
		{"Viettel", "0166", "036"},
		{"Viettel", "0167", "037"},
		{"Viettel", "0168", "038"},
		{"Viettel", "0169", "039"},
		{"MobiFone", "0120", "070"},
		{"MobiFone", "0121", "079"},
		{"MobiFone", "0122", "077"},
		{"MobiFone", "0126", "076"},
		{"MobiFone", "0128", "078"},
		{"VinaPhone", "0123", "083"},
		{"VinaPhone", "0124", "084"},
		{"VinaPhone", "0125", "085"},
		{"VinaPhone", "0127", "081"},
		{"VinaPhone", "0129", "082"},
		{"Vietnamobile", "0186", "056"},
		{"Vietnamobile", "0188", "058"},
		{"Gmobile", "0199", "059"},
	}
	if len(renumbering) != len(oldMobilePrefixes) {
		t.Errorf("test covers %d old prefixes, production table has %d", len(renumbering), len(oldMobilePrefixes))
	}
	const subscriber = "4567890"
	for _, r := range renumbering {
		want := "+84" + r.new[1:] + subscriber
		oldNSN := r.old[1:] + subscriber
		shapes := map[string]string{
			"national":         r.old + subscriber,
			"national spaced":  r.old + " " + subscriber[:3] + " " + subscriber[3:],
			"no trunk 0":       oldNSN,
			"country code":     "84" + oldNSN,
			"plus":             "+84" + oldNSN,
			"plus spaced":      "+84 " + r.old[1:] + " " + subscriber,
			"00":               "0084" + oldNSN,
			"plus and trunk 0": "+84" + r.old + subscriber,
		}
		for shape, raw := range shapes {
			t.Run(r.carrier+" "+r.old+" "+shape, func(t *testing.T) {
				got, err := Normalize(raw)
				if err != nil || got != want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", raw, got, err, want)
				}
			})
		}
		t.Run(r.carrier+" "+r.new+" current form", func(t *testing.T) {
			raw := r.new + subscriber
			got, err := Normalize(raw)
			if err != nil || got != want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", raw, got, err, want)
			}
		})
	}
}

func TestNormalizeForeign(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"Singapore mobile", "+65 9123 4567", "+6591234567"},
		{"Singapore via 00", "0065 9123 4567", "+6591234567"},
		{"United States", "+1 (202) 555-0123", "+12025550123"},
		{"United Kingdom landline", "+44 20 7946 0958", "+442079460958"},
		{"United Kingdom trunk 0 after country code", "+44 (0)20 7946 0958", "+442079460958"},
		{"Thailand mobile", "+66 81 234 5678", "+66812345678"},
		{"Japan mobile", "+81 90-1234-5678", "+819012345678"},
		{"Korea mobile", "+82 10-1234-5678", "+821012345678"},
		{"China mobile", "+86 138 0013 8000", "+8613800138000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw)
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct {
		name, raw, wantMsg string
	}{
		{"empty", "", "empty"},
		{"blank", "  \t ", "empty"},
		{"punctuation only", "(--)", "no digits"},
		{"plus only", "+", "no digits after the international prefix"},
		{"00 only", "00", "no digits after the international prefix"},
		{"letters", "abc", "unexpected character 'a' at position 1"},
		{"letter inside", "0912 345 67a", "unexpected character 'a' at position 12"},
		{"position counts characters not bytes", "\u00a0\u00a0x", "unexpected character 'x' at position 3"},
		{"vanity letters", "1800-FLOWERS", "unexpected character 'F'"},
		{"extension", "024 3825 1234 ext 12", "unexpected character 'e'"},
		{"hash extension", "024 3825 1234#12", "unexpected character '#'"},
		{"comma separated list", "0912345678, 0987654321", "unexpected character ','"},
		{"full-width digits", "０９１２３４５６７８", "unexpected character '０'"},
		{"invalid UTF-8", "0912\xff345678", "unexpected character"},
		{"plus after digits", "84+912345678", "misplaced '+' at position 3"},
		{"two pluses", "++84912345678", "misplaced '+' at position 2"},
		{"too short", "0912", "too short"},
		{"too short mobile", "091234567", "not a valid Vietnamese number"},
		{"too long mobile", "09123456789", "not a valid Vietnamese number"},
		{"too long for E.164", "+84 9123 4567 8901 23", "too long"},
		{"absurdly long", strings.Repeat("0912345678", 10), "too long"},
		{"unassigned range", "0281234567", "not a valid Vietnamese number"},
		{"unassigned old-looking prefix", "01301234567", "not a valid Vietnamese number"},
		{"unknown country code", "+999 1234 5678", "unknown country code"},
		{"foreign number without plus is read as Vietnamese", "6591234567", "not a valid Vietnamese number"},
		{"invalid foreign number", "+65 1234 5678", "not a valid number for country code +65"},
		{"too short foreign number", "+65 12", "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw)
			if err == nil {
				t.Fatalf("Normalize(%q) = %q, want an error", tt.raw, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Normalize(%q) error %v does not wrap ErrInvalid", tt.raw, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Normalize(%q) error %q, want it to mention %q", tt.raw, err, tt.wantMsg)
			}
			if got != "" {
				t.Errorf("Normalize(%q) returned %q alongside an error", tt.raw, got)
			}
		})
	}
}

func TestNational(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+84912345678", "0912345678"},
		{"+842438251234", "02438251234"},
		{"+6591234567", "+6591234567"},
		{"+12025550123", "+12025550123"},
		{"+84", "+84"},
		{"84912345678", "84912345678"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := National(tt.in); got != tt.want {
			t.Errorf("National(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDigits(t *testing.T) {
	for in, want := range map[string]string{"+84912345678": "84912345678", "+6591234567": "6591234567", "": ""} {
		if got := Digits(in); got != want {
			t.Errorf("Digits(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSearchForms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"+84912345678", []string{"+84912345678", "0912345678"}},
		{"+842438251234", []string{"+842438251234", "02438251234"}},
		{"+6591234567", []string{"+6591234567"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := SearchForms(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SearchForms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNormalizeIsStable checks that stored numbers survive being normalized
// again, e.g. by a re-import.
func TestNormalizeIsStable(t *testing.T) {
	for _, raw := range []string{"0912345678", "01621234567", "024 3825 1234", "1800 1234", "+65 9123 4567", "+44 20 7946 0958"} {
		first, err := Normalize(raw)
		if err != nil {
			t.Fatalf("Normalize(%q): %v", raw, err)
		}
		again := first
		if second, err := Normalize(again); err != nil || second != first {
			t.Errorf("Normalize(%q) = %q, %v; want %q", again, second, err, first)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{"0912 345 678", "+84 162 123 4567", "0084912345678", "+65 9123 4567", "024 3825 1234", "84", "+", "00", "",
		"(+84) 90-123-4567", "+84 0912345678", "+84\u200b912345678", "091234567890123456", "0912345678 ext 5"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Normalize(%q) error %v does not wrap ErrInvalid", raw, err)
			}
			return
		}
		digits, ok := strings.CutPrefix(got, "+")
		if !ok || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("Normalize(%q) = %q, not E.164", raw, got)
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; want %q", got, again, err, got)
		}
		// A Vietnamese number shown in its national form reads back as the
		// same number.
		if nat := National(got); nat != got {
			if back, err := Normalize(nat); err != nil || back != got {
				t.Fatalf("the national form %q of %q normalizes to %q, %v", nat, got, back, err)
			}
		}
	})
}

func ExampleNormalize() {
	for _, raw := range []string{"0912 345 678", "(+84) 162.123.4567", "+65 9123 4567", "0912 ABC"} {
		e164, err := Normalize(raw)
		fmt.Printf("%q %v\n", e164, err)
	}
	// Output:
	// "+84912345678" <nil>
	// "+84321234567" <nil>
	// "+6591234567" <nil>
	// "" invalid phone number: unexpected character 'A' at position 6
}
