package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// files serves attachments for Zalo file messages.
func files(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bao-gia.pdf", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("%PDF-1.4 báo giá"))
	})
	mux.HandleFunc("GET /huge.pdf", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 6<<20))
	})
	mux.HandleFunc("GET /flaky.pdf", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDeliveryZalo(t *testing.T) {
	o := newOutbox(t)
	srv := files(t)
	for _, tc := range []struct {
		name string
		text string
		att  *schematype.Attachment
		want zalofake.SentMessage
	}{
		{"Text", "Dạ shop chào anh ạ", nil,
			zalofake.SentMessage{Text: "Dạ shop chào anh ạ"}},
		{"ImageWithCaption", "Mẫu mới nè anh", &schematype.Attachment{Type: "image", URL: "https://cdn.example.vn/a.jpg"},
			zalofake.SentMessage{Text: "Mẫu mới nè anh", Attachment: &zalofake.Attachment{Type: "image", URL: "https://cdn.example.vn/a.jpg"}}},
		{"FileUploadedUnderItsURLName", "", &schematype.Attachment{Type: "file", URL: srv.URL + "/bao-gia.pdf"},
			zalofake.SentMessage{Attachment: &zalofake.Attachment{Type: "file", Filename: "bao-gia.pdf"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(o.zalo.Sent())
			var atts []schematype.Attachment
			if tc.att != nil {
				atts = append(atts, *tc.att)
			}
			m := o.send(o.oaConv, tc.text, atts...)

			o.deliverAll(o.svc)

			got := o.message(m.ID)
			sent := o.zalo.Sent()
			if got.Status != message.StatusSENT || len(sent) != before+1 {
				t.Fatalf("status %s (%q), %d sends; want SENT and one send", got.Status, got.FailureReason, len(sent)-before)
			}
			s := sent[len(sent)-1]
			if got.ProviderMessageID == nil || *got.ProviderMessageID != s.MessageID || got.SentAt == nil || !got.SentAt.Equal(o.clock.Now()) {
				t.Errorf("provider ID %v sent at %v; want %s at %v", got.ProviderMessageID, got.SentAt, s.MessageID, o.clock.Now())
			}
			if s.Attachment != nil {
				s.Attachment.FileToken = ""
			}
			tc.want.OAID, tc.want.UserID, tc.want.MessageID = o.oa.ExternalID, o.oaUser, s.MessageID
			if !reflect.DeepEqual(s, tc.want) {
				t.Errorf("Zalo received %+v %+v, want %+v %+v", s, s.Attachment, tc.want, tc.want.Attachment)
			}
			if got.LeaseUntil != nil || got.NextAttemptAt != nil || got.Attempts != 1 {
				t.Errorf("queue fields left: lease %v next %v attempts %d", got.LeaseUntil, got.NextAttemptAt, got.Attempts)
			}
		})
	}
	t.Run("FileContentIsUploaded", func(t *testing.T) {
		ups := o.zalo.Uploads()
		if len(ups) != 1 || string(ups[0].Content) != "%PDF-1.4 báo giá" || ups[0].Filename != "bao-gia.pdf" {
			t.Fatalf("uploads = %+v", ups)
		}
	})
	t.Run("EventsFollowTheStatus", func(t *testing.T) {
		evs := o.events()
		if len(evs) != 6 {
			t.Fatalf("events = %v, want CREATED and UPDATED for each of 3 messages", evs)
		}
		for i, e := range evs {
			if want := []string{"MESSAGE CREATED", "MESSAGE UPDATED"}[i%2]; !strings.HasPrefix(e, want) {
				t.Errorf("event %d = %s, want %s", i, e, want)
			}
		}
	})
}

func TestDeliveryZaloFileFailures(t *testing.T) {
	srv := files(t)
	for _, tc := range []struct {
		name, url  string
		status     message.Status
		reasonHas  string
		trustedNet bool
	}{
		{"TooLarge", srv.URL + "/huge.pdf", message.StatusFAILED, "larger than the 5 MB", true},
		{"NotFound", srv.URL + "/missing.pdf", message.StatusFAILED, "HTTP 404", true},
		{"Unavailable", srv.URL + "/flaky.pdf", message.StatusQUEUED, "", true},
		{"PrivateAddressRefused", srv.URL + "/bao-gia.pdf", message.StatusFAILED, "private network address", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutbox(t)
			svc := o.svc
			if !tc.trustedNet {
				// The production download client: it refuses loopback.
				svc = New(o.db.Client, o.box, Options{Zalo: o.svc.out.zalo, Now: o.clock.Now})
			}
			m := o.send(o.oaConv, "", schematype.Attachment{Type: "file", URL: tc.url})

			o.deliverAll(svc)

			got := o.message(m.ID)
			if got.Status != tc.status || !strings.Contains(got.FailureReason, tc.reasonHas) {
				t.Fatalf("status %s reason %q; want %s with %q", got.Status, got.FailureReason, tc.status, tc.reasonHas)
			}
			if strings.Contains(got.FailureReason, srv.URL) {
				t.Errorf("reason quotes the URL: %q", got.FailureReason)
			}
			if n := len(o.zalo.Requests()); n != 0 {
				t.Errorf("Zalo got %d requests, want none", n)
			}
		})
	}
}

func TestDeliveryFacebookWindow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lastWrote  time.Duration // before now; < 0 means never
		apiKey     bool
		closed     bool // Facebook's own window closed although ours is open
		wantType   string
		wantStatus message.Status
		reasonHas  string
		requests   int
	}{
		{"WithinDayIsResponse", time.Hour, false, false, "RESPONSE", message.StatusSENT, "", 1},
		{"AfterDayIsHumanAgent", 3 * 24 * time.Hour, false, false, "MESSAGE_TAG", message.StatusSENT, "", 1},
		{"FacebookSaysClosedRetriesAsHumanAgent", 23 * time.Hour, false, true, "MESSAGE_TAG", message.StatusSENT, "", 2},
		{"AfterWeekFails", 8 * 24 * time.Hour, false, false, "", message.StatusFAILED, "more than 7 days ago", 0},
		{"NeverWroteFails", -1, false, false, "", message.StatusFAILED, "never written", 0},
		{"APIKeyAfterDayFails", 3 * 24 * time.Hour, true, false, "", message.StatusFAILED, "written by a person", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutbox(t)
			upd := o.db.Client.Conversation.UpdateOneID(o.pageConv.ID)
			if tc.lastWrote < 0 {
				upd.ClearLastInboundAt()
			} else {
				upd.SetLastInboundAt(o.clock.Now().Add(-tc.lastWrote))
			}
			upd.ExecX(o.sys())
			o.fb.SetWindowClosed(o.psid, tc.closed)
			ctx := o.as(o.agent)
			if tc.apiKey {
				ctx = o.asAPIKey()
			}
			m, err := o.svc.SendMessage(ctx, SendMessageInput{ConversationID: o.pageConv.ID, Text: "Dạ em gửi anh"})
			if err != nil {
				t.Fatal(err)
			}

			o.deliverAll(o.svc)

			got := o.message(m.ID)
			if got.Status != tc.wantStatus || !strings.Contains(got.FailureReason, tc.reasonHas) {
				t.Fatalf("status %s reason %q; want %s with %q", got.Status, got.FailureReason, tc.wantStatus, tc.reasonHas)
			}
			if n := o.fb.Requests(); n != tc.requests {
				t.Errorf("Send API got %d requests, want %d", n, tc.requests)
			}
			sent := o.fb.Sent()
			if tc.wantType == "" {
				if len(sent) != 0 {
					t.Errorf("sent %+v, want nothing", sent)
				}
				return
			}
			if len(sent) != 1 || sent[0].MessagingType != tc.wantType || sent[0].Text != "Dạ em gửi anh" ||
				sent[0].PSID != o.psid || *got.ProviderMessageID != sent[0].MessageID {
				t.Errorf("sent %+v, want one %s with provider ID stored (%v)", sent, tc.wantType, *got.ProviderMessageID)
			}
			if tc.wantType == "MESSAGE_TAG" && sent[0].Tag != "HUMAN_AGENT" {
				t.Errorf("tag = %q, want HUMAN_AGENT", sent[0].Tag)
			}
		})
	}
}

