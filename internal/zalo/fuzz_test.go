package zalo_test

import (
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
)

// FuzzParseEvent: a webhook body from anyone either parses into an event
// with a name and a time, or fails with ErrInvalidEvent; it never panics.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"app_id":"1","event_name":"user_send_text","timestamp":"1700000000000","sender":{"id":"u"},"recipient":{"id":"oa"},"message":{"msg_id":"m","text":"xin chào"}}`,
		`{"event_name":"user_send_image","timestamp":1700000000000,"message":{"msg_id":"m","attachments":[{"type":"image","payload":{"url":"https://x"}}]}}`,
		`{"event_name":"user_seen_message","timestamp":"1","message":{"msg_ids":["a","b"]}}`,
		`{"event_name":"follow","timestamp":"1","follower":{"id":"u"}}`,
		`{"event_name":"user_submit_info","timestamp":"1","info":{"name":"A","phone":84987654321}}`,
		`{"event_name":"","timestamp":"1"}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := zalo.ParseEvent(body)
		if err != nil {
			return
		}
		if ev.Name == "" || ev.Timestamp.IsZero() {
			t.Fatalf("ParseEvent(%q) = %+v: no name or time", body, ev)
		}
	})
}

// FuzzVerifySignature: any header and body are accepted only with the
// signature of that body, and never panic.
func FuzzVerifySignature(f *testing.F) {
	f.Add("mac=00", []byte(`{"app_id":"1","timestamp":"1"}`))
	f.Add("", []byte(`{}`))
	f.Add("mac=", []byte(`not json`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = zalo.VerifySignature(header, body, "secret")
	})
}
