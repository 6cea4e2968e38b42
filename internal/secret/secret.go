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

// Box seals values under its current key and opens values sealed under it
// or under one of its previous keys, so the server secret can be rotated
// without losing what the old one sealed. It is safe for concurrent use.
type Box struct {
	// keys[0] is the current key; the rest are previous ones, tried in
	// order.
	keys []aead
}

type aead interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	NonceSize() int
}

// New derives the sealing key from the server secret, which must hold at
// least 32 bytes, and the opening-only keys from previous secrets (the
// ones being rotated away from), which must too.
func New(serverSecret []byte, previous ...[]byte) (*Box, error) {
	b := &Box{}
	for i, s := range append([][]byte{serverSecret}, previous...) {
		if len(s) < 32 {
			which := "the server secret"
			if i > 0 {
				which = "a previous server secret"
			}
			return nil, fmt.Errorf("secret: %s must have at least 32 bytes, got %d", which, len(s))
		}
		key, err := hkdf.Key(sha256.New, s, nil, hkdfInfo, chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		a, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		b.keys = append(b.keys, a)
	}
	return b, nil
}

// Rotating reports whether the box has previous keys, so values sealed
// under them may still need moving to the current one.
func (b *Box) Rotating() bool { return len(b.keys) > 1 }

// Seal encrypts plaintext bound to context under the current key. An
// empty plaintext seals to nil, so an unset credential stays visibly unset.
func (b *Box) Seal(plaintext, context string) []byte {
	if plaintext == "" {
		return nil
	}
	k := b.keys[0]
	n := k.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plaintext)+chacha20poly1305.Overhead)
	out[0] = version
	if _, err := rand.Read(out[1 : 1+n]); err != nil {
		panic("secret: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return k.Seal(out, out[1:1+n], []byte(plaintext), []byte(context))
}

// Open decrypts a value sealed with the same context under the current or
// a previous key; nil opens to the empty string.
func (b *Box) Open(sealed []byte, context string) (string, error) {
	plain, _, err := b.open(sealed, context)
	return plain, err
}

// Reseal returns a value sealed under a previous key sealed anew under the
// current one, with changed true; a value already under the current key
// (or nil) comes back as it is, with changed false. A value no key opens is
// ErrOpen.
func (b *Box) Reseal(sealed []byte, context string) (out []byte, changed bool, err error) {
	plain, key, err := b.open(sealed, context)
	if err != nil || key == 0 {
		return sealed, false, err
	}
	return b.Seal(plain, context), true, nil
}

// open decrypts sealed and says which key opened it (0 is the current).
func (b *Box) open(sealed []byte, context string) (string, int, error) {
	if len(sealed) == 0 {
		return "", 0, nil
	}
	for i, k := range b.keys {
		n := k.NonceSize()
		if len(sealed) < 1+n+chacha20poly1305.Overhead || sealed[0] != version {
			return "", 0, ErrOpen
		}
		if plain, err := k.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context)); err == nil {
			return string(plain), i, nil
		}
	}
	return "", 0, ErrOpen
}
