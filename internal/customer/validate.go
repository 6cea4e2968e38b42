package customer

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/fold"
	"github.com/dakenh/dakenh/internal/phone"
)

// The longest values ent/schema accepts, in bytes as ent's MaxLen counts
// them. They are checked here too so that an over-long value is reported as
// BAD_USER_INPUT on its field (and as a row error by Import) rather than as an
// ent validation error after the batch has started writing.
const (
	maxNameLen    = 200
	maxEmailLen   = 254
	maxAddressLen = 500
	maxTagNameLen = 100
)

// DateLayout is the form of birthdays and DATE custom fields in CSV and
// custom field values: a calendar date, with no time or zone to drift.
const DateLayout = "2006-01-02"

// TagSeparator separates tag names in the CSV tags column, which is why a tag
// name may not contain it.
const TagSeparator = ";"

// NormalizeName trims a customer's name and rejects an empty or over-long
// one.
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", apierr.BadInput("name", "name is required")
	case !isText(s):
		return "", apierr.BadInput("name", "name contains characters that are not text")
	case len(s) > maxNameLen:
		return "", apierr.BadInput("name", "name is longer than %d bytes", maxNameLen)
	}
	return s, nil
}

// NormalizePhone returns a phone number in E.164 (+84912345678)
// (see phone.Normalize), or "" for a blank input, which clears the field.
func NormalizePhone(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	n, err := phone.Normalize(s)
	if err != nil {
		// phone's messages describe the input ("too short", "unexpected
		// character 'x' at position 3"), never the server, so they are safe
		// to show.
		return "", apierr.BadInput("phone", "%q is not a valid phone number: %s", s, strings.TrimPrefix(err.Error(), phone.ErrInvalid.Error()+": "))
	}
	return n, nil
}

// NormalizeEmail trims and lower-cases an email address and checks that it
// is a plain address (no display name, no comments) whose domain has a dot,
// or returns "" for a blank input, which clears the field. Addresses are
// compared case-insensitively by everyone in practice, so storing them
// lower-cased is what makes the per-organization uniqueness meaningful.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) > maxEmailLen {
		return "", apierr.BadInput("email", "email is longer than %d bytes", maxEmailLen)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", apierr.BadInput("email", "%q is not a valid email address", s)
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.ContainsAny(domain, "[]") {
		return "", apierr.BadInput("email", "%q is not a valid email address", s)
	}
	return s, nil
}

// NormalizeAddress trims a postal address, or returns "" for a blank one,
// which clears the field.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > maxAddressLen:
		return "", apierr.BadInput("address", "address is longer than %d bytes", maxAddressLen)
	case !isText(s):
		return "", apierr.BadInput("address", "address contains characters that are not text")
	}
	return s, nil
}

// NormalizeBirthday keeps only the calendar date of t, as UTC midnight. A
// birthday is a date, not an instant: keeping the caller's time of day and
// zone would make it shift by a day when read back in another zone.
func NormalizeBirthday(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// NormalizeTagName trims a tag name and rejects an empty or over-long one,
// and one containing TagSeparator, which CSV import and export could not
// represent.
func NormalizeTagName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", apierr.BadInput("name", "tag name is required")
	case !isText(s):
		return "", apierr.BadInput("name", "tag name contains characters that are not text")
	case len(s) > maxTagNameLen:
		return "", apierr.BadInput("name", "tag name is longer than %d bytes", maxTagNameLen)
	case strings.Contains(s, TagSeparator):
		return "", apierr.BadInput("name", "tag name %q contains %q, which separates tags in CSV files", s, TagSeparator)
	}
	return s, nil
}

// isText reports whether s is valid UTF-8 without NUL characters.
// PostgreSQL refuses to store either, and refusing them here reports the
// value as bad input (a row error in Import) instead of failing the write.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// SearchText returns the search key of a customer from its final name, phone
// (as stored) and email: the folded words of all of them, with the phone in
// every form people type (phone.SearchForms), so a substring search finds
// "0912" as well as "84912".
func SearchText(name, e164, email string) string {
	parts := make([]string, 0, 4)
	parts = append(parts, name)
	parts = append(parts, phone.SearchForms(e164)...)
	parts = append(parts, email)
	return fold.String(strings.Join(parts, " "))
}

// ValidateCustomFields checks custom field values against the organization's
// definitions and returns them ready to store: nil values (a client clearing a
// field) are dropped, everything else must match its definition's type.
// values is not modified.
func ValidateCustomFields(defs []*ent.CustomField, values map[string]any) (map[string]any, error) {
	if len(values) == 0 {
		return values, nil
	}
	byKey := make(map[string]*ent.CustomField, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	out := make(map[string]any, len(values))
	// Sorted so that the error names the same key every time.
	for _, key := range slices.Sorted(maps.Keys(values)) {
		v := values[key]
		def, ok := byKey[key]
		if !ok {
			return nil, apierr.BadInput("customFields", "%q is not a custom field of this organization", key)
		}
		if v == nil {
			continue
		}
		if err := checkCustomValue(def, v); err != nil {
			return nil, apierr.BadInput("customFields", "custom field %q: %s", key, err)
		}
		out[key] = v
	}
	return out, nil
}

// checkCustomValue checks one value against its definition; the error says
// what was expected, for the message ValidateCustomFields builds around it.
func checkCustomValue(def *ent.CustomField, v any) error {
	switch def.Type {
	case customfield.TypeTEXT:
		if s, ok := v.(string); !ok || !isText(s) {
			return fmt.Errorf("must be text")
		}
	case customfield.TypeNUMBER:
		if !isNumber(v) {
			return fmt.Errorf("must be a number")
		}
	case customfield.TypeBOOLEAN:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("must be true or false")
		}
	case customfield.TypeDATE:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a date (YYYY-MM-DD)")
		}
		if _, err := parseDate(s); err != nil {
			return fmt.Errorf("must be a date (YYYY-MM-DD), got %q", s)
		}
	case customfield.TypeSELECT:
		s, ok := v.(string)
		if !ok || !slices.Contains(def.Options, s) {
			return fmt.Errorf("must be one of %s", strings.Join(quoteAll(def.Options), ", "))
		}
	default:
		return fmt.Errorf("has an unknown type %s", def.Type)
	}
	return nil
}

// isNumber reports whether v is a finite number as JSON decoding produces it:
// float64 from ent and encoding/json, json.Number from gqlgen, and the Go
// integer and float types a Go caller may pass.
func isNumber(v any) bool {
	switch x := v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case float32:
		return !math.IsInf(float64(x), 0) && !math.IsNaN(float64(x))
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x)
	case json.Number:
		_, err := x.Float64()
		return err == nil
	}
	return false
}

// parseDate parses a calendar date in DateLayout, as UTC midnight.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return t, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
