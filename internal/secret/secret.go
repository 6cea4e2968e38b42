// Package secret encrypts the credentials dakenh keeps for others (channel
// access tokens, refresh tokens, app secrets) so that a copy of the database
// alone reveals none of them.
//
// Sealing uses XChaCha20-Poly1305, whose 24-byte random nonces cannot
// collide in practice however many values are sealed under one key, with a
// key derived from DAKENH_SECRET by HKDF-SHA256. Each value is bound to a
// context string (such as the row and column it lives in), so a ciphertext
// copied into another row does not open there.
package secret

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// version prefixes every sealed value so the scheme can change without
// ambiguity about old rows.
const version byte = 1

// hkdfInfo separates this key from any other derived from DAKENH_SECRET.
const hkdfInfo = "dakenh/secret/v1"

// ErrOpen is returned for a value that does not open: another key, another
// context, or tampered bytes.
var ErrOpen = errors.New("secret: value does not open with this key and context")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
	}
}

// New derives the sealing key from the server secret, which must hold at
// least 32 bytes.
func New(serverSecret []byte) (*Box, error) {
	if len(serverSecret) < 32 {
		return nil, fmt.Errorf("secret: the server secret must have at least 32 bytes, got %d", len(serverSecret))
	}
	key, err := hkdf.Key(sha256.New, serverSecret, nil, hkdfInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to context. An empty plaintext seals to nil,
// so an unset credential stays visibly unset.
func (b *Box) Seal(plaintext, context string) []byte {
	if plaintext == "" {
		return nil
	}
	n := b.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plaintext)+chacha20poly1305.Overhead)
	out[0] = version
	if _, err := rand.Read(out[1 : 1+n]); err != nil {
		panic("secret: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return b.aead.Seal(out, out[1:1+n], []byte(plaintext), []byte(context))
}

// Open decrypts a value sealed with the same key and context; nil opens to
// the empty string.
func (b *Box) Open(sealed []byte, context string) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+chacha20poly1305.Overhead || sealed[0] != version {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
