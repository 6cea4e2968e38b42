// Package phone turns phone numbers as Vietnamese users type them into one
// canonical key: E.164 ("+84912345678"); Digits gives the form without the
// plus that Zalo's APIs expect ("84912345678").
//
// A single canonical form is what lets us deduplicate customers and match incoming messages to them no matter
// how the number was originally written. Validation is delegated to
// libphonenumber (github.com/nyaruka/phonenumbers) so that numbering-plan
// changes arrive with a dependency update rather than a code change; the only
// local knowledge is the 2018 mobile renumbering, which libphonenumber no
// longer recognises but which still fills old contact lists and spreadsheets.
package phone

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is wrapped by every error Normalize returns, so callers can tell
// bad user input (to be reported back on the field) from programming errors
// with errors.Is.
var ErrInvalid = errors.New("invalid phone number")

const (
	// vnCallingCode is Vietnam's country calling code, which is also the
	// prefix that marks a normalized number as Vietnamese.
	vnCallingCode = "84"
	vnRegion      = "VN"

	// maxInputLen bounds the work done on untrusted input; no sensibly
	// formatted phone number comes close to it.
	maxInputLen = 64

	// maxE164Digits is the longest number ITU-T E.164 allows, country code
	// included. Checking it up front gives a clear "too long" instead of
	// whatever libphonenumber makes of a pasted string of digits.
	maxE164Digits = 15

	// mobileNSNLen is the length of a current mobile number without its
	// trunk 0 (e.g. 912 345 678).
	mobileNSNLen = 9

	// oldMobileNSNLen is the length of a pre-2018 mobile number without its
	// trunk 0 (e.g. 162 123 4567); only numbers of exactly this length are
	// renumbered, so landlines and service numbers are left alone.
	oldMobileNSNLen = 10
)

// oldMobilePrefixes maps the pre-September-2018 11-digit mobile prefixes to
// their 10-digit replacements, both without the trunk 0, as the Ministry of
// Information and Communications converted them in September–November 2018.
// libphonenumber rejects the old prefixes, yet customers still type them and
// old contact lists still hold them, so they are rewritten before validation.
var oldMobilePrefixes = map[string]string{
	// Viettel.
	"162": "32", "163": "33", "164": "34", "165": "35",
	"166": "36", "167": "37", "168": "38", "169": "39",
	// MobiFone.
	"120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
	// VinaPhone.
	"123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
	// Vietnamobile.
	"186": "56", "188": "58",
	// Gmobile.
	"199": "59",
}

// Normalize validates a phone number as a person would type it and returns
// it in E.164, e.g. "+84912345678".
//
// Numbers without a country code are taken as Vietnamese, with or without
// the trunk 0 (spreadsheets routinely drop it), and a leading 84 is read as
// the country code when the number is long enough to contain one. Old
// 11-digit mobile numbers are converted to their current 10-digit form.
// Foreign numbers must be written with "+" or "00"; otherwise they would be
// indistinguishable from Vietnamese ones. That also means a foreign result
// must be given back with a "+" to normalize it again.
//
// Spaces, dashes, dots, slashes, parentheses and invisible formatting marks
// (which phones insert when a number is copied) are ignored; anything else,
// including letters and extensions, is rejected with an error wrapping
// ErrInvalid.
func Normalize(raw string) (string, error) {
	digits, international, err := extractDigits(raw)
	if err != nil {
		return "", err
	}
	if international && !strings.HasPrefix(digits, vnCallingCode) {
		return validate(digits)
	}

	var nsn string // the national significant number, i.e. without trunk 0
	switch {
	case international:
		nsn = digits[len(vnCallingCode):]
	case digits[0] == '0':
		nsn = digits[1:]
	case strings.HasPrefix(digits, vnCallingCode) && len(digits) > mobileNSNLen:
		// Without their trunk 0, the only national numbers that start with
		// 84 are the 9-digit 084 mobiles, so anything longer must be the
		// country code written without its plus.
		nsn = digits[len(vnCallingCode):]
	default:
		nsn = digits
	}
	// "+84 0912…" keeps the trunk 0 after the country code; it is a common
	// mistake and unambiguous, because no Vietnamese number starts with 0.
	nsn = strings.TrimPrefix(nsn, "0")
	return validate(vnCallingCode + renumberOldMobile(nsn))
}

// National returns the Vietnamese national form of a number returned by
// Normalize ("+84912345678" becomes "0912345678"), which is how numbers are
// shown to and typed by Vietnamese users. Any other input is returned
// unchanged, because foreign numbers have no meaningful national form here.
func National(e164 string) string {
	if rest, ok := strings.CutPrefix(e164, "+"+vnCallingCode); ok && rest != "" {
		return "0" + rest
	}
	return e164
}

