package zalo

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries the signature of a webhook post.
const SignatureHeader = "X-ZEvent-Signature"

// signaturePrefix starts the value of SignatureHeader.
const signaturePrefix = "mac="

// ErrInvalidSignature is wrapped by every error of VerifySignature; the
// webhook answers 401 to it and stores nothing.
var ErrInvalidSignature = errors.New("invalid webhook signature")

// VerifySignature checks the X-ZEvent-Signature header of a webhook post
// against its raw body and the channel's webhook secret.
//
// The header is "mac=<hex>", where hex is the plain SHA-256 (not an HMAC) of
// app_id + body + timestamp + secret, with app_id and timestamp read from
// the body. body must be the bytes as received: re-encoded JSON would not
// match.
func VerifySignature(header string, body []byte, secret string) error {
	if secret == "" {
		// An empty secret would make the signature computable by anyone.
		return fmt.Errorf("zalo: %w: no webhook secret configured", ErrInvalidSignature)
	}
	hexMAC, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok {
		if header == "" {
			return fmt.Errorf("zalo: %w: missing %s header", ErrInvalidSignature, SignatureHeader)
		}
		return fmt.Errorf("zalo: %w: header does not start with %q", ErrInvalidSignature, signaturePrefix)
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("zalo: %w: mac is not a hex SHA-256", ErrInvalidSignature)
	}

	var signed struct {
		AppID     flexString `json:"app_id"`
		Timestamp flexString `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &signed); err != nil {
		return fmt.Errorf("zalo: %w: body is not a JSON event", ErrInvalidSignature)
	}
	if signed.AppID == "" || signed.Timestamp == "" {
		return fmt.Errorf("zalo: %w: body has no app_id or timestamp", ErrInvalidSignature)
	}

	h := sha256.New()
	h.Write([]byte(signed.AppID))
	h.Write(body)
	h.Write([]byte(signed.Timestamp))
	h.Write([]byte(secret))
	if subtle.ConstantTimeCompare(h.Sum(nil), got) != 1 {
		return fmt.Errorf("zalo: %w: mac does not match", ErrInvalidSignature)
	}
	return nil
}