func TestDeliveryFacebookAttachment(t *testing.T) {
	o := newOutbox(t)
	m := o.send(o.pageConv, "", schematype.Attachment{Type: "image", URL: "https://cdn.example.vn/menu.png"})

	o.deliverAll(o.svc)

	sent := o.fb.Sent()
	if got := o.message(m.ID); got.Status != message.StatusSENT || len(sent) != 1 ||
		sent[0].Attachment == nil || *sent[0].Attachment != (fbfake.Attachment{Type: "image", URL: "https://cdn.example.vn/menu.png"}) {
		t.Fatalf("status %s, sent %+v", got.Status, sent)
	}
}

// TestDeliveryOutageThenRecovery: a provider failing for a while is retried
// with backoff until it answers, and the message is sent exactly once.
func TestDeliveryOutageThenRecovery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  func(o *outbox)
		conv  func(o *outbox) *ent.Conversation
		sends func(o *outbox) int
	}{
		{"Zalo5xx", func(o *outbox) { o.zalo.FailNext(zalofake.SendMessage, 3, zalofake.Status(http.StatusBadGateway)) },
			func(o *outbox) *ent.Conversation { return o.oaConv }, func(o *outbox) int { return len(o.zalo.Sent()) }},
		{"ZaloConnectionReset", func(o *outbox) { o.zalo.FailNext(zalofake.SendMessage, 2, zalofake.ConnectionReset()) },
			func(o *outbox) *ent.Conversation { return o.oaConv }, func(o *outbox) int { return len(o.zalo.Sent()) }},
		{"Facebook5xx", func(o *outbox) { o.fb.FailNext(3, fbfake.ServerError()) },
			func(o *outbox) *ent.Conversation { return o.pageConv }, func(o *outbox) int { return len(o.fb.Sent()) }},
		{"FacebookRateLimited", func(o *outbox) { o.fb.FailNext(2, fbfake.GraphError(613, 0)) },
			func(o *outbox) *ent.Conversation { return o.pageConv }, func(o *outbox) int { return len(o.fb.Sent()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutbox(t)
			tc.fail(o)
			m := o.send(tc.conv(o), "Đơn của anh đã được xác nhận")

			var delays []time.Duration
			for attempt := 1; ; attempt++ {
				o.deliverAll(o.svc)
				got := o.message(m.ID)
				if got.Status == message.StatusSENT {
					break
				}
				if got.Status != message.StatusQUEUED || attempt > 5 || got.NextAttemptAt == nil {
					t.Fatalf("attempt %d: status %s reason %q next %v", attempt, got.Status, got.FailureReason, got.NextAttemptAt)
				}
				delays = append(delays, got.NextAttemptAt.Sub(o.clock.Now()))
				// Not due yet: nothing happens before the backoff passes.
				if n, _ := o.svc.DeliverDue(context.Background()); n != 0 {
					t.Fatalf("attempt %d: claimed %d messages before the retry was due", attempt, n)
				}
				o.clock.Set(*got.NextAttemptAt)
			}
			if n := tc.sends(o); n != 1 {
				t.Errorf("provider recorded %d sends, want exactly 1", n)
			}
			if len(delays) == 0 || delays[0] <= 0 || delays[0] > 2*time.Second {
				t.Errorf("retry delays %v: the first must come within 2 s", delays)
			}
			for i := 1; i < len(delays); i++ {
				if lo := time.Second << (i - 1); delays[i] < lo {
					t.Errorf("delay %d = %v, want at least %v (doubling)", i, delays[i], lo)
				}
			}
		})
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	o := newOutbox(t)
	o.zalo.FailNext(zalofake.SendMessage, MaxDeliveryAttempts, zalofake.Status(http.StatusServiceUnavailable))
	m := o.send(o.oaConv, "Xin lỗi anh vì sự chậm trễ")

	for range MaxDeliveryAttempts {
		o.deliverAll(o.svc)
		if got := o.message(m.ID); got.NextAttemptAt != nil {
			o.clock.Set(*got.NextAttemptAt)
		}
	}

	got := o.message(m.ID)
	want := fmt.Sprintf("Gave up after %d attempts. Zalo is temporarily unavailable.", MaxDeliveryAttempts)
	if got.Status != message.StatusFAILED || got.FailureReason != want || got.Attempts != MaxDeliveryAttempts {
		t.Fatalf("status %s reason %q attempts %d; want FAILED %q", got.Status, got.FailureReason, got.Attempts, want)
	}
	if n := len(o.zalo.Requests()); n != MaxDeliveryAttempts {
		t.Errorf("Zalo got %d requests, want %d", n, MaxDeliveryAttempts)
	}
}

func TestDeliveryPermanentFailure(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		fail         func(o *outbox)
		conv         func(o *outbox) *ent.Conversation
	}{
		{"ZaloUserInactive", "The customer has not interacted with the OA in the last 7 days, so Zalo does not allow consultation messages now (error -230).",
			func(o *outbox) { o.zalo.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-230)) },
			func(o *outbox) *ent.Conversation { return o.oaConv }},
		{"ZaloMalformedAnswer", "Zalo gave an unexpected answer; the message may have been sent.",
			func(o *outbox) { o.zalo.FailNext(zalofake.SendMessage, 1, zalofake.Malformed()) },
			func(o *outbox) *ent.Conversation { return o.oaConv }},
		{"FacebookUnavailablePerson", "This person isn't available on Messenger right now.",
			func(o *outbox) { o.fb.FailNext(1, fbfake.GraphError(551, 0)) },
			func(o *outbox) *ent.Conversation { return o.pageConv }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutbox(t)
			tc.fail(o)
			m := o.send(tc.conv(o), "Anh ơi")

			o.deliverAll(o.svc)

			if got := o.message(m.ID); got.Status != message.StatusFAILED || got.FailureReason != tc.reason || got.NextAttemptAt != nil {
				t.Fatalf("status %s reason %q next %v; want FAILED %q", got.Status, got.FailureReason, got.NextAttemptAt, tc.reason)
			}
			if evs := o.events(); len(evs) != 2 || evs[1] != "MESSAGE UPDATED "+string(m.ID) {
				t.Errorf("events = %v, want CREATED then UPDATED", evs)
			}
		})
	}
}

