package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var serverSecret = []byte("0123456789abcdef0123456789abcdef")

func TestSealOpen(t *testing.T) {
	box, err := New(serverSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New([]byte("another-server-secret-another-server"))
	token := "zalo-access-token-ABC123"
	sealed := box.Seal(token, "channel:cha_1:access_token")

	t.Run("OK", func(t *testing.T) {
		got, err := box.Open(sealed, "channel:cha_1:access_token")
		if err != nil || got != token {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("NoPlaintextInCiphertext", func(t *testing.T) {
		if bytes.Contains(sealed, []byte(token)) || bytes.Contains(sealed, []byte("ABC123")) {
			t.Fatal("the sealed value contains the plaintext")
		}
	})
	t.Run("FreshNonceEachTime", func(t *testing.T) {
		if bytes.Equal(sealed, box.Seal(token, "channel:cha_1:access_token")) {
			t.Fatal("sealing twice gave the same bytes")
		}
	})
	t.Run("EmptyStaysUnset", func(t *testing.T) {
		if box.Seal("", "x") != nil {
			t.Fatal("empty plaintext sealed to bytes")
		}
		if got, err := box.Open(nil, "x"); got != "" || err != nil {
			t.Fatalf("Open(nil) = %q, %v", got, err)
		}
	})
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		box     *Box
		sealed  []byte
		context string
	}{
		"ErrOtherContext": {box, sealed, "channel:cha_2:access_token"},
		"ErrOtherKey":     {other, sealed, "channel:cha_1:access_token"},
		"ErrTampered":     {box, tampered, "channel:cha_1:access_token"},
		"ErrTruncated":    {box, sealed[:10], "channel:cha_1:access_token"},
		"ErrVersion":      {box, append([]byte{9}, sealed[1:]...), "channel:cha_1:access_token"},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := tc.box.Open(tc.sealed, tc.context); !errors.Is(err, ErrOpen) || got != "" {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	if _, err := New([]byte(strings.Repeat("x", 31))); err == nil {
		t.Fatal("a 31-byte secret was accepted")
	}
}
