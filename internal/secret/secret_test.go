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

func TestRotation(t *testing.T) {
	oldSecret := []byte("the-old-server-secret-the-old-server")
	old, _ := New(oldSecret)
	rotating, err := New(serverSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := New(serverSecret)
	const ctx = "channel:cha_1:app_secret"
	sealedOld := old.Seal("app-secret", ctx)

	t.Run("PreviousKeyOpens", func(t *testing.T) {
		if got, err := rotating.Open(sealedOld, ctx); err != nil || got != "app-secret" {
			t.Fatalf("Open = %q, %v", got, err)
		}
		if _, err := current.Open(sealedOld, ctx); !errors.Is(err, ErrOpen) {
			t.Fatalf("a box without the previous key opened it: %v", err)
		}
	})
	t.Run("ResealMovesToTheCurrentKey", func(t *testing.T) {
		moved, changed, err := rotating.Reseal(sealedOld, ctx)
		if err != nil || !changed {
			t.Fatalf("Reseal = changed %v, %v", changed, err)
		}
		if got, err := current.Open(moved, ctx); err != nil || got != "app-secret" {
			t.Fatalf("the current key alone opens the resealed value as %q, %v", got, err)
		}
		again, changed, err := rotating.Reseal(moved, ctx)
		if err != nil || changed || !bytes.Equal(again, moved) {
			t.Fatalf("resealing a current value changed it (%v, %v)", changed, err)
		}
	})
	t.Run("ErrNoKeyOpens", func(t *testing.T) {
		stranger, _ := New([]byte("a-stranger-server-secret-a-stranger"))
		if _, _, err := rotating.Reseal(stranger.Seal("x", ctx), ctx); !errors.Is(err, ErrOpen) {
			t.Fatalf("Reseal of a stranger's value = %v, want ErrOpen", err)
		}
	})
	t.Run("Rotating", func(t *testing.T) {
		if !rotating.Rotating() || current.Rotating() {
			t.Fatal("Rotating does not say whether there are previous keys")
		}
	})
	t.Run("ErrShortPreviousSecret", func(t *testing.T) {
		if _, err := New(serverSecret, []byte("short")); err == nil {
			t.Fatal("a short previous secret was accepted")
		}
	})
}
