package zalo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// goldenBody and goldenMAC were computed outside Go:
//
//	printf '%s' '1234567890'"$body"'1700000000000s3cret' | sha256sum
//
// The HMAC-SHA256 of the body with the same key is
// 32f0542cda5a1af6bfae6c1e376fecfd5eedcf9a3671b85c17908f572eb71769, which
// must be refused.
const (
	goldenBody = `{"app_id":"1234567890","event_name":"user_send_text","timestamp":"1700000000000",` +
		`"sender":{"id":"u1"},"recipient":{"id":"oa1"},"message":{"msg_id":"m1","text":"Xin chào"}}`
	goldenMAC  = "2b14e054d7bf1752d13a06d542a96f4858214b4db5eec2809086f3f230151d28"
	goldenHMAC = "32f0542cda5a1af6bfae6c1e376fecfd5eedcf9a3671b85c17908f572eb71769"
)

func TestVerifySignature(t *testing.T) {
	fake := zalofake.New(t)
	signedBody, signedHeader := fake.SignedEvent("app-9", "webhook-secret", map[string]any{
		"event_name": "follow",
		"oa_id":      "oa-1",
		"timestamp":  "1700000000123",
		"follower":   map[string]string{"id": "u-7"},
	})
	numericBody := `{"app_id":42,"event_name":"follow","timestamp":1700000000123}`
	numericHeader := "mac=" + zalofake.Signature("42", []byte(numericBody), "1700000000123", "k")

	tests := []struct {
		name   string
		header string
		body   string
		secret string
		wantOK bool
	}{
		{name: "GoldenVector", header: "mac=" + goldenMAC, body: goldenBody, secret: "s3cret", wantOK: true},
		{name: "UpperCaseHex", header: "mac=" + strings.ToUpper(goldenMAC), body: goldenBody, secret: "s3cret", wantOK: true},
		{name: "SurroundingSpaces", header: " mac=" + goldenMAC + " ", body: goldenBody, secret: "s3cret", wantOK: true},
		{name: "SignedByTheFake", header: signedHeader, body: string(signedBody), secret: "webhook-secret", wantOK: true},
		{name: "NumericAppIDAndTimestamp", header: numericHeader, body: numericBody, secret: "k", wantOK: true},
		{name: "WrongSecret", header: "mac=" + goldenMAC, body: goldenBody, secret: "s3cret2"},
		{name: "HMACInsteadOfPlainSHA256", header: "mac=" + goldenHMAC, body: goldenBody, secret: "s3cret"},
		{name: "TamperedBody", header: "mac=" + goldenMAC, body: strings.Replace(goldenBody, "Xin chào", "Xin chao", 1), secret: "s3cret"},
		{name: "ReformattedBody", header: "mac=" + goldenMAC, body: strings.Replace(goldenBody, `":"`, `": "`, 1), secret: "s3cret"},
		{name: "MissingHeader", header: "", body: goldenBody, secret: "s3cret"},
		{name: "NoMacPrefix", header: goldenMAC, body: goldenBody, secret: "s3cret"},
		{name: "Sha256Prefix", header: "sha256=" + goldenMAC, body: goldenBody, secret: "s3cret"},
		{name: "BadHex", header: "mac=" + strings.Repeat("zz", 32), body: goldenBody, secret: "s3cret"},
		{name: "ShortMAC", header: "mac=" + goldenMAC[:62], body: goldenBody, secret: "s3cret"},
		{name: "EmptyMAC", header: "mac=", body: goldenBody, secret: "s3cret"},
		{name: "BodyWithoutAppID", header: "mac=" + goldenMAC, body: `{"timestamp":"1700000000000"}`, secret: "s3cret"},
		{name: "BodyWithoutTimestamp", header: "mac=" + goldenMAC, body: `{"app_id":"1234567890"}`, secret: "s3cret"},
		{name: "BodyNotJSON", header: "mac=" + goldenMAC, body: `app_id=1`, secret: "s3cret"},
		{name: "EmptySecret", header: "mac=" + zalofake.Signature("1234567890", []byte(goldenBody), "1700000000000", ""), body: goldenBody, secret: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := zalo.VerifySignature(tt.header, []byte(tt.body), tt.secret)

			if tt.wantOK {
				if err != nil {
					t.Errorf("VerifySignature: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, zalo.ErrInvalidSignature) {
				t.Errorf("err = %v, want ErrInvalidSignature", err)
			}
			assertNoSecret(t, err, tt.secret)
		})
	}
}

func TestSignedEventFillsAppIDAndTimestamp(t *testing.T) {
	fake := zalofake.New(t)

	body, header := fake.SignedEvent("app-1", "sec", map[string]any{"event_name": "unfollow"})

	if err := zalo.VerifySignature(header, body, "sec"); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	ev, err := zalo.ParseEvent(body)
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if ev.AppID != "app-1" || ev.Timestamp.IsZero() {
		t.Errorf("event app_id = %q, timestamp = %s; want app-1 and a timestamp", ev.AppID, ev.Timestamp)
	}
}
