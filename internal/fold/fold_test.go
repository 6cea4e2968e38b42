package fold

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

var stringTests = []struct {
	name, in, want string
}{
	{"brief example", "  Nguyễn   Văn ĐẠT ", "nguyen van dat"},
	{"acute and hook", "Trần Thị Ánh Tuyết", "tran thi anh tuyet"},
	{"horn letters", "Phạm Hồng Sơn", "pham hong son"},
	{"tilde on y", "Lê Thị Mỹ Dung", "le thi my dung"},
	{"capital with circumflex and hook", "Huỳnh Ngọc Ẩn", "huynh ngoc an"},
	{"capital đ", "Đặng Quốc Bảo", "dang quoc bao"},
	{"hook on ư", "Võ Thị Ửng", "vo thi ung"},
	{"ươ with dot", "Bùi Xuân Phượng", "bui xuan phuong"},
	{"grave on y", "Dương Thị Kỳ Duyên", "duong thi ky duyen"},
	{"dot below on y", "Lý Thị Hỵ", "ly thi hy"},
	{"ư with tilde", "Trương Vĩnh Ký Lữ", "truong vinh ky lu"},
	{"all caps", "NGUYỄN THỊ ÚT", "nguyen thi ut"},
	{"lowercase đ", "đinh đức", "dinh duc"},
	{"decomposed input from macOS", "Nguye\u0302\u0303n Va\u0306n \u0110a\u0323t", "nguyen van dat"},
	{"marks in non-canonical order", "Nguye\u0303\u0302n", "nguyen"},
	{"legacy eth for đ", "ÐINH ðức", "dinh duc"},
	{"email", "Dat.Nguyen+CRM@Example.COM", "dat.nguyen+crm@example.com"},
	{"email with diacritics", "  Tuyết.Trần@công-ty.vn ", "tuyet.tran@cong-ty.vn"},
	{"company name", "Công ty TNHH Thương mại ABC-123", "cong ty tnhh thuong mai abc-123"},
	{"already folded", "nguyen van dat", "nguyen van dat"},
	{"ascii needing lowercase", "Nguyen Van Dat", "nguyen van dat"},
	{"ascii needing trim", " nguyen van dat", "nguyen van dat"},
	{"ascii trailing space", "nguyen van dat ", "nguyen van dat"},
	{"ascii double space", "nguyen  van", "nguyen van"},
	{"ascii tab", "nguyen\tvan", "nguyen van"},
	{"mixed whitespace", "\tNguyễn\r\n Văn\u00a0\u2003Đạt\n", "nguyen van dat"},
	{"digits and punctuation", "Số 12, Phố Huế", "so 12, pho hue"},
	{"empty", "", ""},
	{"whitespace only", " \t\n\u00a0", ""},
	{"single letter", "Đ", "d"},
	{"other latin accents", "Café Müller Ñoño Ångström", "cafe muller nono angstrom"},
	{"letters that are not decomposable stay", "Straße Łódź Øre", "straße łodz øre"},
	{"non-latin script", "ΆΡΗΣ Москва", "αρησ москва"},
	{"invalid UTF-8 becomes the replacement character", "Nguy\xffễn", "nguy\ufffden"},
}

