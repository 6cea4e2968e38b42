package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Token returns prefix and n random bytes, base64url without padding: the
// form of every bearer secret the server hands out (sessions, API keys,
// visitor tokens, widget keys, webhook secrets, OAuth states). The prefix
// tells them apart without a lookup and makes a leaked one easy to spot.
func Token(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// TokenHash is how a bearer token is stored: a stolen database cannot be
// replayed. SHA-256 suffices for tokens of 256 random bits; a slow hash is
// for low-entropy passwords.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
