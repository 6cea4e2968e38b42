package delivery

import (
	"unicode/utf8"

	"github.com/dakenh/dakenh/internal/gid"
)

// Budget is what a claim may still take of each key (a channel), given the
// rows already leased to any worker: at most max per key. A Queue builds
// one from its in-flight counts, leaves Full keys out of its selection, so
// that their backlog cannot fill it and starve the others, and asks Take
// for each candidate.
type Budget struct {
	max  int
	left map[gid.ID]int
}

// NewBudget returns the budget of a claim when inFlight rows of each key
// are leased.
func NewBudget(max int, inFlight map[gid.ID]int) *Budget {
	b := &Budget{max: max, left: make(map[gid.ID]int, len(inFlight))}
	for k, n := range inFlight {
		b.left[k] = max - n
	}
	return b
}

// Full lists the keys that have no room left.
func (b *Budget) Full() []gid.ID {
	var full []gid.ID
	for k, n := range b.left {
		if n <= 0 {
			full = append(full, k)
		}
	}
	return full
}

// Take reports whether one more row of key may be claimed, and counts it.
func (b *Budget) Take(key gid.ID) bool {
	n, seen := b.left[key]
	if !seen {
		n = b.max
	}
	if n <= 0 {
		return false
	}
	b.left[key] = n - 1
	return true
}

// Truncate shortens s to at most n bytes on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
