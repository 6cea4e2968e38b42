package zalo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// flexString decodes a JSON string or number into its text. Zalo documents
// IDs, timestamps, sizes, phone numbers and expires_in as strings, yet some
// answers and events carry them as numbers; insisting on one type would
// reject real traffic. null decodes to "".
type flexString string

// UnmarshalJSON accepts a string, a number or null.
func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("want a string or a number")
		}
		*s = flexString(n)
		return nil
	}
}

// int64 parses s as a decimal integer; "" is zero.
func (s flexString) int64() (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", string(s))
	}
	return n, nil
}

// float64 parses s as a decimal number; "" is zero.
func (s flexString) float64() (float64, error) {
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", string(s))
	}
	return f, nil
}

// millis parses s as Unix milliseconds; "" is the zero time.
func (s flexString) millis() (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	ms, err := s.int64()
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}
