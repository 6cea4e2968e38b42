package inbox

// Provider events are stored as they arrived and processed later, so a
// value the database cannot hold must be made to fit before it is used,
// or the event would fail on every attempt: PostgreSQL refuses NUL in
// text, and ids longer than their columns fail ent's validators. The raw
// payload keeps the original.

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Column limits of the values taken from provider events
// (ent/schema/identity.go, message.go).
const (
	maxExternalID        = 100
	maxProviderMessageID = 200
)

// cleanText removes NUL characters and replaces invalid UTF-8 in s.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// fitID cleans a provider's id and, when it is still longer than n bytes,
// replaces it with its hash, so that it fits its column and the same id
// always maps to the same value.
func fitID(id string, n int) string {
	id = cleanText(id)
	if len(id) <= n {
		return id
	}
	return "sha256:" + hashHex([]byte(id))
}

// stripNUL returns payload with NUL characters removed from every JSON
// string in it, keys included. JSON can only carry NUL as the escape
// \u0000, so a payload without that text is returned as it is; one with it
// is decoded and encoded again (numbers kept exactly), since a bytes
// replacement would misread an escaped backslash followed by "u0000".
// A payload that does not decode is returned as it is.
func stripNUL(payload []byte) []byte {
	if !bytes.Contains(payload, []byte(`\u0000`)) {
		return payload
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return payload
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(withoutNUL(v)); err != nil {
		return payload
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// withoutNUL returns v with NUL removed from its strings and keys.
func withoutNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "")
	case []any:
		for i := range v {
			v[i] = withoutNUL(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ReplaceAll(k, "\x00", "")] = withoutNUL(x)
		}
		return out
	}
	return v
}
