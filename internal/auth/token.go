package auth

import (
	"context"
	"strings"

	"github.com/dakenh/dakenh/internal/secret"
)

// Token prefixes tell a session from an API key without a lookup, and make
// leaked secrets easy to recognise in code scanners.
const (
	sessionPrefix = "dks_"
	apiKeyPrefix  = "dkk_"
)

// newToken returns a random token with the given prefix: 32 bytes of
// entropy, URL-safe.
func newToken(prefix string) string { return secret.Token(prefix, 32) }

// hashToken is how tokens are stored (secret.TokenHash).
func hashToken(token string) []byte { return secret.TokenHash(token) }

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