// Digits returns a number returned by Normalize without its plus
// ("84912345678"), the form Zalo's APIs take.
func Digits(e164 string) string { return strings.TrimPrefix(e164, "+") }

// SearchForms returns the forms of a number returned by Normalize that people
// search by: the E.164 form and, for Vietnamese numbers, the national form.
// Indexing both lets a substring search for "0912", "84912" or "+84912" find
// the customer without normalizing what is, at that point, only a fragment.
func SearchForms(e164 string) []string {
	if e164 == "" {
		return nil
	}
	if national := National(e164); national != e164 {
		return []string{e164, national}
	}
	return []string{e164}
}

// extractDigits strips the formatting from raw and reports whether the number
// was written in international form ("+" or the "00" international prefix),
// in which case the returned digits start with the country code.
func extractDigits(raw string) (digits string, international bool, err error) {
	if len(raw) > maxInputLen {
		return "", false, fmt.Errorf("%w: too long", ErrInvalid)
	}
	var b strings.Builder
	b.Grow(len(raw))
	pos := 0 // in characters, as the user sees them, for the error message
	for _, r := range raw {
		pos++
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+':
			// A plus anywhere but in front would silently change the
			// meaning of the digits before it.
			if international || b.Len() > 0 {
				return "", false, fmt.Errorf("%w: misplaced '+' at position %d", ErrInvalid, pos)
			}
			international = true
		case isSeparator(r):
		default:
			return "", false, fmt.Errorf("%w: unexpected character %q at position %d", ErrInvalid, r, pos)
		}
	}
	digits = b.String()
	if !international {
		// 00 is Vietnam's international call prefix.
		digits, international = strings.CutPrefix(digits, "00")
	}
	switch {
	case digits != "":
		return digits, international, nil
	case international:
		return "", false, fmt.Errorf("%w: no digits after the international prefix", ErrInvalid)
	case strings.TrimSpace(raw) == "":
		return "", false, fmt.Errorf("%w: empty", ErrInvalid)
	default:
		return "", false, fmt.Errorf("%w: no digits", ErrInvalid)
	}
}

// isSeparator reports whether r is formatting that carries no meaning in a
// phone number: whitespace (including the no-break space), punctuation used
// to group digits, and invisible format characters such as the bidi marks
// phones wrap around copied numbers.
func isSeparator(r rune) bool {
	switch r {
	case '-', '.', '(', ')', '/':
		return true
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || unicode.Is(unicode.Cf, r)
}

// renumberOldMobile rewrites a pre-2018 11-digit mobile number, given without
// its trunk 0, to its current form; every other number is returned as is.
func renumberOldMobile(nsn string) string {
	if len(nsn) != oldMobileNSNLen {
		return nsn
	}
	if prefix, ok := oldMobilePrefixes[nsn[:3]]; ok {
		return prefix + nsn[3:]
	}
	return nsn
}

// validate checks digits, a country code followed by a national number,
// against libphonenumber's metadata and returns its canonical E.164 digits.
func validate(digits string) (string, error) {
	if len(digits) > maxE164Digits {
		return "", fmt.Errorf("%w: too long", ErrInvalid)
	}
	num, err := phonenumbers.Parse("+"+digits, vnRegion)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "", fmt.Errorf("%w: unknown country code", ErrInvalid)
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "", fmt.Errorf("%w: too short", ErrInvalid)
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "", fmt.Errorf("%w: too long", ErrInvalid)
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}

	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT:
		return "", fmt.Errorf("%w: too short", ErrInvalid)
	case phonenumbers.TOO_LONG:
		return "", fmt.Errorf("%w: too long", ErrInvalid)
	case phonenumbers.INVALID_LENGTH:
		return "", fmt.Errorf("%w: wrong number of digits", ErrInvalid)
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", fmt.Errorf("%w: unknown country code", ErrInvalid)
	}
	if !phonenumbers.IsValidNumber(num) && !isVietnameseMobile(digits) {
		if num.GetCountryCode() == 84 {
			return "", fmt.Errorf("%w: not a valid Vietnamese number", ErrInvalid)
		}
		return "", fmt.Errorf("%w: not a valid number for country code +%d", ErrInvalid, num.GetCountryCode())
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// isVietnameseMobile reports whether digits (country code included) have the
// shape of a current Vietnamese mobile number: 9 digits after 84, starting
// with 3, 5, 7, 8 or 9. Operators open new ranges within these blocks before
// libphonenumber's metadata lists them, so its verdict alone would reject
// real customers' numbers.
func isVietnameseMobile(digits string) bool {
	nsn, ok := strings.CutPrefix(digits, vnCallingCode)
	return ok && len(nsn) == mobileNSNLen && strings.ContainsRune("35789", rune(nsn[0]))
}