func TestDeliveryRefreshesARefusedZaloToken(t *testing.T) {
	t.Run("RefreshAndRetryOnce", func(t *testing.T) {
		o := newOutbox(t)
		o.zalo.ExpireToken(o.oa.ExternalID)
		m := o.send(o.oaConv, "Dạ vâng")

		o.deliverAll(o.svc)

		got := o.message(m.ID)
		if got.Status != message.StatusSENT || o.zalo.RefreshCount() != 1 || len(o.zalo.Sent()) != 1 {
			t.Fatalf("status %s reason %q, %d refreshes, %d sends; want SENT after 1 refresh and 1 send",
				got.Status, got.FailureReason, o.zalo.RefreshCount(), len(o.zalo.Sent()))
		}
		creds, err := o.svc.Open(o.channel(o.oa.ID))
		if err != nil {
			t.Fatal(err)
		}
		if fake := o.zalo.OA(o.oa.ExternalID); creds.AccessToken != fake.AccessToken || creds.RefreshToken != fake.RefreshToken {
			t.Errorf("stored tokens are not the refreshed pair")
		}
	})
	t.Run("RefusedAgainLosesConnection", func(t *testing.T) {
		o := newOutbox(t)
		o.zalo.FailNext(zalofake.SendMessage, 2, zalofake.ErrorCode(-216))
		m := o.send(o.oaConv, "Dạ vâng")

		o.deliverAll(o.svc)

		got := o.message(m.ID)
		if got.Status != message.StatusQUEUED || !strings.Contains(deref(got.LastError), "even after it was refreshed") {
			t.Fatalf("status %s lastError %q; want QUEUED for the reconnect", got.Status, deref(got.LastError))
		}
		if ch := o.channel(o.oa.ID); ch.Status != channel.StatusDISCONNECTED || ch.ConnectionLostAt == nil {
			t.Errorf("channel is %s, lost at %v; want its connection lost", ch.Status, ch.ConnectionLostAt)
		}
		if o.zalo.RefreshCount() != 1 || len(o.zalo.Requests()) != 3 {
			t.Errorf("%d refreshes, %d requests; want one refresh between two sends", o.zalo.RefreshCount(), len(o.zalo.Requests()))
		}
	})
	t.Run("RefreshRejectedLosesConnection", func(t *testing.T) {
		o := newOutbox(t)
		o.zalo.ExpireToken(o.oa.ExternalID)
		o.zalo.ExpireRefreshToken(o.oa.ExternalID)
		m := o.send(o.oaConv, "Dạ vâng")

		o.deliverAll(o.svc)

		if got := o.message(m.ID); got.Status != message.StatusQUEUED || !strings.Contains(deref(got.LastError), "reconnects it") {
			t.Fatalf("status %s lastError %q; want QUEUED for the reconnect", got.Status, deref(got.LastError))
		}
		if ch := o.channel(o.oa.ID); ch.Status != channel.StatusDISCONNECTED || ch.ConnectionLostAt == nil || !strings.Contains(ch.StatusReason, "reconnect the OA") {
			t.Errorf("channel is %s (%q), lost at %v; want its connection lost", ch.Status, ch.StatusReason, ch.ConnectionLostAt)
		}
	})
}

