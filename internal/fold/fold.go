// Package fold builds search keys that ignore case and Vietnamese diacritics,
// so that "nguyen van dat" finds "Nguyễn Văn Đạt".
//
// Vietnamese users routinely type without tone marks (on phones, in
// spreadsheets, on keyboards without a Telex/VNI input method), and a search
// that required exact diacritics would miss most customers. Both the stored
// column and the query go through String, so they only have to agree with
// each other; the result is a key, not text to display.
package fold

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// String returns s lowercased, without combining marks (accents, tones,
// breves, horns and the like, in any script), with đ read as d and with each
// run of whitespace collapsed to a single space, trimmed at both ends.
//
// Marks are removed after canonical decomposition (NFD) rather than from a
// table of Vietnamese letters, so precomposed and decomposed input fold alike
// and text copied from macOS, Word or the web needs no special casing. Đ gets
// its own mapping because its stroke is part of the letter, not a combining
// mark, so decomposition leaves it intact. Scripts that decompose into
// letters rather than marks, such as Hangul, come out decomposed, which is
// harmless in a key because queries fold the same way.
//
// String runs on every customer write and search, so ASCII input costs at
// most one allocation and none when it is already folded, and other input is
// decomposed with a pooled norm.Iter instead of a transform chain, which
// would allocate its buffers and an intermediate string on every call.
func String(s string) string {
	switch folded, ascii := asciiFolded(s); {
	case folded:
		return s
	case ascii:
		return foldASCII(s)
	}

	var w spaceWriter
	w.Grow(len(s))
	it := iters.Get().(*norm.Iter)
	defer func() {
		// Zeroing drops the Iter's reference to s, which the pool would
		// otherwise keep alive until the next garbage collection.
		*it = norm.Iter{}
		iters.Put(it)
	}()
	it.InitString(norm.NFD, s)
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			r, size := utf8.DecodeRune(seg)
			seg = seg[size:]
			if unicode.Is(unicode.Mn, r) {
				continue
			}
			w.add(foldRune(r))
		}
	}
	return w.String()
}

// iters holds norm.Iter values for String: an Iter is too large and escapes
// through its function fields, so a fresh one per call would be the
// dominant allocation.
var iters = sync.Pool{New: func() any { return new(norm.Iter) }}

// Terms returns the words of String(s), so that a multi-word query can match
// each word separately ("dat nguyen" finds "Nguyễn Văn Đạt"). It returns nil
// for input with no words.
func Terms(s string) []string {
	folded := String(s)
	if folded == "" {
		return nil
	}
	return strings.Split(folded, " ")
}

// foldRune lowercases r and maps the stroked d, the one Vietnamese letter
// that decomposition does not reduce to its base.
func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	switch r {
	case 'đ':
		return 'd'
	case 'ð':
		// Eth is not Vietnamese, but legacy font conversions and
		// look-alike keyboards put it (as Ð) in place of Đ, and a customer
		// whose name was stored that way should still be found.
		return 'd'
	}
	return r
}

// asciiFolded reports whether s is pure ASCII and, if so, whether it is
// already folded, in which case String can return it without copying.
func asciiFolded(s string) (folded, ascii bool) {
	folded = true
	prevSpace := true // a leading space is not folded
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return false, false
		case c == ' ':
			if prevSpace {
				folded = false
			}
			prevSpace = true
		case isASCIISpace(c), 'A' <= c && c <= 'Z':
			folded = false
			prevSpace = false
		default:
			prevSpace = false
		}
	}
	if prevSpace && len(s) > 0 {
		folded = false // trailing space
	}
	return folded, true
}

// foldASCII is String for input known to be ASCII, which needs neither
// decomposition nor UTF-8 decoding.
func foldASCII(s string) string {
	var w spaceWriter
	w.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		w.add(rune(c))
	}
	return w.String()
}

// isASCIISpace reports whether c is one of the ASCII characters that
// unicode.IsSpace accepts, so the ASCII and general paths agree.
func isASCIISpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// spaceWriter writes folded runes, collapsing whitespace as it goes so String
// needs no second pass: a space is only written once a non-space follows it,
// which also drops leading and trailing whitespace.
type spaceWriter struct {
	strings.Builder
	pending bool
}

// add is the only way runes reach the builder, so no path can skip the
// whitespace collapsing.
func (w *spaceWriter) add(r rune) {
	if unicode.IsSpace(r) {
		w.pending = w.Len() > 0
		return
	}
	if w.pending {
		w.WriteByte(' ')
		w.pending = false
	}
	if r < utf8.RuneSelf {
		w.WriteByte(byte(r))
	} else {
		w.WriteRune(r)
	}
}
