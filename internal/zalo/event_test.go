package zalo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
)

// eventSummary is everything ParseEvent and the Event methods tell, for
// exact comparison.
type eventSummary struct {
	Name         zalo.EventName
	AppID        string
	UserIDByApp  string
	Timestamp    time.Time
	SenderID     string
	RecipientID  string
	FollowerID   string
	Message      zalo.Message
	Info         zalo.SubmittedInfo
	DeliveryTime time.Time
	Call         zalo.CallDetails
	Consent      zalo.ConsentDetails

	OAID      string
	UserID    string
	IsEcho    bool
	Kind      zalo.Kind
	Known     bool
	DedupeKey string
}

func summarize(e *zalo.Event) eventSummary {
	return eventSummary{
		Name: e.Name, AppID: e.AppID, UserIDByApp: e.UserIDByApp, Timestamp: e.Timestamp,
		SenderID: e.SenderID, RecipientID: e.RecipientID, FollowerID: e.FollowerID,
		Message: e.Message, Info: e.Info, DeliveryTime: e.DeliveryTime, Call: e.Call, Consent: e.Consent,
		OAID: e.OAID(), UserID: e.UserID(), IsEcho: e.IsEcho(), Kind: e.Kind(), Known: e.Known(),
		DedupeKey: e.DedupeKey(),
	}
}

// ts is the timestamp of the samples, 1700000000000 ms.
var ts = time.UnixMilli(1700000000000).UTC()