// TestDeliveryFacebookInvalidTokenLosesConnection: code 190 loses the
// page's connection; its replies stay QUEUED for the reconnect without
// calling Facebook, and fail only when their retry budget runs out.
func TestDeliveryFacebookInvalidTokenLosesConnection(t *testing.T) {
	o := newOutbox(t)
	o.fb.FailNext(1, fbfake.GraphError(fbfake.CodeInvalidToken, 0))
	m := o.send(o.pageConv, "Chào chị")

	o.deliverAll(o.svc)

	got := o.message(m.ID)
	if got.Status != message.StatusQUEUED || deref(got.LastError) != "The Facebook page's access token is no longer valid; reconnect the page." {
		t.Fatalf("status %s lastError %q; want QUEUED for the reconnect", got.Status, deref(got.LastError))
	}
	ch := o.channel(o.page.ID)
	if ch.Status != channel.StatusDISCONNECTED || ch.StatusReason == "" || ch.AccessToken != nil || ch.ConnectionLostAt == nil {
		t.Errorf("channel %s (%q), token kept %v, lost at %v; want its connection lost with a reason and no token", ch.Status, ch.StatusReason, ch.AccessToken != nil, ch.ConnectionLostAt)
	}
	want := []string{"MESSAGE CREATED " + string(m.ID), "CHANNEL DISCONNECTED " + string(o.page.ID), "MESSAGE UPDATED " + string(m.ID)}
	if evs := o.events(); !slices.Equal(evs, want) {
		t.Errorf("events = %v, want %v", evs, want)
	}
	// What was queued behind it fails too, without calling Facebook.
	n := o.fb.Requests()
	later, err := o.db.Client.Message.Create().SetConversationID(o.pageConv.ID).SetChannelID(o.page.ID).
		SetDirection(message.DirectionOUTBOUND).SetStatus(message.StatusQUEUED).SetSenderType(message.SenderTypeUSER).
		SetText("còn đó không").SetNextAttemptAt(o.clock.Now()).Save(o.sys())
	if err != nil {
		t.Fatal(err)
	}
	o.deliverAll(o.svc)
	if got := o.message(later.ID); got.Status != message.StatusQUEUED || o.fb.Requests() != n {
		t.Errorf("queued on a lost page: %s %q, %d more requests", got.Status, deref(got.LastError), o.fb.Requests()-n)
	}
	// The retry budget still ends, one reply after the other (a
	// conversation's replies go out in order): each round is due after
	// its backoff.
	for range 2*delivery.MaxAttempts + 2 {
		o.clock.Advance(24 * time.Hour)
		o.deliverAll(o.svc)
	}
	for _, id := range []gid.ID{m.ID, later.ID} {
		if got := o.message(id); got.Status != message.StatusFAILED || !strings.Contains(deref(got.LastError), "lost its connection") || o.fb.Requests() != n {
			t.Errorf("after the retry budget: %s %q, %d more requests; want FAILED without calling Facebook", got.Status, deref(got.LastError), o.fb.Requests()-n)
		}
	}
}

