package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Token prefixes tell a session from an API key without a lookup, and make
// leaked secrets easy to recognise in code scanners.
const (
	sessionPrefix = "dks_"
	apiKeyPrefix  = "dkk_"
)

// newToken returns a random token with the given prefix: 32 bytes of
// entropy, URL-safe.
func newToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how tokens are stored: a stolen database cannot be replayed.
// SHA-256 suffices because tokens carry 256 bits of entropy; a slow hash is
// for low-entropy passwords.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// BearerToken extracts the token from an Authorization header value; it
// accepts the bare token too, as some WebSocket clients send it that way.
func BearerToken(header string) string {
	header = strings.TrimSpace(header)
	if len(header) > 7 && strings.EqualFold(header[:7], "bearer ") {
		return strings.TrimSpace(header[7:])
	}
	return header
}

type addressKey struct{}

// WithAddress records the client's network address in ctx for login rate
// limits.
func WithAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addressKey{}, addr)
}

// AddressFrom returns the client address recorded by WithAddress.
func AddressFrom(ctx context.Context) string {
	s, _ := ctx.Value(addressKey{}).(string)
	return s
}