func TestString(t *testing.T) {
	for _, tt := range stringTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Fatalf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestStringEveryVietnameseLetter folds each vowel with each of the five tone
// marks (and none), in both cases, and đ.
func TestStringEveryVietnameseLetter(t *testing.T) {
	letters := []struct {
		base     string
		variants string // no tone, sắc, huyền, hỏi, ngã, nặng; lower then upper
	}{
		{"a", "aáàảãạAÁÀẢÃẠ"},
		{"a", "ăắằẳẵặĂẮẰẲẴẶ"},
		{"a", "âấầẩẫậÂẤẦẨẪẬ"},
		{"e", "eéèẻẽẹEÉÈẺẼẸ"},
		{"e", "êếềểễệÊẾỀỂỄỆ"},
		{"i", "iíìỉĩịIÍÌỈĨỊ"},
		{"o", "oóòỏõọOÓÒỎÕỌ"},
		{"o", "ôốồổỗộÔỐỒỔỖỘ"},
		{"o", "ơớờởỡợƠỚỜỞỠỢ"},
		{"u", "uúùủũụUÚÙỦŨỤ"},
		{"u", "ưứừửữựƯỨỪỬỮỰ"},
		{"y", "yýỳỷỹỵYÝỲỶỸỴ"},
		{"d", "đĐ"},
	}
	for _, l := range letters {
		for _, r := range l.variants {
			for _, in := range []string{string(r), norm.NFD.String(string(r))} {
				if got := String(in); got != l.base {
					t.Errorf("String(%q) = %q, want %q", in, got, l.base)
				}
			}
		}
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"  Nguyễn   Văn ĐẠT ", []string{"nguyen", "van", "dat"}},
		{"dat.nguyen@example.com", []string{"dat.nguyen@example.com"}},
		{"Đạt", []string{"dat"}},
		{"", nil},
		{" \t ", nil},
	}
	for _, tt := range tests {
		if got := Terms(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Terms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// reference is the straightforward definition of String, built from
// golang.org/x/text transformers; String must agree with it exactly.
func reference(s string) string {
	t := transform.Chain(
		norm.NFD,
		runes.Remove(runes.In(unicode.Mn)),
		runes.Map(func(r rune) rune {
			r = unicode.ToLower(r)
			if r == 'đ' || r == 'ð' {
				return 'd'
			}
			return r
		}),
	)
	out, _, err := transform.String(t, s)
	if err != nil {
		panic(err)
	}
	return strings.Join(strings.Fields(out), " ")
}

func TestStringMatchesReference(t *testing.T) {
	for _, tt := range stringTests {
		if got, want := String(tt.in), reference(tt.in); got != want {
			t.Errorf("String(%q) = %q, reference gives %q", tt.in, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, tt := range stringTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		// The reference is defined on valid UTF-8 (x/text's normalizer
		// passes text after an invalid byte through unfolded); String
		// reads each invalid byte as U+FFFD, so it is compared with the
		// reference of that reading.
		if want := reference(replaceInvalid(s)); got != want {
			t.Fatalf("String(%q) = %q, reference gives %q", s, got, want)
		}
		if again := String(got); again != got {
			t.Fatalf("String is not idempotent: String(%q) = %q", got, again)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("String(%q) = %q, not valid UTF-8", s, got)
		}
	})
}

// TestStringAllocations guards the property that makes String cheap enough
// to run on every write and search. Under -race sync.Pool drops some values
// on purpose, but AllocsPerRun truncates the average, so the limits hold.
func TestStringAllocations(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"nguyen van dat", 0},
		{"Nguyen Van Dat", 1},
		{"Nguyễn Văn Đạt", 1},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, func() { _ = String(tt.in) }); got > tt.want {
			t.Errorf("String(%q) allocates %v times, want at most %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkString(b *testing.B) {
	inputs := []struct{ name, in string }{
		{"ascii-folded", "nguyen van dat"},
		{"ascii", "  Nguyen   Van DAT "},
		{"email", "Dat.Nguyen@Example.COM"},
		{"vietnamese", "Trần Thị Ánh Tuyết"},
		{"vietnamese-long", "Công ty TNHH Thương mại và Dịch vụ Kỹ thuật Đức Phượng, 123 Phố Huế, Hai Bà Trưng, Hà Nội"},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.in)))
			for b.Loop() {
				_ = String(in.in)
			}
		})
	}
}

// replaceInvalid replaces each byte of s that is not part of a valid UTF-8
// sequence with U+FFFD, as utf8.DecodeRuneInString reads it.
func replaceInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
