// Package gid implements dakenh's global IDs: opaque, type-prefixed ULIDs
// such as "cus_01JD3Q2V5Z8N4M7K1P6R9T0W2X".
//
// The prefix lets the Relay `node(id:)` field find the table without a lookup,
// and the ULID reveals neither row counts nor the order of other tenants'
// records, unlike auto-increment integers.
package gid

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID is a global identifier: a type prefix, an underscore and a ULID.
type ID string

// prefixes maps each ent type to its ID prefix; it is the single place where
// a new entity gets one, and types holds the reverse.
var prefixes = map[string]string{
	"Organization":         "org",
	"User":                 "usr",
	"Session":              "ses",
	"VisitorSession":       "vss",
	"APIKey":               "key",
	"Customer":             "cus",
	"Tag":                  "tag",
	"CustomField":          "cfd",
	"LoginAttempt":         "lat",
	"OAuthState":           "oas",
	"Channel":              "cha",
	"Identity":             "idt",
	"Conversation":         "cnv",
	"Message":              "msg",
	"MessageTemplate":      "tpl",
	"Event":                "evt",
	"WebhookEvent":         "whk",
	"Timer":                "tmr",
	"Rule":                 "rul",
	"Department":           "dep",
	"Member":               "mbr",
	"Offer":                "ofr",
	"AutoMessage":          "aum",
	"KeyCheck":             "kck",
	"Activity":             "act",
	"CallSettings":         "cst",
	"CallOperator":         "cop",
	"CallPermission":       "cpm",
	"Call":                 "cal",
	"WebhookEndpoint":      "whe",
	"WebhookDelivery":      "whd",
	"WebhookAttempt":       "wha",
	"ZnsTemplate":          "znt",
	"ZnsMessage":           "znm",
	"ZnsCampaign":          "znc",
	"ZnsCampaignRecipient": "znr",
	"LiveTalkSettings":     "lts",
	"MediaFile":            "mdf",
	"MediaBlob":            "mdb",
	"CallMinuteMonth":      "cmm",
}

var types = func() map[string]string {
	m := make(map[string]string, len(prefixes))
	for typ, p := range prefixes {
		if _, dup := m[p]; dup {
			panic("gid: duplicate prefix " + p)
		}
		m[p] = typ
	}
	return m
}()

// entropy is shared and guarded because ulid.MonotonicEntropy is not safe for
// concurrent use; monotonicity keeps IDs made in the same millisecond ordered.
var (
	entropyMu sync.Mutex
	entropy   = ulid.Monotonic(rand.Reader, 0)
)

// Prefix returns the ID prefix of an ent type, and panics for a type with
// none: that is a programming error caught by the first test that creates one.
func Prefix(typ string) string {
	p, ok := prefixes[typ]
	if !ok {
		panic("gid: no prefix registered for type " + typ)
	}
	return p
}

// New returns a fresh ID for the given ent type.
func New(typ string) ID {
	entropyMu.Lock()
	u := ulid.MustNew(ulid.Timestamp(time.Now()), entropy)
	entropyMu.Unlock()
	return ID(Prefix(typ) + "_" + u.String())
}

// TypeOf returns the ent type an ID belongs to, or an error for a string that
// is not a well-formed dakenh ID.
func TypeOf(id ID) (string, error) {
	p, rest, ok := strings.Cut(string(id), "_")
	if !ok || len(rest) != ulid.EncodedSize {
		return "", fmt.Errorf("gid: malformed id %q", id)
	}
	if _, err := ulid.ParseStrict(rest); err != nil {
		return "", fmt.Errorf("gid: malformed id %q", id)
	}
	typ, ok := types[p]
	if !ok {
		return "", fmt.Errorf("gid: unknown id prefix %q", p)
	}
	return typ, nil
}

// String returns the ID as a string.
func (id ID) String() string { return string(id) }

// MarshalGQL writes the ID as a GraphQL string. An ID the server made
// needs no escaping and is written as it is, between quotes, without
// building a quoted copy (a page writes hundreds of IDs); any other string
// a client sent is quoted.
func (id ID) MarshalGQL(w io.Writer) {
	if !plain(string(id)) {
		_, _ = io.WriteString(w, strconv.Quote(string(id)))
		return
	}
	_, _ = io.WriteString(w, `"`)
	_, _ = io.WriteString(w, string(id))
	_, _ = io.WriteString(w, `"`)
}

// plain reports whether s is printable ASCII with no quote or backslash,
// so that strconv.Quote would only add the quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// UnmarshalGQL reads an ID from a GraphQL value. The shape is not checked here
// so that a malformed ID answers like a missing one (NOT_FOUND), not with a
// different error that would tell a caller anything.
func (id *ID) UnmarshalGQL(v any) error {
	switch s := v.(type) {
	case string:
		*id = ID(s)
	case ID:
		*id = s
	default:
		return fmt.Errorf("gid: ID must be a string, got %T", v)
	}
	return nil
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*id = ""
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(string(v))
	default:
		return fmt.Errorf("gid: cannot scan %T into ID", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// Types returns every ent type that has an ID prefix, for checks that each
// type is handled somewhere.
func Types() []string {
	out := make([]string, 0, len(prefixes))
	for typ := range prefixes {
		out = append(out, typ)
	}
	return out
}