// TestDeliveryCrashResumesAfterLease: a worker that claims and dies loses
// nothing; the message waits for the lease, then another worker delivers
// it exactly once, and the dead worker's late outcome is discarded.
func TestDeliveryCrashResumesAfterLease(t *testing.T) {
	o := newOutbox(t)
	m := o.send(o.oaConv, "Shop giao hàng trong 2 giờ ạ")
	crashed := o.newService()
	claims, err := crashed.out.worker.Claim(context.Background(), delivery.Slots)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim = %v, %v; want the message", claims, err)
	}
	// The crashed worker never sends nor records anything.

	restarted := o.newService()
	if n, err := restarted.DeliverDue(context.Background()); n != 0 || err != nil {
		t.Fatalf("before the lease expired another worker claimed %d (%v)", n, err)
	}
	o.clock.Advance(delivery.Lease)
	o.deliverAll(restarted)

	got := o.message(m.ID)
	if got.Status != message.StatusSENT || len(o.zalo.Sent()) != 1 || got.Attempts != 2 {
		t.Fatalf("status %s, %d sends, attempts %d; want SENT once on the second claim", got.Status, len(o.zalo.Sent()), got.Attempts)
	}
	// The dead worker comes back with a stale outcome: it must not win.
	stale := outcomeFailed("stale", nil)
	if err := crashed.out.worker.Record(context.Background(), claims[0], stale, stale.outcome()); err != nil {
		t.Fatal(err)
	}
	if again := o.message(m.ID); again.Status != message.StatusSENT || *again.ProviderMessageID != *got.ProviderMessageID {
		t.Errorf("a stale outcome overwrote the message: %s %q", again.Status, again.FailureReason)
	}
}

