package activity

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// Change is one field's value before and after a change.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// secretWords are the words of a key that name a credential or what is
// derived from one.
var secretWords = map[string]bool{
	"token": true, "tokens": true, "secret": true, "secrets": true,
	"password": true, "passwd": true, "passphrase": true,
	"credential": true, "credentials": true, "hash": true, "salt": true, "signature": true,
}

// keyKinds are the words that make a "key" a credential: apiKey,
// accessKey, privateKey...
var keyKinds = map[string]bool{
	"api": true, "access": true, "private": true, "secret": true, "signing": true,
	"encryption": true, "client": true, "app": true, "master": true, "auth": true, "session": true,
}

// SecretKey reports whether a details key looks like it holds a secret: one
// of its words (split at case changes, '_', '-' and '.') is token, secret,
// password, credential, hash, salt or signature; or it is "key" itself (the
// name a minted API key goes by) or ends with a credential's key (apiKey,
// accessKey, privateKey). A key that only mentions one (keyPrefix, apiKeyId)
// or names another kind of key (fieldKey, a custom field's) is not.
func SecretKey(k string) bool {
	ws := words(k)
	if len(ws) == 0 {
		return false
	}
	if last := ws[len(ws)-1]; last == "key" || last == "keys" {
		if len(ws) == 1 || keyKinds[ws[len(ws)-2]] {
			return true
		}
	}
	for _, w := range ws {
		if secretWords[w] {
			return true
		}
	}
	// A name run together in one case ("accesstoken") has no word breaks.
	lower := strings.ToLower(k)
	for w := range secretWords {
		if len(w) > 4 && strings.Contains(lower, w) {
			return true
		}
	}
	return strings.HasSuffix(lower, "apikey") || strings.HasSuffix(lower, "accesskey") || strings.HasSuffix(lower, "privatekey")
}

// words splits a key into lower-case words at case changes and separators.
func words(k string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(k)
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == '.' || unicode.IsSpace(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			// A new word starts at an upper-case letter after a lower-case
			// one, or before a lower-case one ending an acronym (APIKey).
			prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// skipped are fields no change is about: they never change, or move with
// every update.
var skipped = map[string]bool{"id": true, "organizationId": true, "createdAt": true, "updatedAt": true}

// Changes returns the fields whose values differ between before and after,
// each as a Change, keyed by the field's name in lowerCamelCase
// (offerTimeoutSeconds). before and after are two values of one struct type
// (ent entities: their edges, sensitive fields, id, organization and
// timestamps are left out)
// or two maps of field names to values (for what a struct does not hold,
// such as a rule's agent list); a nil one has no fields. Fields that look
// like secrets (SecretKey) are never reported, so Changes is always safe to
// record. It returns an empty map when nothing changed.
func Changes(before, after any) map[string]Change {
	b, a := fields(before), fields(after)
	out := map[string]Change{}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !equal(bv, av) {
			out[k] = Change{From: bv, To: av}
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			out[k] = Change{From: bv, To: nil}
		}
	}
	for k := range out {
		if SecretKey(k) || skipped[k] {
			delete(out, k)
		}
	}
	return out
}

// fields flattens a struct or map into field names and plain values.
func fields(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(v)
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) {
		if rv.IsNil() {
			return out
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		iter := rv.MapRange()
		for iter.Next() {
			out[camel(iter.Key().String())] = plain(iter.Value())
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "Edges" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue // ent tags sensitive fields so
			}
			if name == "" {
				name = f.Name
			}
			out[camel(name)] = plain(rv.Field(i))
		}
	}
	return out
}

// plain dereferences pointers, so a set *time.Time compares and records as
// its time and a nil one as null.
func plain(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.CanInterface() {
		return nil
	}
	return v.Interface()
}

// equal compares two field values; times compare as instants, a nil list
// equals an empty one, and other values compare by their JSON, so a typed
// enum equals its string.
func equal(a, b any) bool {
	if empty(a) && empty(b) {
		return true
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// camel turns snake_case into lowerCamelCase, the casing of GraphQL names;
// names already in camel case keep it, but for their first letter.
func camel(s string) string {
	var b strings.Builder
	up := false
	for i, r := range s {
		switch {
		case r == '_':
			up = i > 0
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		case b.Len() == 0:
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// empty reports whether v is nil or an empty list or map.
func empty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	}
	return false
}