// hashedKey is the documented DedupeKey of an event without a message ID.
func hashedKey(event, user string, at time.Time) string {
	sum := sha256.Sum256([]byte(event + "\x00" + user + "\x00" + strconv.FormatInt(at.UnixMilli(), 10)))
	return event + ":" + hex.EncodeToString(sum[:])
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		want eventSummary
	}{
		{
			name: "UserSendText",
			body: `{"app_id":"360846524940903967","user_id_by_app":"552177279717587730","event_name":"user_send_text",
				"timestamp":"1700000000000","sender":{"id":"246845883529197922"},"recipient":{"id":"388613280878808645"},
				"message":{"text":"Xin chào shop","msg_id":"96d3cdf3af150460909"}}`,
			want: eventSummary{
				Name: zalo.EventUserSendText, AppID: "360846524940903967", UserIDByApp: "552177279717587730",
				Timestamp: ts, SenderID: "246845883529197922", RecipientID: "388613280878808645",
				Message: zalo.Message{ID: "96d3cdf3af150460909", Text: "Xin chào shop"},
				OAID:    "388613280878808645", UserID: "246845883529197922",
				Kind: zalo.KindText, Known: true, DedupeKey: "user_send_text:96d3cdf3af150460909",
			},
		},
		{
			name: "UserSendImageWithCaption",
			body: `{"app_id":"a","event_name":"user_send_image","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-img","text":"ảnh đây","attachments":[{"type":"image",
				"payload":{"thumbnail":"https://z.vn/t.jpg","url":"https://z.vn/i.jpg"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendImage, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-img", Text: "ảnh đây", Attachments: []zalo.Attachment{{
					Type: "image", Payload: zalo.AttachmentPayload{Thumbnail: "https://z.vn/t.jpg", URL: "https://z.vn/i.jpg"},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindImage, Known: true, DedupeKey: "user_send_image:m-img",
			},
		},
		{
			name: "UserSendFileWithStringSize",
			body: `{"app_id":"a","event_name":"user_send_file","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-file","attachments":[{"type":"file","payload":{"url":"https://z.vn/f",
				"size":"2048","name":"hợp đồng.pdf","checksum":"c0ffee","type":"pdf"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendFile, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-file", Attachments: []zalo.Attachment{{
					Type: "file", Payload: zalo.AttachmentPayload{
						URL: "https://z.vn/f", Size: 2048, Name: "hợp đồng.pdf", Checksum: "c0ffee", FileType: "pdf",
					},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindFile, Known: true, DedupeKey: "user_send_file:m-file",
			},
		},
		{
			name: "UserSendSticker",
			body: `{"app_id":"a","event_name":"user_send_sticker","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-st","attachments":[{"type":"sticker","payload":{"id":"bfe458","url":"https://z.vn/s"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendSticker, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-st", Attachments: []zalo.Attachment{{
					Type: "sticker", Payload: zalo.AttachmentPayload{ID: "bfe458", URL: "https://z.vn/s"},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindSticker, Known: true, DedupeKey: "user_send_sticker:m-st",
			},
		},
		{
			name: "UserSendLink",
			body: `{"app_id":"a","event_name":"user_send_link","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-ln","text":"https://shop.vn/p/1","attachments":[{"type":"link",
				"payload":{"thumbnail":"https://shop.vn/t.jpg","description":"Áo thun","url":"https://shop.vn/p/1"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendLink, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-ln", Text: "https://shop.vn/p/1", Attachments: []zalo.Attachment{{
					Type: "link", Payload: zalo.AttachmentPayload{
						Thumbnail: "https://shop.vn/t.jpg", Description: "Áo thun", URL: "https://shop.vn/p/1",
					},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindLink, Known: true, DedupeKey: "user_send_link:m-ln",
			},
		},
		{
			name: "UserSendLocationWithStringCoordinates",
			body: `{"app_id":"a","event_name":"user_send_location","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-loc","attachments":[{"type":"location",
				"payload":{"coordinates":{"latitude":"10.7769","longitude":106.7009}}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendLocation, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-loc", Attachments: []zalo.Attachment{{
					Type: "location", Payload: zalo.AttachmentPayload{
						Coordinates: &zalo.Coordinates{Latitude: 10.7769, Longitude: 106.7009},
					},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindLocation, Known: true, DedupeKey: "user_send_location:m-loc",
			},
		},
		{
			name: "UserSendAudio",
			body: `{"app_id":"a","event_name":"user_send_audio","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-au","attachments":[{"type":"audio","payload":{"url":"https://z.vn/a.aac"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendAudio, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-au", Attachments: []zalo.Attachment{{
					Type: "audio", Payload: zalo.AttachmentPayload{URL: "https://z.vn/a.aac"},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindAudio, Known: true, DedupeKey: "user_send_audio:m-au",
			},
		},
		{
			name: "UserSendVideo",
			body: `{"app_id":"a","event_name":"user_send_video","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-vi","attachments":[{"type":"video",
				"payload":{"thumbnail":"https://z.vn/v.jpg","description":"clip","url":"https://z.vn/v.mp4"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendVideo, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-vi", Attachments: []zalo.Attachment{{
					Type: "video", Payload: zalo.AttachmentPayload{
						Thumbnail: "https://z.vn/v.jpg", Description: "clip", URL: "https://z.vn/v.mp4",
					},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindVideo, Known: true, DedupeKey: "user_send_video:m-vi",
			},
		},
		{
			name: "UserSendBusinessCard",
			body: `{"app_id":"a","event_name":"user_send_business_card","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"message":{"msg_id":"m-bc","attachments":[{"type":"business_card",
				"payload":{"thumbnail":"https://z.vn/c.jpg","description":"{\"phone\":\"0987654321\"}","url":"https://z.vn/c"}}]}}`,
			want: eventSummary{
				Name: zalo.EventUserSendBusinessCard, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-bc", Attachments: []zalo.Attachment{{
					Type: "business_card", Payload: zalo.AttachmentPayload{
						Thumbnail: "https://z.vn/c.jpg", Description: `{"phone":"0987654321"}`, URL: "https://z.vn/c",
					},
				}}},
				OAID: "oa1", UserID: "u1", Kind: zalo.KindBusinessCard, Known: true, DedupeKey: "user_send_business_card:m-bc",
			},
		},
		{
			name: "AnonymousSendText",
			body: `{"app_id":"a","event_name":"anonymous_send_text","timestamp":"1700000000000",
				"sender":{"id":"anon-1"},"recipient":{"id":"oa1"},"message":{"msg_id":"m-an","text":"hỏi giá"}}`,
			want: eventSummary{
				Name: zalo.EventAnonymousSendText, AppID: "a", Timestamp: ts, SenderID: "anon-1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-an", Text: "hỏi giá"},
				OAID:    "oa1", UserID: "anon-1", Kind: zalo.KindText, Known: true, DedupeKey: "anonymous_send_text:m-an",
			},
		},
		{
			name: "UserReceivedMessageFromOA",
			body: `{"app_id":"a","event_name":"user_received_message","timestamp":"1700000000000",
				"sender":{"id":"oa1"},"recipient":{"id":"u1"},"message":{"msg_id":"m-out"}}`,
			want: eventSummary{
				Name: zalo.EventUserReceivedMessage, AppID: "a", Timestamp: ts, SenderID: "oa1", RecipientID: "u1",
				Message: zalo.Message{ID: "m-out"},
				OAID:    "oa1", UserID: "u1", Known: true, DedupeKey: "user_received_message:m-out",
			},
		},
		{
			name: "ZNSReceivedWithDeliveryTimeAndTrackingID",
			body: `{"sender":{"id":"2893352839501541173"},"recipient":{"id":"84987654321"},
				"event_name":"user_received_message","message":{"delivery_time":"1700000005000",
				"msg_id":"15a0cc0bbb13bd4ce403","tracking_id":"order-88213"},
				"app_id":"2074138120372622546","timestamp":"1700000000000"}`,
			want: eventSummary{
				Name: zalo.EventUserReceivedMessage, AppID: "2074138120372622546", Timestamp: ts,
				SenderID: "2893352839501541173", RecipientID: "84987654321",
				Message:      zalo.Message{ID: "15a0cc0bbb13bd4ce403", TrackingID: "order-88213"},
				DeliveryTime: ts.Add(5 * time.Second),
				OAID:         "2893352839501541173", UserID: "84987654321", Known: true,
				DedupeKey: "user_received_message:15a0cc0bbb13bd4ce403",
			},
		},
		{
			name: "UserSeenMessageWithMsgIDs",
			body: `{"app_id":"a","user_id_by_app":"app-u1","event_name":"user_seen_message","timestamp":"1700000000000",
				"sender":{"id":"oa1"},"recipient":{"id":"u1"},"message":{"msg_ids":["m-2","m-1","m-2"]}}`,
			want: eventSummary{
				Name: zalo.EventUserSeenMessage, AppID: "a", UserIDByApp: "app-u1", Timestamp: ts,
				SenderID: "oa1", RecipientID: "u1",
				Message: zalo.Message{IDs: []string{"m-2", "m-1", "m-2"}},
				OAID:    "oa1", UserID: "u1", Known: true, DedupeKey: "user_seen_message:m-1,m-2",
			},
		},
		{
			name: "OASendTextEchoWithoutOAID",
			body: `{"app_id":"a","event_name":"oa_send_text","timestamp":"1700000000000",
				"sender":{"admin_id":"adm-1","id":"oa1"},"recipient":{"id":"u1"},
				"message":{"msg_id":"m-echo","text":"Dạ shop chào anh"}}`,
			want: eventSummary{
				Name: zalo.EventOASendText, AppID: "a", Timestamp: ts, SenderID: "oa1", RecipientID: "u1",
				Message: zalo.Message{ID: "m-echo", Text: "Dạ shop chào anh"},
				OAID:    "oa1", UserID: "u1", IsEcho: true, Kind: zalo.KindText, Known: true,
				DedupeKey: "oa_send_text:m-echo",
			},
		},
		{
			name: "OASendImageEchoWithOAID",
			body: `{"app_id":"a","oa_id":"oa1","event_name":"oa_send_image","timestamp":"1700000000000",
				"sender":{"id":"oa1"},"recipient":{"id":"u1"},
				"message":{"msg_id":"m-echo-img","attachments":[{"type":"image","payload":{"url":"https://z.vn/o.jpg"}}]}}`,
			want: eventSummary{
				Name: zalo.EventOASendImage, AppID: "a", Timestamp: ts, SenderID: "oa1", RecipientID: "u1",
				Message: zalo.Message{ID: "m-echo-img", Attachments: []zalo.Attachment{{
					Type: "image", Payload: zalo.AttachmentPayload{URL: "https://z.vn/o.jpg"},
				}}},
				OAID: "oa1", UserID: "u1", IsEcho: true, Kind: zalo.KindImage, Known: true,
				DedupeKey: "oa_send_image:m-echo-img",
			},
		},
		{
			name: "OASendGIFEcho",
			body: `{"app_id":"a","event_name":"oa_send_gif","timestamp":"1700000000000",
				"sender":{"id":"oa1"},"recipient":{"id":"u1"},"message":{"msg_id":"m-gif"}}`,
			want: eventSummary{
				Name: zalo.EventOASendGIF, AppID: "a", Timestamp: ts, SenderID: "oa1", RecipientID: "u1",
				Message: zalo.Message{ID: "m-gif"},
				OAID:    "oa1", UserID: "u1", IsEcho: true, Kind: zalo.KindGIF, Known: true, DedupeKey: "oa_send_gif:m-gif",
			},
		},
		{
			name: "Follow",
			body: `{"oa_id":"oa1","follower":{"id":"u1"},"user_id_by_app":"app-u1","event_name":"follow",
				"source":"oa_profile","app_id":"a","timestamp":"1700000000000"}`,
			want: eventSummary{
				Name: zalo.EventFollow, AppID: "a", UserIDByApp: "app-u1", Timestamp: ts, FollowerID: "u1",
				OAID: "oa1", UserID: "u1", Known: true, DedupeKey: hashedKey("follow", "u1", ts),
			},
		},
		{
			name: "Unfollow",
			body: `{"oa_id":"oa1","follower":{"id":"u1"},"event_name":"unfollow","app_id":"a","timestamp":"1700000000000"}`,
			want: eventSummary{
				Name: zalo.EventUnfollow, AppID: "a", Timestamp: ts, FollowerID: "u1",
				OAID: "oa1", UserID: "u1", Known: true, DedupeKey: hashedKey("unfollow", "u1", ts),
			},
		},
		{
			name: "UserSubmitInfo",
			body: `{"app_id":"a","event_name":"user_submit_info","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},
				"info":{"name":"Trần Thị B","phone":84987654321,"address":"12 Lê Lợi","city":"Hồ Chí Minh",
				"district":"Quận 1","ward":"Bến Nghé"}}`,
			want: eventSummary{
				Name: zalo.EventUserSubmitInfo, AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Info: zalo.SubmittedInfo{
					Name: "Trần Thị B", Phone: "84987654321", Address: "12 Lê Lợi", City: "Hồ Chí Minh",
					District: "Quận 1", Ward: "Bến Nghé",
				},
				OAID: "oa1", UserID: "u1", Known: true, DedupeKey: hashedKey("user_submit_info", "u1", ts),
			},
		},
		{
			name: "OASendConsentIsNotAnEcho",
			body: `{"app_id":"a","oa_id":"oa1","event_name":"oa_send_consent","timestamp":"1700000000000",
				"phone":"84987654321","request_type":"SENT","expired_time":"1700172800000"}`,
			want: eventSummary{
				Name: zalo.EventOASendConsent, AppID: "a", Timestamp: ts,
				Consent: zalo.ConsentDetails{Phone: "84987654321", RequestType: "SENT", ExpiredTime: "1700172800000"},
				OAID:    "oa1", Known: true, DedupeKey: hashedKey("oa_send_consent", "84987654321", ts),
			},
		},
		{
			name: "UserReplyConsent",
			body: `{"app_id":"a","oa_id":"oa1","event_name":"user_reply_consent","timestamp":"1700000000000",
				"phone":"84987654321","user_consent":"ALLOW","expired_time":1700172800000}`,
			want: eventSummary{
				Name: zalo.EventUserReplyConsent, AppID: "a", Timestamp: ts,
				Consent: zalo.ConsentDetails{Phone: "84987654321", UserConsent: "ALLOW", ExpiredTime: "1700172800000"},
				OAID:    "oa1", Known: true, DedupeKey: hashedKey("user_reply_consent", "84987654321", ts),
			},
		},
		{
			name: "UserCallOA",
			body: `{"app_id":"a","oa_id":"oa1","user_id":"u1","event_name":"user_call_oa","timestamp":"1700000000000",
				"call_id":"call-77","call_duration":95,"talk_time":"80","status_code":"0"}`,
			want: eventSummary{
				Name: zalo.EventUserCallOA, AppID: "a", Timestamp: ts,
				Call: zalo.CallDetails{ID: "call-77", Duration: "95", TalkTime: "80", StatusCode: "0"},
				OAID: "oa1", UserID: "u1", Known: true, DedupeKey: "user_call_oa:call-77",
			},
		},
		{
			name: "UserCallOAByPhone",
			body: `{"app_id":"a","oa_id":"oa1","phone":"84912345678","event_name":"user_call_oa","timestamp":"1700000000000",
				"call_id":"call-78","call_duration":"20000","status_code":6}`,
			want: eventSummary{
				Name: zalo.EventUserCallOA, AppID: "a", Timestamp: ts,
				Call:    zalo.CallDetails{ID: "call-78", Duration: "20000", StatusCode: "6", Phone: "84912345678"},
				Consent: zalo.ConsentDetails{Phone: "84912345678"},
				OAID:    "oa1", Known: true, DedupeKey: "user_call_oa:call-78",
			},
		},
		{
			name: "UnknownEventStillParses",
			body: `{"app_id":"a","event_name":"user_click_button","timestamp":"1700000000000",
				"sender":{"id":"u1"},"recipient":{"id":"oa1"},"message":{"msg_id":"m-click","text":"#buy"}}`,
			want: eventSummary{
				Name: "user_click_button", AppID: "a", Timestamp: ts, SenderID: "u1", RecipientID: "oa1",
				Message: zalo.Message{ID: "m-click", Text: "#buy"},
				OAID:    "oa1", UserID: "u1", DedupeKey: "user_click_button:m-click",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := zalo.ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}

			if got := summarize(ev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("event =\n%+v\nwant\n%+v", got, tt.want)
			}
			if string(ev.Raw) != tt.body {
				t.Errorf("Raw differs from the body")
			}
		})
	}
}

func TestParseEventRawIsACopy(t *testing.T) {
	body := []byte(`{"event_name":"follow","timestamp":"1","follower":{"id":"u1"}}`)
	ev, err := zalo.ParseEvent(body)
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	body[2] = 'X'
	if ev.Raw[2] != 'e' {
		t.Errorf("Raw shares the caller's buffer")
	}
}

func TestParseEventRejectsGarbage(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"Empty", ``},
		{"NotJSON", `event_name=follow`},
		{"Truncated", `{"event_name":"follow","timestamp":"1"`},
		{"Array", `[{"event_name":"follow"}]`},
		{"Null", `null`},
		{"String", `"follow"`},
		{"NoEventName", `{"timestamp":"1700000000000","sender":{"id":"u1"}}`},
		{"NoTimestamp", `{"event_name":"follow"}`},
		{"TimestampNotANumber", `{"event_name":"follow","timestamp":"yesterday"}`},
		{"SenderNotAnObject", `{"event_name":"user_send_text","timestamp":"1","sender":"u1"}`},
		{"MessageNotAnObject", `{"event_name":"user_send_text","timestamp":"1","message":"hi"}`},
		{"TextNotAString", `{"event_name":"user_send_text","timestamp":"1","message":{"text":{}}}`},
		{"SizeNotANumber", `{"event_name":"user_send_file","timestamp":"1",` +
			`"message":{"attachments":[{"type":"file","payload":{"size":"big"}}]}}`},
		{"LatitudeNotANumber", `{"event_name":"user_send_location","timestamp":"1",` +
			`"message":{"attachments":[{"type":"location","payload":{"coordinates":{"latitude":"N","longitude":"1"}}}]}}`},
		{"DeliveryTimeNotANumber", `{"event_name":"user_received_message","timestamp":"1",` +
			`"message":{"msg_id":"m","delivery_time":"soon"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := zalo.ParseEvent([]byte(tt.body))
			if !errors.Is(err, zalo.ErrInvalidEvent) {
				t.Errorf("ParseEvent = %+v, %v; want ErrInvalidEvent", ev, err)
			}
		})
	}
}

func TestDedupeKey(t *testing.T) {
	key := func(t *testing.T, body string) string {
		t.Helper()
		ev, err := zalo.ParseEvent([]byte(body))
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", body, err)
		}
		return ev.DedupeKey()
	}
	longIDs := make([]string, 30)
	for i := range longIDs {
		longIDs[i] = `"msg-id-number-` + strconv.Itoa(i) + `"`
	}
	tests := []struct {
		name      string
		a, b      string
		wantEqual bool
	}{
		{
			name:      "RetryOfTheSameBodyIsEqual",
			a:         `{"event_name":"user_send_text","timestamp":"1","sender":{"id":"u1"},"message":{"msg_id":"m1","text":"a"}}`,
			b:         `{"event_name":"user_send_text","timestamp":"1","sender":{"id":"u1"},"message":{"msg_id":"m1","text":"a"}}`,
			wantEqual: true,
		},
		{
			name:      "FormattingDoesNotMatter",
			a:         `{"event_name":"follow","timestamp":"1700000000000","oa_id":"oa1","follower":{"id":"u1"}}`,
			b:         `{ "follower": {"id": "u1"}, "oa_id": "oa1", "timestamp": 1700000000000, "event_name": "follow" }`,
			wantEqual: true,
		},
		{
			name:      "SeenOrderDoesNotMatter",
			a:         `{"event_name":"user_seen_message","timestamp":"1","message":{"msg_ids":["m1","m2","m3"]}}`,
			b:         `{"event_name":"user_seen_message","timestamp":"2","message":{"msg_ids":["m3","m1","m2","m1"]}}`,
			wantEqual: true,
		},
		{
			name:      "LongSeenListsStayDistinct",
			a:         `{"event_name":"user_seen_message","timestamp":"1","message":{"msg_ids":[` + strings.Join(longIDs, ",") + `]}}`,
			b:         `{"event_name":"user_seen_message","timestamp":"1","message":{"msg_ids":[` + strings.Join(longIDs[1:], ",") + `]}}`,
			wantEqual: false,
		},
		{
			name:      "EchoAndReceiptOfOneMessageDiffer",
			a:         `{"event_name":"oa_send_text","timestamp":"1","sender":{"id":"oa1"},"message":{"msg_id":"m1"}}`,
			b:         `{"event_name":"user_received_message","timestamp":"1","sender":{"id":"oa1"},"message":{"msg_id":"m1"}}`,
			wantEqual: false,
		},
		{
			name:      "FollowAgainLaterDiffers",
			a:         `{"event_name":"follow","timestamp":"1700000000000","follower":{"id":"u1"}}`,
			b:         `{"event_name":"follow","timestamp":"1700000999000","follower":{"id":"u1"}}`,
			wantEqual: false,
		},
		{
			name:      "FollowAndUnfollowDiffer",
			a:         `{"event_name":"follow","timestamp":"1700000000000","follower":{"id":"u1"}}`,
			b:         `{"event_name":"unfollow","timestamp":"1700000000000","follower":{"id":"u1"}}`,
			wantEqual: false,
		},
		{
			name:      "SubmitInfoOfTwoUsersDiffers",
			a:         `{"event_name":"user_submit_info","timestamp":"1","sender":{"id":"u1"},"info":{"name":"A"}}`,
			b:         `{"event_name":"user_submit_info","timestamp":"1","sender":{"id":"u2"},"info":{"name":"A"}}`,
			wantEqual: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := key(t, tt.a), key(t, tt.b)
			if (a == b) != tt.wantEqual {
				t.Errorf("keys %q and %q: equal = %t, want %t", a, b, a == b, tt.wantEqual)
			}
			if len(a) > 255 || len(b) > 255 {
				t.Errorf("keys are %d and %d bytes, want at most 255", len(a), len(b))
			}
		})
	}
}

func TestEventNames(t *testing.T) {
	want := []zalo.EventName{
		"user_send_text", "user_send_image", "user_send_link", "user_send_audio", "user_send_video",
		"user_send_sticker", "user_send_location", "user_send_file", "user_send_business_card",
		"anonymous_send_text", "user_received_message", "user_seen_message",
		"oa_send_text", "oa_send_image", "oa_send_gif", "oa_send_list", "oa_send_file", "oa_send_sticker",
		"follow", "unfollow", "user_submit_info",
		"oa_send_consent", "user_reply_consent", "user_call_oa", "oa_call_user",
		"change_template_status", "change_oa_daily_quota",
	}
	got := zalo.EventNames()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventNames = %v, want %v", got, want)
	}
	for _, n := range want {
		if !n.Known() {
			t.Errorf("%s.Known() = false", n)
		}
	}
	got[0] = "tampered"
	if zalo.EventNames()[0] != "user_send_text" {
		t.Errorf("EventNames returns a shared slice")
	}
	for _, n := range []zalo.EventName{"", "user_send_gif", "user_click_button", "USER_SEND_TEXT"} {
		if n.Known() {
			t.Errorf("%q.Known() = true, want false", n)
		}
	}
}

func TestEventKinds(t *testing.T) {
	tests := []struct {
		name zalo.EventName
		want zalo.Kind
	}{
		{"user_send_text", zalo.KindText},
		{"anonymous_send_text", zalo.KindText},
		{"user_send_gif", zalo.KindGIF},
		{"oa_send_list", zalo.KindList},
		{"oa_send_sticker", zalo.KindSticker},
		{"user_send_business_card", zalo.KindBusinessCard},
		{"oa_send_consent", zalo.KindNone},
		{"user_send_group_text", zalo.KindNone},
		{"user_seen_message", zalo.KindNone},
		{"follow", zalo.KindNone},
	}
	for _, tt := range tests {
		if got := tt.name.Kind(); got != tt.want {
			t.Errorf("%s.Kind() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseZNSTemplateAndQuotaEvents(t *testing.T) {
	e, err := zalo.ParseEvent([]byte(`{"app_id":"a","oa_id":"oa-1","event_name":"change_template_status","timestamp":"1767600000000",
		"template_id":231456,"status":{"prev_status":"PENDING_REVIEW","new_status":"ENABLE"},"reason":"approved"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (zalo.TemplateChange{ID: "231456", PrevStatus: "PENDING_REVIEW", NewStatus: "ENABLE", Reason: "approved"}); e.Template != want || e.OAID() != "oa-1" {
		t.Errorf("template change %+v of OA %q", e.Template, e.OAID())
	}
	if k := e.DedupeKey(); k != "change_template_status:231456:ENABLE:1767600000000" {
		t.Errorf("dedupe key %q", k)
	}
	e, err = zalo.ParseEvent([]byte(`{"app_id":"a","oa_id":"oa-1","event_name":"change_oa_daily_quota","timestamp":"1767600000000",
		"quota":{"prev_value":"500","new_value":2000}}`))
	if err != nil || e.Quota != (zalo.QuotaChange{Prev: 500, New: 2000}) {
		t.Fatalf("quota change %+v, %v", e.Quota, err)
	}
	for _, bad := range []string{
		`{"event_name":"change_template_status","timestamp":"1","template_id":"1"}`,
		`{"event_name":"change_template_status","timestamp":"1","template_id":"1","status":"ENABLE"}`,
		`{"event_name":"change_oa_daily_quota","timestamp":"1","quota":{"new_value":"many"}}`,
	} {
		if _, err := zalo.ParseEvent([]byte(bad)); !errors.Is(err, zalo.ErrInvalidEvent) {
			t.Errorf("ParseEvent(%s) = %v, want ErrInvalidEvent", bad, err)
		}
	}
	// Another event's "status" is not read as a template's.
	if _, err := zalo.ParseEvent([]byte(`{"event_name":"follow","timestamp":"1","status":"x","follower":{"id":"u"}}`)); err != nil {
		t.Errorf("a follow with a status string: %v", err)
	}
}