// TestDeliveryRenewsItsLease: a worker renews its lease while a slow
// provider holds the delivery, so no other worker claims the message
// however far past the first lease it runs; and a worker whose claim was
// taken over stops its delivery instead of sending a second time.
func TestDeliveryRenewsItsLease(t *testing.T) {
	o := newOutbox(t)
	leaseOf := func(id gid.ID) time.Time {
		if l := o.message(id).LeaseUntil; l != nil {
			return *l
		}
		return time.Time{}
	}
	deliverInBackground := func(m *ent.Message, slow time.Duration) (*Service, delivery.Claim, chan struct{}) {
		o.zalo.FailNext(zalofake.SendMessage, 1, zalofake.Slow(slow))
		w := o.newService()
		w.out.worker.SetRenewEvery(10 * time.Millisecond)
		claims, err := w.out.worker.Claim(context.Background(), delivery.Slots)
		if err != nil || len(claims) != 1 || claims[0].ID != m.ID {
			t.Fatalf("claim = %v, %v; want %s", claims, err, m.ID)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.out.worker.Deliver(context.Background(), claims[0])
		}()
		return w, claims[0], done
	}

	t.Run("HeldWhileSending", func(t *testing.T) {
		m := o.send(o.oaConv, "Dạ đơn của anh đang được đóng gói")
		_, _, done := deliverInBackground(m, 2*time.Second)
		// Four steps of two thirds of a lease: far past the first one.
		for range 4 {
			o.clock.Advance(delivery.Lease * 2 / 3)
			for leaseOf(m.ID).Before(o.clock.Now().Add(delivery.Lease / 2)) {
				select {
				case <-done:
					t.Fatal("the delivery ended without renewing its lease")
				case <-time.After(5 * time.Millisecond): // polling for the renewal, not timing it
				}
			}
			if n, err := o.newService().DeliverDue(context.Background()); n != 0 || err != nil {
				t.Fatalf("another worker claimed the message being sent: %d (%v)", n, err)
			}
		}
		<-done
		got := o.message(m.ID)
		if got.Status != message.StatusSENT || got.Attempts != 1 || len(o.zalo.Sent()) != 1 {
			t.Fatalf("status %s, attempts %d, %d sends; want SENT once on the first claim", got.Status, got.Attempts, len(o.zalo.Sent()))
		}
	})

	t.Run("StopsWhenTakenOver", func(t *testing.T) {
		before := len(o.zalo.Sent())
		m := o.send(o.oaConv, "Anh ơi shop gửi mã vận đơn")
		_, c, done := deliverInBackground(m, 5*time.Second)
		// What a second worker's claim does once a lease ran out.
		if err := o.db.Client.Message.UpdateOneID(m.ID).SetAttempts(c.Attempts + 1).Exec(o.sys()); err != nil {
			t.Fatal(err)
		}
		<-done
		if n := len(o.zalo.Sent()) - before; n != 0 {
			t.Fatalf("the overtaken worker still sent the message (%d sends)", n)
		}
		if got := o.message(m.ID); got.Status != message.StatusQUEUED || got.Attempts != c.Attempts+1 {
			t.Fatalf("the overtaken worker changed the message: %s, attempts %d", got.Status, got.Attempts)
		}
	})
}

