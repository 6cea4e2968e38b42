package facebook_test

import (
	"errors"
	"testing"

	"github.com/dakenh/dakenh/internal/facebook"
)

// FuzzParseWebhook: a webhook body from anyone either parses into typed
// events of a page or fails with one of the package's two errors; it
// never panics.
func FuzzParseWebhook(f *testing.F) {
	for _, s := range []string{
		`{"object":"page","entry":[{"id":"p","time":1,"messaging":[{"sender":{"id":"s"},"recipient":{"id":"p"},"timestamp":1,"message":{"mid":"m","text":"xin chào"}}]}]}`,
		`{"object":"page","entry":[{"id":"p","time":1,"messaging":[{"sender":{"id":"p"},"recipient":{"id":"s"},"timestamp":1,"message":{"mid":"m","is_echo":true,"attachments":[{"type":"image","payload":{"url":"https://x"}}]}}]}]}`,
		`{"object":"page","entry":[{"id":"p","messaging":[{"delivery":{"mids":["m"],"watermark":5}},{"read":{"watermark":5}}]}]}`,
		`{"object":"instagram","entry":[]}`, `{"object":"page","entry":[{"messaging":[null]}]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := facebook.ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, facebook.ErrMalformedWebhook) && !errors.Is(err, facebook.ErrUnsupportedObject) {
				t.Fatalf("ParseWebhook(%q): untyped error %v", body, err)
			}
			return
		}
		for _, ev := range w.Events {
			if ev.Type == "" {
				t.Fatalf("ParseWebhook(%q): an event without a type: %+v", body, ev)
			}
		}
	})
}

// FuzzVerifySignature: any header and body never panic the check.
func FuzzVerifySignature(f *testing.F) {
	f.Add("sha256=00", []byte(`{}`))
	f.Add("", []byte(``))
	f.Add("sha1=abc", []byte(`x`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = facebook.VerifySignature(header, body, "app-secret")
	})
}
