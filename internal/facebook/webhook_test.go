package facebook_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
)

const (
	verifyToken = "dakenh-verify-7f3a"
	appSecret   = "3f2b9c0e8d7a6b5c4d3e2f1a0b9c8d7e"
)

func TestVerifyChallenge(t *testing.T) {
	tests := []struct {
		name          string
		query         string
		verifyToken   string
		wantChallenge string
		wantOK        bool
	}{
		{"MatchEchoesChallenge", "hub.mode=subscribe&hub.verify_token=dakenh-verify-7f3a&hub.challenge=1158201444", verifyToken, "1158201444", true},
		{"WrongToken", "hub.mode=subscribe&hub.verify_token=dakenh-verify-7f3b&hub.challenge=1158201444", verifyToken, "", false},
		{"TokenIsCaseSensitive", "hub.mode=subscribe&hub.verify_token=DAKENH-VERIFY-7F3A&hub.challenge=1158201444", verifyToken, "", false},
		{"TokenPrefix", "hub.mode=subscribe&hub.verify_token=dakenh-verify&hub.challenge=1158201444", verifyToken, "", false},
		{"MissingToken", "hub.mode=subscribe&hub.challenge=1158201444", verifyToken, "", false},
		{"WrongMode", "hub.mode=unsubscribe&hub.verify_token=dakenh-verify-7f3a&hub.challenge=1158201444", verifyToken, "", false},
		{"MissingMode", "hub.verify_token=dakenh-verify-7f3a&hub.challenge=1158201444", verifyToken, "", false},
		{"MissingChallenge", "hub.mode=subscribe&hub.verify_token=dakenh-verify-7f3a", verifyToken, "", false},
		{"EmptyConfiguredTokenNeverMatches", "hub.mode=subscribe&hub.verify_token=&hub.challenge=1158201444", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			challenge, ok := facebook.VerifyChallenge(q, tt.verifyToken)
			if challenge != tt.wantChallenge || ok != tt.wantOK {
				t.Fatalf("VerifyChallenge = %q, %v; want %q, %v", challenge, ok, tt.wantChallenge, tt.wantOK)
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	fake := fbfake.New(t)
	body, header := fake.SignedWebhook(appSecret, `{"object":"page","entry":[]}`)
	_, otherHeader := fake.SignedWebhook("another-app-secret", body)
	hexPart := strings.TrimPrefix(header, "sha256=")

	tests := []struct {
		name      string
		header    string
		body      []byte
		appSecret string
		wantErr   error
	}{
		{"Good", header, body, appSecret, nil},
		{"UpperCaseHexIsAccepted", "sha256=" + strings.ToUpper(hexPart), body, appSecret, nil},
		{"WrongSecret", otherHeader, body, appSecret, facebook.ErrSignatureMismatch},
		{"TamperedBody", header, []byte(`{"object":"page","entry":[{}]}`), appSecret, facebook.ErrSignatureMismatch},
		{"EmptyBody", header, nil, appSecret, facebook.ErrSignatureMismatch},
		{"MissingHeader", "", body, appSecret, facebook.ErrSignatureMissing},
		{"BlankHeader", "   ", body, appSecret, facebook.ErrSignatureMissing},
		{"SHA1Header", "sha1=" + hexPart[:40], body, appSecret, facebook.ErrSignatureMalformed},
		{"NoPrefix", hexPart, body, appSecret, facebook.ErrSignatureMalformed},
		{"PrefixOnly", "sha256=", body, appSecret, facebook.ErrSignatureMalformed},
		{"NotHex", "sha256=" + strings.Repeat("zz", 32), body, appSecret, facebook.ErrSignatureMalformed},
		{"TooShort", "sha256=" + hexPart[:62], body, appSecret, facebook.ErrSignatureMalformed},
		{"TooLong", header + "00", body, appSecret, facebook.ErrSignatureMalformed},
		{"NoAppSecret", header, body, "", facebook.ErrNoAppSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := facebook.VerifySignature(tt.header, tt.body, tt.appSecret)
			if err != tt.wantErr {
				t.Fatalf("VerifySignature = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// batch is one webhook POST batching two pages' entries: page 111 has a
// text message, a photo album, a sticker, an echo and a location; page 222 has
// a delivery of several messages, a read, a postback, a shared link and a
// reaction this package does not decode.
const batch = `{
  "object": "page",
  "entry": [
    {
      "id": "111", "time": 1767225600500,
      "messaging": [
        {"sender":{"id":"psid-an"},"recipient":{"id":"111"},"timestamp":1767225600000,
         "message":{"mid":"m_text","text":"Shop ơi, áo này còn size M không?","quick_reply":{"payload":"SIZE_M"},"reply_to":{"mid":"m_before"}}},
        {"sender":{"id":"psid-an"},"recipient":{"id":"111"},"timestamp":1767225601000,
         "message":{"mid":"m_photos","attachments":[
           {"type":"image","payload":{"url":"https://scontent.xx.fbcdn.net/a.jpg"}},
           {"type":"image","payload":{"url":"https://scontent.xx.fbcdn.net/b.jpg"}}]}},
        {"sender":{"id":"psid-an"},"recipient":{"id":"111"},"timestamp":1767225602000,
         "message":{"mid":"m_sticker","sticker_id":369239263222822,
           "attachments":[{"type":"image","payload":{"url":"https://scontent.xx.fbcdn.net/like.png","sticker_id":369239263222822}}]}},
        {"sender":{"id":"111"},"recipient":{"id":"psid-an"},"timestamp":1767225603000,
         "message":{"mid":"m_fake_000001","text":"Dạ còn ạ","is_echo":true,"app_id":1517776481860111}},
        {"sender":{"id":"psid-an"},"recipient":{"id":"111"},"timestamp":1767225604000,
         "message":{"mid":"m_location","attachments":[{"type":"location","title":"Vị trí của An","payload":{"coordinates":{"lat":10.7769,"long":106.7009}}}]}}
      ]
    },
    {
      "id": "222", "time": 1767225700000,
      "messaging": [
        {"sender":{"id":"psid-binh"},"recipient":{"id":"222"},
         "delivery":{"mids":["m_a","m_b","m_c"],"watermark":1767225690000}},
        {"sender":{"id":"psid-binh"},"recipient":{"id":"222"},"timestamp":1767225695000,
         "read":{"watermark":1767225691000}},
        {"sender":{"id":"psid-binh"},"recipient":{"id":"222"},"timestamp":1767225696000,
         "postback":{"title":"Đặt hàng","payload":"ORDER","mid":"m_postback"}},
        {"sender":{"id":"psid-binh"},"recipient":{"id":"222"},"timestamp":1767225697000,
         "message":{"mid":"m_link","text":"https://shopee.vn/ao-thun","attachments":[{"type":"fallback","payload":{"url":"https://shopee.vn/ao-thun","title":"Áo thun"}}]}},
        {"sender":{"id":"psid-binh"},"recipient":{"id":"222"},"timestamp":1767225698000,
         "reaction":{"mid":"m_a","action":"react","reaction":"love","emoji":"❤"}}
      ]
    }
  ]
}`

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func TestParseWebhookFlattensABatch(t *testing.T) {
	w, err := facebook.ParseWebhook([]byte(batch))
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	want := []facebook.Event{
		{Type: facebook.EventMessage, PageID: "111", Sender: "psid-an", Recipient: "111", Timestamp: ms(1767225600000),
			Message: &facebook.Message{MID: "m_text", Text: "Shop ơi, áo này còn size M không?", QuickReplyPayload: "SIZE_M", ReplyToMID: "m_before"}},
		{Type: facebook.EventMessage, PageID: "111", Sender: "psid-an", Recipient: "111", Timestamp: ms(1767225601000),
			Message: &facebook.Message{MID: "m_photos", Attachments: []facebook.Attachment{
				{Type: "image", URL: "https://scontent.xx.fbcdn.net/a.jpg"},
				{Type: "image", URL: "https://scontent.xx.fbcdn.net/b.jpg"},
			}}},
		{Type: facebook.EventMessage, PageID: "111", Sender: "psid-an", Recipient: "111", Timestamp: ms(1767225602000),
			Message: &facebook.Message{MID: "m_sticker", StickerID: "369239263222822", Attachments: []facebook.Attachment{
				{Type: "image", URL: "https://scontent.xx.fbcdn.net/like.png"},
			}}},
		{Type: facebook.EventEcho, PageID: "111", Sender: "111", Recipient: "psid-an", Timestamp: ms(1767225603000),
			Message: &facebook.Message{MID: "m_fake_000001", Text: "Dạ còn ạ", AppID: "1517776481860111"}},
		{Type: facebook.EventMessage, PageID: "111", Sender: "psid-an", Recipient: "111", Timestamp: ms(1767225604000),
			Message: &facebook.Message{MID: "m_location", Attachments: []facebook.Attachment{
				{Type: "location", Title: "Vị trí của An", Location: &facebook.Location{Latitude: 10.7769, Longitude: 106.7009}},
			}}},
		// No timestamp of its own: the entry's time stands in.
		{Type: facebook.EventDelivery, PageID: "222", Sender: "psid-binh", Recipient: "222", Timestamp: ms(1767225700000),
			Delivery: &facebook.Delivery{MIDs: []string{"m_a", "m_b", "m_c"}, Watermark: ms(1767225690000)}},
		{Type: facebook.EventRead, PageID: "222", Sender: "psid-binh", Recipient: "222", Timestamp: ms(1767225695000),
			Read: &facebook.Read{Watermark: ms(1767225691000)}},
		{Type: facebook.EventPostback, PageID: "222", Sender: "psid-binh", Recipient: "222", Timestamp: ms(1767225696000),
			Postback: &facebook.Postback{MID: "m_postback", Title: "Đặt hàng", Payload: "ORDER"}},
		{Type: facebook.EventMessage, PageID: "222", Sender: "psid-binh", Recipient: "222", Timestamp: ms(1767225697000),
			Message: &facebook.Message{MID: "m_link", Text: "https://shopee.vn/ao-thun", Attachments: []facebook.Attachment{
				{Type: "fallback", URL: "https://shopee.vn/ao-thun", Title: "Áo thun"},
			}}},
		{Type: facebook.EventUnknown, PageID: "222", Sender: "psid-binh", Recipient: "222", Timestamp: ms(1767225698000)},
	}
	if w.Object != "page" {
		t.Errorf("Object = %q, want page", w.Object)
	}
	if len(w.Events) != len(want) {
		t.Fatalf("got %d events, want %d", len(w.Events), len(want))
	}
	for i := range want {
		got := w.Events[i]
		if !json.Valid(got.Raw) || !strings.Contains(string(got.Raw), `"sender"`) {
			t.Errorf("event %d: Raw = %s, want the event's JSON", i, got.Raw)
		}
		got.Raw = nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	// The helpers, event by event.
	helpers := []struct {
		psid, dedupeKey string
		kind            facebook.MessageKind
	}{
		{"psid-an", "m_text", facebook.KindText},
		{"psid-an", "m_photos", facebook.KindImage},
		{"psid-an", "m_sticker", facebook.KindSticker},
		{"psid-an", "m_fake_000001", facebook.KindText},
		{"psid-an", "m_location", facebook.KindLocation},
		{"psid-binh", "delivery:222:psid-binh:1767225690000", ""},
		{"psid-binh", "read:222:psid-binh:1767225691000", ""},
		{"psid-binh", "m_postback", ""},
		{"psid-binh", "m_link", facebook.KindText},
		{"psid-binh", "", ""},
	}
	for i, h := range helpers {
		e := w.Events[i]
		if got := e.CustomerPSID(); got != h.psid {
			t.Errorf("event %d: CustomerPSID = %q, want %q", i, got, h.psid)
		}
		if got := e.DedupeKey(); got != h.dedupeKey {
			t.Errorf("event %d: DedupeKey = %q, want %q", i, got, h.dedupeKey)
		}
		if got := e.Kind(); got != h.kind {
			t.Errorf("event %d: Kind = %q, want %q", i, got, h.kind)
		}
	}
}

func TestEventKind(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    facebook.MessageKind
	}{
		{"Text", `{"mid":"m","text":"alo"}`, facebook.KindText},
		{"Image", `{"mid":"m","attachments":[{"type":"image","payload":{"url":"https://x/a.jpg"}}]}`, facebook.KindImage},
		{"File", `{"mid":"m","attachments":[{"type":"file","payload":{"url":"https://x/a.pdf"}}]}`, facebook.KindFile},
		{"Audio", `{"mid":"m","attachments":[{"type":"audio","payload":{"url":"https://x/a.mp4"}}]}`, facebook.KindAudio},
		{"Video", `{"mid":"m","attachments":[{"type":"video","payload":{"url":"https://x/a.mp4"}}]}`, facebook.KindVideo},
		{"StickerWinsOverItsImage", `{"mid":"m","sticker_id":369239263222822,"attachments":[{"type":"image","payload":{"url":"https://x/s.png"}}]}`, facebook.KindSticker},
		{"StickerIDAsString", `{"mid":"m","sticker_id":"369239263222822"}`, facebook.KindSticker},
		{"Location", `{"mid":"m","attachments":[{"type":"location","payload":{"coordinates":{"lat":1,"long":2}}}]}`, facebook.KindLocation},
		{"FallbackWithoutText", `{"mid":"m","attachments":[{"type":"fallback","payload":{"url":"https://x"}}]}`, facebook.KindFallback},
		{"TemplateIsFallback", `{"mid":"m","attachments":[{"type":"template","payload":{"template_type":"generic"}}]}`, facebook.KindFallback},
		{"MediaAfterFallbackWins", `{"mid":"m","attachments":[{"type":"fallback"},{"type":"video","payload":{"url":"https://x/v.mp4"}}]}`, facebook.KindVideo},
		{"EmptyMessageIsFallback", `{"mid":"m"}`, facebook.KindFallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"u"},"recipient":{"id":"1"},"timestamp":1,"message":` + tt.message + `}]}]}`
			w, err := facebook.ParseWebhook([]byte(body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if got := w.Events[0].Kind(); got != tt.want {
				t.Fatalf("Kind = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseWebhookAcceptsAnEmptyBatch(t *testing.T) {
	w, err := facebook.ParseWebhook([]byte(`{"object":"page","entry":[{"id":"111","time":1767225600000,"changes":[]}]}`))
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if len(w.Events) != 0 {
		t.Fatalf("Events = %+v, want none", w.Events)
	}
}

func TestParseWebhookRejectsGarbage(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error
	}{
		{"Empty", ``, facebook.ErrMalformedWebhook},
		{"NotJSON", `hello=world`, facebook.ErrMalformedWebhook},
		{"Truncated", `{"object":"page","entry":[`, facebook.ErrMalformedWebhook},
		{"TrailingData", `{"object":"page","entry":[]} {}`, facebook.ErrMalformedWebhook},
		{"Array", `[{"object":"page"}]`, facebook.ErrMalformedWebhook},
		{"EntryNotAList", `{"object":"page","entry":{"id":"1"}}`, facebook.ErrMalformedWebhook},
		{"MessagingNotAList", `{"object":"page","entry":[{"id":"1","messaging":"x"}]}`, facebook.ErrMalformedWebhook},
		{"TimestampAsText", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"u"},"timestamp":"yesterday"}]}]}`, facebook.ErrMalformedWebhook},
		{"MessageNotAnObject", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"u"},"message":"hi"}]}]}`, facebook.ErrMalformedWebhook},
		{"EventIsNull", `{"object":"page","entry":[{"id":"1","messaging":[null]}]}`, facebook.ErrMalformedWebhook},
		{"EventIsANumber", `{"object":"page","entry":[{"id":"1","messaging":[42]}]}`, facebook.ErrMalformedWebhook},
		{"Null", `null`, facebook.ErrUnsupportedObject},
		{"NoObject", `{"entry":[]}`, facebook.ErrUnsupportedObject},
		{"InstagramObject", `{"object":"instagram","entry":[]}`, facebook.ErrUnsupportedObject},
		{"UserObject", `{"object":"user","entry":[]}`, facebook.ErrUnsupportedObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := facebook.ParseWebhook([]byte(tt.body))
			if w != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseWebhook = %v, %v; want %v", w, err, tt.wantErr)
			}
		})
	}
}

// TestSignedWebhookRoundTrip runs what the HTTP layer will: verify the fake's
// signed body, then parse the same bytes.
func TestSignedWebhookRoundTrip(t *testing.T) {
	fake := fbfake.New(t)
	payload := map[string]any{
		"object": "page",
		"entry": []any{map[string]any{
			"id": "111", "time": 1767225600000,
			"messaging": []any{map[string]any{
				"sender": map[string]any{"id": "psid-an"}, "recipient": map[string]any{"id": "111"},
				"timestamp": 1767225600000, "message": map[string]any{"mid": "m_1", "text": "Chào shop"},
			}},
		}},
	}
	body, header := fake.SignedWebhook(appSecret, payload)
	if err := facebook.VerifySignature(header, body, appSecret); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	w, err := facebook.ParseWebhook(body)
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if len(w.Events) != 1 || w.Events[0].DedupeKey() != "m_1" || w.Events[0].Message.Text != "Chào shop" {
		t.Fatalf("Events = %+v, want the one text message m_1", w.Events)
	}
}