// TestDeliveryTwoWorkersNeverSendTwice runs two replicas' workers on one
// database at once: every message is sent exactly once, and each
// conversation's messages in the order they were written.
func TestDeliveryTwoWorkersNeverSendTwice(t *testing.T) {
	o := newOutbox(t)
	const conversations, perConversation = 24, 3
	var convs []*ent.Conversation
	for i := range conversations {
		convs = append(convs, o.addConversation(o.oa, fmt.Sprintf("zalo-user-%d", i+10), fmt.Sprintf("Khách %d", i)))
	}
	for j := range perConversation {
		for i, c := range convs {
			o.send(c, fmt.Sprintf("c%02d-m%d", i, j))
		}
	}
	workers := []*Service{o.newService(), o.newService()}

	// The workers run in rounds, both at once: DeliverDue returns once its
	// claims are recorded, so after a round every claim is settled and the
	// next round can only find messages nobody holds. Counting rounds per
	// worker instead would let one give up while the other still delivers.
	for round := 0; ; round++ {
		if round == 100 {
			t.Fatal("messages still queued after 100 rounds")
		}
		var wg sync.WaitGroup
		errs := make([]error, len(workers))
		for i, w := range workers {
			wg.Go(func() { _, errs[i] = w.DeliverDue(context.Background()) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		left, err := o.db.Client.Message.Query().Where(message.StatusEQ(message.StatusQUEUED)).Count(o.sys())
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
	}

	sent := o.zalo.Sent()
	texts, ids := map[string]int{}, map[string]int{}
	order := map[string][]string{}
	for _, s := range sent {
		texts[s.Text]++
		ids[s.MessageID]++
		order[s.UserID] = append(order[s.UserID], s.Text)
	}
	if len(sent) != conversations*perConversation || len(texts) != len(sent) || len(ids) != len(sent) {
		t.Fatalf("%d sends of %d distinct texts with %d distinct IDs; want %d of each", len(sent), len(texts), len(ids), conversations*perConversation)
	}
	for user, got := range order {
		if !slices.IsSorted(got) {
			t.Errorf("%s received %v out of order", user, got)
		}
	}
	stored := o.db.Client.Message.Query().Where(message.DirectionEQ(message.DirectionOUTBOUND)).AllX(o.sys())
	for _, m := range stored {
		if m.Status != message.StatusSENT || m.ProviderMessageID == nil || ids[*m.ProviderMessageID] != 1 {
			t.Errorf("message %q: %s with provider ID %v", m.Text, m.Status, m.ProviderMessageID)
		}
	}
}

// TestDeliveryKeepsConversationOrder: a reply waiting for a retry holds the
// later replies of its conversation back, so they never overtake it.
func TestDeliveryKeepsConversationOrder(t *testing.T) {
	o := newOutbox(t)
	o.zalo.FailNext(zalofake.SendMessage, 1, zalofake.Status(http.StatusInternalServerError))
	first := o.send(o.oaConv, "1. Dạ anh chờ em chút")
	second := o.send(o.oaConv, "2. Em gửi báo giá ạ")

	o.deliverAll(o.svc)
	if got := o.message(second.ID); got.Status != message.StatusQUEUED || len(o.zalo.Sent()) != 0 {
		t.Fatalf("the second reply went out (%s, %d sent) while the first waits for its retry", got.Status, len(o.zalo.Sent()))
	}
	o.clock.Set(*o.message(first.ID).NextAttemptAt)
	o.deliverAll(o.svc)

	var got []string
	for _, s := range o.zalo.Sent() {
		got = append(got, s.Text)
	}
	if !slices.Equal(got, []string{first.Text, second.Text}) {
		t.Fatalf("Zalo received %q, want them in the order written", got)
	}
}

func TestSendMessageQueues(t *testing.T) {
	o := newOutbox(t)
	o.clock.Advance(time.Minute)

	m, err := o.svc.SendMessage(o.asAPIKey(), SendMessageInput{ConversationID: o.oaConv.ID, Text: "Tin tự động"})
	if err != nil {
		t.Fatal(err)
	}

	if m.SenderType != message.SenderTypeSYSTEM || m.SenderUserID != nil || m.Direction != message.DirectionOUTBOUND ||
		m.Kind != message.KindTEXT || m.NextAttemptAt == nil || !m.NextAttemptAt.Equal(o.clock.Now()) {
		t.Errorf("queued %+v", m)
	}
	conv := o.db.Client.Conversation.Query().Where(conversation.ID(o.oaConv.ID)).OnlyX(o.sys())
	if conv.LastMessageAt == nil || !conv.LastMessageAt.Equal(o.clock.Now()) {
		t.Errorf("last_message_at = %v, want %v", conv.LastMessageAt, o.clock.Now())
	}
	if evs := o.events(); !slices.Equal(evs, []string{"MESSAGE CREATED " + string(m.ID)}) {
		t.Errorf("events = %v", evs)
	}
	if !o.svc.out.worker.Nudged() {
		t.Error("the delivery worker was not nudged")
	}
	// The returned row is detached from the committed transaction.
	if c, err := m.QueryConversation().Only(o.sys()); err != nil || c.ID != o.oaConv.ID {
		t.Errorf("loading the message's conversation: %v, %v", c, err)
	}
}

func TestSendMessageRefusals(t *testing.T) {
	o := newOutbox(t)
	privateCh := o.addChannel(channel.KindZALO_OA, "oa-private-"+string(gid.New("Channel")), Credentials{AccessToken: "x"}, "app", o.clock.Now().Add(time.Hour))
	o.db.Client.Channel.UpdateOneID(privateCh.ID).SetChatPermission(channel.ChatPermissionONLY_ME).SetConnectedByID(o.owner.ID).ExecX(o.sys())
	private := o.addConversation(privateCh, "u-private", "Riêng")
	offline := o.addConversation(o.addChannel(channel.KindFACEBOOK_PAGE, "page-off-"+string(gid.New("Channel")), Credentials{AccessToken: "x"}, "", time.Time{}), "p-off", "Off")
	o.db.Client.Channel.UpdateOneID(offline.ChannelID).SetStatus(channel.StatusDISCONNECTED).ExecX(o.sys())
	img := schematype.Attachment{Type: "image", URL: "https://cdn.example.vn/a.jpg"}
	for _, tc := range []struct {
		name string
		in   SendMessageInput
		code string
	}{
		{"Empty", SendMessageInput{ConversationID: o.oaConv.ID}, "BAD_USER_INPUT"},
		{"OnlySpaces", SendMessageInput{ConversationID: o.oaConv.ID, Text: "  \n "}, "BAD_USER_INPUT"},
		{"TooLong", SendMessageInput{ConversationID: o.oaConv.ID, Text: strings.Repeat("ạ", MaxTextLength+1)}, "BAD_USER_INPUT"},
		{"TwoAttachments", SendMessageInput{ConversationID: o.oaConv.ID, Attachments: []schematype.Attachment{img, img}}, "BAD_USER_INPUT"},
		{"RelativeURL", SendMessageInput{ConversationID: o.oaConv.ID, Attachments: []schematype.Attachment{{Type: "image", URL: "/a.jpg"}}}, "BAD_USER_INPUT"},
		{"UnknownType", SendMessageInput{ConversationID: o.oaConv.ID, Attachments: []schematype.Attachment{{Type: "sticker", URL: "https://x.vn/s"}}}, "BAD_USER_INPUT"},
		{"ZaloFileWithText", SendMessageInput{ConversationID: o.oaConv.ID, Text: "kèm file", Attachments: []schematype.Attachment{{Type: "file", URL: "https://x.vn/a.pdf"}}}, "BAD_USER_INPUT"},
		{"MessengerTextWithImage", SendMessageInput{ConversationID: o.pageConv.ID, Text: "kèm ảnh", Attachments: []schematype.Attachment{img}}, "BAD_USER_INPUT"},
		{"OnlyMeOfSomeoneElse", SendMessageInput{ConversationID: private.ID, Text: "hi"}, "NOT_FOUND"},
		{"Unknown", SendMessageInput{ConversationID: gid.New("Conversation"), Text: "hi"}, "NOT_FOUND"},
		{"Disconnected", SendMessageInput{ConversationID: offline.ID, Text: "hi"}, "FAILED_PRECONDITION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := o.svc.SendMessage(o.as(o.agent), tc.in)
			if got := outboxErrCode(err); got != tc.code {
				t.Fatalf("error %v (%s), want %s", err, got, tc.code)
			}
		})
	}
	if n := o.db.Client.Message.Query().CountX(o.sys()); n != 0 {
		t.Errorf("%d messages stored by refused sends", n)
	}
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
