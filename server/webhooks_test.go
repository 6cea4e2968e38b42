package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// The channels newWebhookEnv connects, and their secrets (zaloInput's for
// the OA).
const (
	testOAID          = "4321000000000000001"
	testZaloAppID     = "app-1"
	testZaloSecret    = "WEBHOOK-SECRET-zalo-1"
	testZaloToken     = "ACCESS-TOKEN-zalo-1"
	testPageID        = "page-222"
	testFBAppSecret   = "APP-SECRET-fb"
	testFBVerifyToken = "VERIFY-TOKEN-fb"
	testFBPageToken   = "PAGE-TOKEN-fb"
)

// newTestClock returns the webhook tests' clock.
func newTestClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
}

// webhookEnv is a server whose organization connected a Zalo OA (by its
// ADMIN, ONLY_ME) and a Facebook page (by its OWNER), fake providers, and
// a webhook processor on a test clock over the server's database, like a
// second replica's.
type webhookEnv struct {
	*env
	t      *testing.T
	tn     *tenant
	org    gid.ID
	zfake  *zalofake.Server
	fbfake *fbfake.Fake
	oa     *ent.Channel
	page   *ent.Channel
	clock  *clocktest.Clock
	in     *inbox.Inbound
	seq    atomic.Int64
}

// newWebhookEnv builds the environment; opts configure its server, and
// may use the fakes and the clock, which exist before it.
func newWebhookEnv(t *testing.T, opts ...func(*webhookEnv) envOption) *webhookEnv {
	t.Helper()
	return newWebhookEnvOn(t, dbtest.Open(t), opts...)
}

// newWebhookEnvOn is newWebhookEnv on the database db, such as one whose
// statements are counted.
func newWebhookEnvOn(t *testing.T, db *database.DB, opts ...func(*webhookEnv) envOption) *webhookEnv {
	t.Helper()
	w := &webhookEnv{t: t, zfake: zalofake.New(t), fbfake: fbfake.New(t), clock: newTestClock()}
	envOpts := []envOption{func(c *Config, _ *appOptions) {
		c.ZaloOpenAPIURL, c.ZaloOAuthURL, c.ZNSAPIURL, c.FacebookGraphURL = w.zfake.URL(), w.zfake.URL(), w.zfake.URL(), w.fbfake.URL()
	}}
	for _, o := range opts {
		envOpts = append(envOpts, o(w))
	}
	w.env = newEnvOn(t, db, envOpts...)
	w.tn = w.newTenant("Webhook Org")
	// The same app and token pair as zaloInput connects with, so that
	// refreshes work.
	w.zfake.SetApp("app-1", "APP-SECRET-zalo-1")
	w.zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken, RefreshToken: "REFRESH-TOKEN-zalo-1"})
	var z struct{ ConnectZaloOA struct{ ID gid.ID } }
	w.must(w.tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, &z)
	var fb struct{ ConnectFacebookPage struct{ ID gid.ID } }
	w.must(w.tn.ownerToken, `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"pageId": testPageID, "name": "Hoa Lan Fanpage", "pageAccessToken": testFBPageToken,
			"appSecret": testFBAppSecret, "verifyToken": testFBVerifyToken,
		}}, &fb)
	w.oa = w.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), z.ConnectZaloOA.ID)
	w.page = w.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), fb.ConnectFacebookPage.ID)
	w.org = w.oa.OrganizationID
	w.in = w.processor(0)
	return w
}

// processor returns a webhook processor on the test clock.
func (w *webhookEnv) processor(batch int) *inbox.Inbound {
	return inbox.NewInbound(w.app.inbox, inbox.InboundConfig{
		Zalo:      zalo.New(zalo.Config{OpenAPIURL: w.zfake.URL()}),
		Now:       w.clock.Now,
		Logger:    w.app.logger,
		BatchSize: batch,
	})
}

// sys is the system context of the organization.
func (w *webhookEnv) sys() context.Context { return viewer.SystemContext(context.Background(), w.org) }

// post sends a webhook request and returns its status.
func (w *webhookEnv) post(path, contentType string, header map[string]string, body []byte) int {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postZalo posts a Zalo webhook with the given signature header ("" for
// none).
func (w *webhookEnv) postZalo(body []byte, signature string) int {
	w.t.Helper()
	h := map[string]string{}
	if signature != "" {
		h[zalofake.SignatureHeader] = signature
	}
	return w.post("/webhooks/zalo", "application/json", h, body)
}

// postFacebook posts a Messenger webhook with the given signature header.
func (w *webhookEnv) postFacebook(body []byte, signature string) int {
	w.t.Helper()
	h := map[string]string{}
	if signature != "" {
		h["X-Hub-Signature-256"] = signature
	}
	return w.post("/webhooks/facebook", "application/json", h, body)
}

// zaloEvent signs a Zalo event as Zalo would for the test OA.
func (w *webhookEnv) zaloEvent(ev map[string]any) (body []byte, signature string) {
	w.t.Helper()
	return w.zfake.SignedEvent(testZaloAppID, testZaloSecret, ev)
}

// sendZalo signs and posts a Zalo event, which must be accepted.
func (w *webhookEnv) sendZalo(ev map[string]any) {
	w.t.Helper()
	body, sig := w.zaloEvent(ev)
	if status := w.postZalo(body, sig); status != http.StatusOK {
		w.t.Fatalf("POST /webhooks/zalo %s: status %d", body, status)
	}
}

// sendFacebook signs and posts a Messenger webhook, which must be
// accepted.
func (w *webhookEnv) sendFacebook(payload any) {
	w.t.Helper()
	body, sig := w.fbfake.SignedWebhook(testFBAppSecret, payload)
	if status := w.postFacebook(body, sig); status != http.StatusOK {
		w.t.Fatalf("POST /webhooks/facebook %s: status %d", body, status)
	}
}

// process runs the processor over every due event and returns how many
// it processed.
func (w *webhookEnv) process() int {
	w.t.Helper()
	n, err := w.in.ProcessDue(context.Background())
	if err != nil {
		w.t.Fatalf("ProcessDue: %v", err)
	}
	return n
}

// msgID returns a fresh provider message ID.
func (w *webhookEnv) msgID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, w.seq.Add(1))
}

// ms formats t as Zalo's and Facebook's millisecond timestamps.
func ms(t time.Time) int64 { return t.UnixMilli() }

// userEvent is a Zalo event a user sends the OA.
func (w *webhookEnv) userEvent(name, userID string, msg map[string]any) map[string]any {
	ev := map[string]any{
		"app_id":         testZaloAppID,
		"event_name":     name,
		"timestamp":      strconv.FormatInt(ms(w.clock.Now().Add(-time.Second)), 10),
		"sender":         map[string]any{"id": userID},
		"recipient":      map[string]any{"id": testOAID},
		"user_id_by_app": "app-" + userID,
	}
	if msg != nil {
		ev["message"] = msg
	}
	return ev
}

// oaEvent is a Zalo event of the OA about a user: an echo or a receipt.
func (w *webhookEnv) oaEvent(name, userID string, msg map[string]any) map[string]any {
	ev := w.userEvent(name, userID, msg)
	ev["sender"], ev["recipient"] = map[string]any{"id": testOAID}, map[string]any{"id": userID}
	return ev
}

// webhookRows returns the stored webhook events with the given dedupe key
// suffix, or all of them for "".
func (w *webhookEnv) webhookRows(keySuffix string) []*ent.WebhookEvent {
	w.t.Helper()
	q := w.db.Client.WebhookEvent.Query().Order(webhookevent.ByReceivedAt(), webhookevent.ByID())
	if keySuffix != "" {
		q.Where(webhookevent.DedupeKeyHasSuffix(keySuffix))
	}
	rows, err := q.All(viewer.SystemContext(context.Background(), ""))
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

// identityOf returns the identity of a user on a channel, or nil.
func (w *webhookEnv) identityOf(ch *ent.Channel, userID string) *ent.Identity {
	w.t.Helper()
	idt, err := w.db.Client.Identity.Query().
		Where(identity.ChannelID(ch.ID), identity.ExternalID(userID)).
		Only(w.sys())
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return idt
}

// messageByProviderID returns the channel's message with the provider ID.
func (w *webhookEnv) messageByProviderID(ch *ent.Channel, id string) *ent.Message {
	w.t.Helper()
	m, err := w.db.Client.Message.Query().
		Where(message.ChannelID(ch.ID), message.ProviderMessageID(id)).
		Only(w.sys())
	if err != nil {
		w.t.Fatalf("message %s: %v", id, err)
	}
	return m
}

// countMessages counts the channel's messages with the provider ID.
func (w *webhookEnv) countMessages(ch *ent.Channel, providerID string) int {
	w.t.Helper()
	return w.db.Client.Message.Query().
		Where(message.ChannelID(ch.ID), message.ProviderMessageID(providerID)).
		CountX(w.sys())
}

// logEntry is an event of the organization's log, as the test compares it.
type logEntry struct {
	Topic, Type                               string
	ConversationID, MessageID, AudienceUserID gid.ID
}

// eventsAfter returns the organization's events with seq > after, and
// the last seq.
func (w *webhookEnv) eventsAfter(after int64) ([]logEntry, int64) {
	w.t.Helper()
	// The log's policy admits nobody: the event package reads it as it
	// streams. The test reads it directly.
	ctx := privacy.DecisionContext(w.sys(), privacy.Allow)
	evs, err := w.db.Client.Event.Query().
		Where(entevent.OrganizationID(w.org), entevent.SeqGT(after)).
		Order(entevent.BySeq()).
		All(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]logEntry, len(evs))
	last := after
	for i, e := range evs {
		out[i] = logEntry{Topic: string(e.Topic), Type: e.Type, ConversationID: e.ConversationID, MessageID: e.MessageID, AudienceUserID: e.AudienceUserID}
		last = e.Seq
	}
	return out, last
}

// lastSeq returns the organization's last event seq.
func (w *webhookEnv) lastSeq() int64 {
	_, last := w.eventsAfter(0)
	return last
}

func TestZaloWebhookAuthentication(t *testing.T) {
	w := newWebhookEnv(t)
	keep := func(_ []byte, sig string) string { return sig }
	for _, tc := range []struct {
		name   string
		sign   func(body []byte, sig string) string
		oa     string
		alter  bool // change the body after signing
		status int
		stored int
	}{
		{"OK", keep, testOAID, false, http.StatusOK, 1},
		{"ErrBadSignature", func([]byte, string) string { return "mac=" + strings.Repeat("ab", 32) }, testOAID, false, http.StatusUnauthorized, 0},
		{"ErrMissingSignature", func([]byte, string) string { return "" }, testOAID, false, http.StatusUnauthorized, 0},
		{"ErrNotAMac", func([]byte, string) string { return "sha256=abc" }, testOAID, false, http.StatusUnauthorized, 0},
		{"ErrSignedWithAnotherSecret", func(body []byte, _ string) string {
			return "mac=" + zalofake.Signature(testZaloAppID, body, gjson(t, body, "timestamp"), "not-the-secret")
		}, testOAID, false, http.StatusUnauthorized, 0},
		{"ErrAlteredBody", keep, testOAID, true, http.StatusUnauthorized, 0},
		{"ErrUnknownOA", keep, "999", false, http.StatusUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := w.msgID("auth")
			ev := w.userEvent("user_send_text", "u-auth", map[string]any{"msg_id": id, "text": "Xin chào"})
			ev["recipient"] = map[string]any{"id": tc.oa}
			body, sig := w.zaloEvent(ev)
			sig = tc.sign(body, sig)
			if tc.alter {
				body = bytes.Replace(body, []byte("Xin chào"), []byte("Xin chao"), 1)
			}
			if got := w.postZalo(body, sig); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if got := len(w.webhookRows(":" + id)); got != tc.stored {
				t.Fatalf("%d rows stored, want %d", got, tc.stored)
			}
		})
	}
}

// gjson returns the text of a top-level string field of a JSON object.
func gjson(t *testing.T, body []byte, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[field].(string)
	return s
}

// fbMessage is a Messenger webhook with one text message from psid to the
// page.
func fbMessage(pageID, psid, mid, text string, at time.Time) map[string]any {
	return map[string]any{"object": "page", "entry": []any{map[string]any{
		"id": pageID, "time": ms(at),
		"messaging": []any{map[string]any{
			"sender": map[string]any{"id": psid}, "recipient": map[string]any{"id": pageID}, "timestamp": ms(at),
			"message": map[string]any{"mid": mid, "text": text},
		}},
	}}}
}

func TestFacebookWebhookAuthentication(t *testing.T) {
	w := newWebhookEnv(t)
	// A page of another organization, with its own app: its secret must
	// not vouch for our page's events.
	other := w.newTenant("Other Page Org")
	w.must(other.ownerToken, `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"pageId": "page-other", "name": "Other", "pageAccessToken": "PAGE-TOKEN-other",
			"appSecret": "APP-SECRET-other", "verifyToken": "VERIFY-TOKEN-other",
		}}, nil)
	at := w.clock.Now().Add(-time.Second)
	for _, tc := range []struct {
		name    string
		payload func(mid string) any
		secret  string
		header  func(sig string) string
		status  int
		stored  int
	}{
		{"OK", func(mid string) any { return fbMessage(testPageID, "psid-1", mid, "Chào shop", at) }, testFBAppSecret, nil, http.StatusOK, 1},
		{"ErrBadSignature", func(mid string) any { return fbMessage(testPageID, "psid-1", mid, "x", at) }, testFBAppSecret,
			func(string) string { return "sha256=" + strings.Repeat("0", 64) }, http.StatusUnauthorized, 0},
		{"ErrMissingSignature", func(mid string) any { return fbMessage(testPageID, "psid-1", mid, "x", at) }, testFBAppSecret,
			func(string) string { return "" }, http.StatusUnauthorized, 0},
		{"ErrSignedWithAnotherSecret", func(mid string) any { return fbMessage(testPageID, "psid-1", mid, "x", at) }, "not-the-secret", nil, http.StatusUnauthorized, 0},
		{"ErrUnknownPage", func(mid string) any { return fbMessage("page-unknown", "psid-1", mid, "x", at) }, testFBAppSecret, nil, http.StatusUnauthorized, 0},
		{"ErrAnotherTenantsAppVouchesForOurPage", func(mid string) any {
			batch := fbMessage("page-other", "psid-9", mid+"-other", "x", at)
			ours := fbMessage(testPageID, "psid-1", mid, "x", at)
			batch["entry"] = append(batch["entry"].([]any), ours["entry"].([]any)...)
			return batch
		}, "APP-SECRET-other", nil, http.StatusUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mid := w.msgID("m_auth")
			body, sig := w.fbfake.SignedWebhook(tc.secret, tc.payload(mid))
			if tc.header != nil {
				sig = tc.header(sig)
			}
			if got := w.postFacebook(body, sig); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if got := len(w.webhookRows(mid)); got != tc.stored {
				t.Fatalf("%d rows stored, want %d", got, tc.stored)
			}
		})
	}
}

func TestFacebookSubscriptionHandshake(t *testing.T) {
	w := newWebhookEnv(t)
	// A disconnected page's token no longer subscribes anything.
	var gone struct{ ConnectFacebookPage struct{ ID string } }
	w.must(w.tn.ownerToken, `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{
			"pageId": "page-gone", "name": "Gone", "pageAccessToken": "PAGE-TOKEN-gone",
			"appSecret": "APP-SECRET-gone", "verifyToken": "VERIFY-TOKEN-gone",
		}}, &gone)
	w.must(w.tn.ownerToken, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": gone.ConnectFacebookPage.ID}, nil)

	for _, tc := range []struct {
		name   string
		query  url.Values
		status int
		body   string
	}{
		{"OK", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testFBVerifyToken}, "hub.challenge": {"1158201444"}}, http.StatusOK, "1158201444"},
		{"ErrWrongToken", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, http.StatusForbidden, ""},
		{"ErrNoMode", url.Values{"hub.verify_token": {testFBVerifyToken}, "hub.challenge": {"1158201444"}}, http.StatusForbidden, ""},
		{"ErrNoChallenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testFBVerifyToken}}, http.StatusForbidden, ""},
		{"ErrDisconnectedPagesToken", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"VERIFY-TOKEN-gone"}, "hub.challenge": {"7"}}, http.StatusForbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := w.srv.Client().Get(w.srv.URL + "/webhooks/facebook?" + tc.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusOK {
				if string(body) != tc.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("answered %q (%s), want %q as text/plain", body, resp.Header.Get("Content-Type"), tc.body)
				}
			}
		})
	}
}

func TestWebhookGarbageIsA4xx(t *testing.T) {
	w := newWebhookEnv(t)
	valid, sig := w.zaloEvent(w.userEvent("user_send_text", "u-1", map[string]any{"msg_id": "g-1", "text": "hi"}))
	fbValid, fbSig := w.fbfake.SignedWebhook(testFBAppSecret, fbMessage(testPageID, "psid-1", "m_g", "hi", w.clock.Now()))
	huge := bytes.Repeat([]byte(" "), maxWebhookBytes+1)
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		signature               string
		status                  int
	}{
		{"ZaloEmpty", "/webhooks/zalo", "application/json", nil, sig, http.StatusBadRequest},
		{"ZaloNotJSON", "/webhooks/zalo", "application/json", []byte("<xml/>"), sig, http.StatusBadRequest},
		{"ZaloArray", "/webhooks/zalo", "application/json", []byte(`[1,2]`), sig, http.StatusBadRequest},
		{"ZaloNoEventName", "/webhooks/zalo", "application/json", []byte(`{"app_id":"app-1","timestamp":"1"}`), sig, http.StatusBadRequest},
		{"ZaloBadTimestamp", "/webhooks/zalo", "application/json", []byte(`{"event_name":"follow","timestamp":"yesterday"}`), sig, http.StatusBadRequest},
		{"ZaloWrongTypes", "/webhooks/zalo", "application/json", []byte(`{"event_name":"user_send_text","timestamp":"1","message":"hi"}`), sig, http.StatusBadRequest},
		{"ZaloNoOA", "/webhooks/zalo", "application/json", []byte(`{"event_name":"user_send_text","timestamp":"1"}`), sig, http.StatusBadRequest},
		{"ZaloFormContent", "/webhooks/zalo", "application/x-www-form-urlencoded", valid, sig, http.StatusBadRequest},
		{"ZaloTooLarge", "/webhooks/zalo", "application/json", huge, sig, http.StatusRequestEntityTooLarge},
		{"FacebookEmpty", "/webhooks/facebook", "application/json", nil, fbSig, http.StatusBadRequest},
		{"FacebookNotJSON", "/webhooks/facebook", "application/json", []byte("garbage"), fbSig, http.StatusBadRequest},
		{"FacebookNotAPage", "/webhooks/facebook", "application/json", []byte(`{"object":"instagram","entry":[]}`), fbSig, http.StatusBadRequest},
		{"FacebookEventNotAnObject", "/webhooks/facebook", "application/json", []byte(`{"object":"page","entry":[{"id":"page-222","messaging":[1]}]}`), fbSig, http.StatusBadRequest},
		{"FacebookEntryWithoutPage", "/webhooks/facebook", "application/json", []byte(`{"object":"page","entry":[{"messaging":[{}]}]}`), fbSig, http.StatusBadRequest},
		{"FacebookTextContent", "/webhooks/facebook", "text/plain", fbValid, fbSig, http.StatusBadRequest},
		{"FacebookTooLarge", "/webhooks/facebook", "application/json", huge, fbSig, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{zalofake.SignatureHeader: tc.signature, "X-Hub-Signature-256": tc.signature}
			if got := w.post(tc.path, tc.contentType, h, tc.body); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if n := len(w.webhookRows("")); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
		})
	}
}

func TestZaloInbound(t *testing.T) {
	w := newWebhookEnv(t)
	const user = "8130000000001001"
	text := "Shop ơi, còn hàng size M không?"
	firstID := w.msgID("zm")
	sentAt := w.clock.Now().Add(-time.Second)
	var conv *ent.Conversation
	var cus *ent.Customer

	t.Run("NewCustomer", func(t *testing.T) {
		seq := w.lastSeq()
		w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": firstID, "text": text}))
		rows := w.webhookRows(":" + firstID)
		if len(rows) != 1 || rows[0].ProcessedAt != nil || rows[0].EventName != "user_send_text" ||
			*rows[0].OrganizationID != w.org || *rows[0].ChannelID != w.oa.ID || rows[0].Provider != webhookevent.ProviderZALO {
			t.Fatalf("stored %+v", rows)
		}
		if len(w.zfake.Requests()) != 0 {
			t.Fatalf("the webhook called Zalo: %+v", w.zfake.Requests())
		}
		if n := w.process(); n != 1 {
			t.Fatalf("processed %d events, want 1", n)
		}
		if len(w.zfake.Requests()) != 0 {
			t.Fatal("processing a message called Zalo; profiles are read apart")
		}
		idt := w.identityOf(w.oa, user)
		if idt == nil || idt.ProfileFetchedAt != nil {
			t.Fatalf("identity %+v", idt)
		}
		cus = w.db.Client.Customer.GetX(w.sys(), idt.CustomerID)
		if cus.Name != "Khách Zalo 1001" {
			t.Fatalf("new customer is named %q", cus.Name)
		}
		if cus.SourceChannelID == nil || *cus.SourceChannelID != w.oa.ID {
			t.Fatalf("new customer's source channel is %v, want the OA", cus.SourceChannelID)
		}
		conv = w.db.Client.Conversation.Query().Where(conversation.CustomerID(cus.ID)).OnlyX(w.sys())
		if conv.ChannelID != w.oa.ID || conv.Status != conversation.StatusOPEN || conv.UnreadCount != 1 ||
			!conv.LastMessageAt.Equal(sentAt) || !conv.LastInboundAt.Equal(sentAt) {
			t.Fatalf("conversation %+v", conv)
		}
		m := w.messageByProviderID(w.oa, firstID)
		if m.ConversationID != conv.ID || m.Direction != message.DirectionINBOUND || m.Kind != message.KindTEXT ||
			m.Text != text || m.Status != message.StatusRECEIVED || m.SenderType != message.SenderTypeCUSTOMER ||
			!m.CreatedAt.Equal(sentAt) {
			t.Fatalf("message %+v", m)
		}
		if p := w.db.Client.WebhookEvent.GetX(viewer.SystemContext(context.Background(), ""), rows[0].ID); p.ProcessedAt == nil || !p.ProcessedAt.Equal(w.clock.Now()) {
			t.Fatalf("processed_at %v", p.ProcessedAt)
		}
		// The OA is ONLY_ME: its events are for the ADMIN who connected it.
		evs, _ := w.eventsAfter(seq)
		want := []logEntry{
			{"CONVERSATION", "CREATED", conv.ID, "", gid.ID(w.tn.adminID)},
			{"MESSAGE", "CREATED", conv.ID, m.ID, gid.ID(w.tn.adminID)},
		}
		assertEvents(t, evs, want)
	})

	t.Run("ProfileIsFetched", func(t *testing.T) {
		w.zfake.SetUser(user, zalofake.User{DisplayName: "Nguyễn Văn An", Avatar: "https://s120.avatar.talk.zdn.vn/an.jpg", IsFollower: true})
		seq := w.lastSeq()
		n, err := w.in.FetchProfiles(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("FetchProfiles = %d, %v", n, err)
		}
		idt := w.identityOf(w.oa, user)
		if idt.DisplayName != "Nguyễn Văn An" || idt.AvatarURL != "https://s120.avatar.talk.zdn.vn/an.jpg" ||
			idt.Follower == nil || !*idt.Follower || idt.ProfileFetchedAt == nil {
			t.Fatalf("identity %+v", idt)
		}
		cus = w.db.Client.Customer.GetX(w.sys(), idt.CustomerID)
		if cus.Name != "Nguyễn Văn An" || cus.AvatarURL == nil || *cus.AvatarURL != "https://s120.avatar.talk.zdn.vn/an.jpg" {
			t.Fatalf("customer %+v", cus)
		}
		evs, _ := w.eventsAfter(seq)
		assertEvents(t, evs, []logEntry{{"CONVERSATION", "UPDATED", conv.ID, "", gid.ID(w.tn.adminID)}})
		// Read once: a second round asks Zalo nothing.
		before := len(w.zfake.Requests())
		if n, err := w.in.FetchProfiles(context.Background()); err != nil || n != 0 || len(w.zfake.Requests()) != before {
			t.Fatalf("second FetchProfiles = %d, %v, %d requests", n, err, len(w.zfake.Requests())-before)
		}
	})

	t.Run("SameCustomerReusesTheConversation", func(t *testing.T) {
		seq := w.lastSeq()
		id := w.msgID("zm")
		w.sendZalo(w.userEvent("user_send_image", user, map[string]any{
			"msg_id": id, "text": "ảnh mẫu",
			"attachments": []any{map[string]any{"type": "image", "payload": map[string]any{"url": "https://zalo.example/img.jpg", "thumbnail": "https://zalo.example/t.jpg"}}},
		}))
		w.process()
		m := w.messageByProviderID(w.oa, id)
		got := w.db.Client.Conversation.GetX(w.sys(), conv.ID)
		if m.ConversationID != conv.ID || got.UnreadCount != 2 || m.Kind != message.KindIMAGE ||
			len(m.Attachments) != 1 || m.Attachments[0].URL != "https://zalo.example/img.jpg" {
			t.Fatalf("message %+v in conversation %+v", m, got)
		}
		if n := w.db.Client.Conversation.Query().Where(conversation.CustomerID(cus.ID)).CountX(w.sys()); n != 1 {
			t.Fatalf("%d conversations", n)
		}
		evs, _ := w.eventsAfter(seq)
		assertEvents(t, evs, []logEntry{
			{"MESSAGE", "CREATED", conv.ID, m.ID, gid.ID(w.tn.adminID)},
			{"CONVERSATION", "UPDATED", conv.ID, "", gid.ID(w.tn.adminID)},
		})
	})

	t.Run("DuplicateDeliveryIsOneMessage", func(t *testing.T) {
		id := w.msgID("zm")
		body, sig := w.zaloEvent(w.userEvent("user_send_text", user, map[string]any{"msg_id": id, "text": "lặp lại"}))
		for i := range 3 {
			if status := w.postZalo(body, sig); status != http.StatusOK {
				t.Fatalf("delivery %d: status %d", i+1, status)
			}
		}
		if n := len(w.webhookRows(":" + id)); n != 1 {
			t.Fatalf("%d rows stored", n)
		}
		w.process()
		// Zalo retries again after it was processed.
		if status := w.postZalo(body, sig); status != http.StatusOK {
			t.Fatalf("late retry: status %d", status)
		}
		w.process()
		if n := w.countMessages(w.oa, id); n != 1 {
			t.Fatalf("%d messages", n)
		}
	})

	t.Run("MessageKinds", func(t *testing.T) {
		lat, lon := 10.7769, 106.7009
		for _, tc := range []struct {
			event string
			msg   map[string]any
			kind  message.Kind
			att   []any // want attachment fields: type, url, name, size, lat, lon
		}{
			{"user_send_file", map[string]any{"attachments": []any{map[string]any{"type": "file", "payload": map[string]any{"url": "https://f.zalo.example/bao-gia.pdf", "name": "bao-gia.pdf", "size": "24576", "type": "pdf"}}}},
				message.KindFILE, []any{"file", "https://f.zalo.example/bao-gia.pdf", "bao-gia.pdf", int64(24576), nil, nil}},
			{"user_send_sticker", map[string]any{"attachments": []any{map[string]any{"type": "sticker", "payload": map[string]any{"id": "st-1", "url": "https://s.zalo.example/st-1.png"}}}},
				message.KindSTICKER, []any{"sticker", "https://s.zalo.example/st-1.png", "", int64(0), nil, nil}},
			{"user_send_link", map[string]any{"text": "xem giúp", "attachments": []any{map[string]any{"type": "link", "payload": map[string]any{"url": "https://shop.vn/ao", "description": "Áo thun"}}}},
				message.KindLINK, []any{"link", "https://shop.vn/ao", "Áo thun", int64(0), nil, nil}},
			{"user_send_location", map[string]any{"attachments": []any{map[string]any{"type": "location", "payload": map[string]any{"coordinates": map[string]any{"latitude": "10.7769", "longitude": "106.7009"}}}}},
				message.KindLOCATION, []any{"location", "", "", int64(0), lat, lon}},
			{"user_send_audio", map[string]any{"attachments": []any{map[string]any{"type": "audio", "payload": map[string]any{"url": "https://a.zalo.example/v.aac"}}}},
				message.KindAUDIO, []any{"audio", "https://a.zalo.example/v.aac", "", int64(0), nil, nil}},
			{"anonymous_send_text", map[string]any{"text": "khách ẩn danh"}, message.KindTEXT, nil},
		} {
			t.Run(tc.event, func(t *testing.T) {
				id := w.msgID("zk")
				tc.msg["msg_id"] = id
				w.sendZalo(w.userEvent(tc.event, user, tc.msg))
				w.process()
				m := w.messageByProviderID(w.oa, id)
				if m.Kind != tc.kind || m.Direction != message.DirectionINBOUND {
					t.Fatalf("kind %s %s, want %s", m.Kind, m.Direction, tc.kind)
				}
				if tc.att == nil {
					if len(m.Attachments) != 0 {
						t.Fatalf("attachments %+v", m.Attachments)
					}
					return
				}
				if len(m.Attachments) != 1 {
					t.Fatalf("attachments %+v", m.Attachments)
				}
				a := m.Attachments[0]
				if a.Type != tc.att[0] || a.URL != tc.att[1] || a.Name != tc.att[2] || a.Size != tc.att[3] {
					t.Fatalf("attachment %+v, want %v", a, tc.att)
				}
				if tc.att[4] != nil && (a.Latitude == nil || *a.Latitude != tc.att[4] || a.Longitude == nil || *a.Longitude != tc.att[5]) {
					t.Fatalf("coordinates %v, %v", a.Latitude, a.Longitude)
				}
			})
		}
	})

	var ours, elsewhere string
	t.Run("Echoes", func(t *testing.T) {
		// A message the inbox sent itself: the echo finds it by its ID.
		ours = w.msgID("oa")
		w.db.Client.Message.Create().SetConversationID(conv.ID).SetChannelID(w.oa.ID).
			SetDirection(message.DirectionOUTBOUND).SetText("Dạ còn ạ").SetProviderMessageID(ours).
			SetStatus(message.StatusSENT).SetSenderType(message.SenderTypeUSER).SetSenderUserID(gid.ID(w.tn.adminID)).
			SetSentAt(w.clock.Now().Add(-time.Minute)).SetCreatedAt(w.clock.Now().Add(-time.Minute)).SaveX(w.sys())
		before := w.db.Client.Conversation.GetX(w.sys(), conv.ID)
		seq := w.lastSeq()
		w.sendZalo(w.oaEvent("oa_send_text", user, map[string]any{"msg_id": ours, "text": "Dạ còn ạ"}))
		w.process()
		if n := w.countMessages(w.oa, ours); n != 1 {
			t.Fatalf("the echo of our own message made %d messages", n)
		}
		if evs, _ := w.eventsAfter(seq); len(evs) != 0 {
			t.Fatalf("the echo of our own message logged %+v", evs)
		}

		// A message typed in Zalo's OA admin page.
		elsewhere = w.msgID("oa")
		w.clock.Advance(time.Minute)
		w.sendZalo(w.oaEvent("oa_send_text", user, map[string]any{"msg_id": elsewhere, "text": "Shop gửi từ app Zalo"}))
		w.process()
		m := w.messageByProviderID(w.oa, elsewhere)
		if m.Direction != message.DirectionOUTBOUND || m.Status != message.StatusSENT || m.SenderType != message.SenderTypeUSER ||
			m.SenderUserID != nil || m.ConversationID != conv.ID || m.Text != "Shop gửi từ app Zalo" {
			t.Fatalf("echo stored as %+v", m)
		}
		after := w.db.Client.Conversation.GetX(w.sys(), conv.ID)
		if !after.LastMessageAt.Equal(m.CreatedAt) || after.UnreadCount != before.UnreadCount || !after.LastInboundAt.Equal(*before.LastInboundAt) {
			t.Fatalf("conversation after echo %+v (before %+v)", after, before)
		}
	})

	t.Run("EchoBeforeTheSendIsRecorded", func(t *testing.T) {
		// The delivery worker holds a message and Zalo already echoed it:
		// the echo waits rather than store the message a second time.
		echoed := w.msgID("oa")
		held := w.db.Client.Message.Create().SetConversationID(conv.ID).SetChannelID(w.oa.ID).
			SetDirection(message.DirectionOUTBOUND).SetText("Đang gửi").SetStatus(message.StatusQUEUED).
			SetSenderType(message.SenderTypeUSER).SetSenderUserID(gid.ID(w.tn.adminID)).
			SetNextAttemptAt(w.clock.Now()).SetLeaseUntil(w.clock.Now().Add(2 * time.Minute)).SaveX(w.sys())
		w.sendZalo(w.oaEvent("oa_send_text", user, map[string]any{"msg_id": echoed, "text": "Đang gửi"}))
		w.process()
		if n := w.countMessages(w.oa, echoed); n != 0 {
			t.Fatalf("the early echo stored %d messages", n)
		}
		// The worker records the send; the echo, retried, finds it.
		w.db.Client.Message.UpdateOneID(held.ID).SetStatus(message.StatusSENT).SetProviderMessageID(echoed).
			ClearLeaseUntil().ClearNextAttemptAt().ExecX(w.sys())
		w.clock.Advance(time.Hour)
		w.process()
		if n := w.countMessages(w.oa, echoed); n != 1 {
			t.Fatalf("after the retry there are %d messages with the echoed ID", n)
		}
		if rows := w.webhookRows(echoed); len(rows) != 1 || rows[0].ProcessedAt == nil {
			t.Fatalf("the echo's webhook event is not processed: %+v", rows)
		}
	})

	t.Run("Receipts", func(t *testing.T) {
		seq := w.lastSeq()
		w.sendZalo(w.oaEvent("user_received_message", user, map[string]any{"msg_id": ours}))
		w.process()
		m := w.messageByProviderID(w.oa, ours)
		if m.Status != message.StatusDELIVERED || m.DeliveredAt == nil {
			t.Fatalf("after user_received_message: %s", m.Status)
		}
		w.sendZalo(w.oaEvent("user_seen_message", user, map[string]any{"msg_ids": []any{ours, elsewhere}}))
		w.process()
		for _, id := range []string{ours, elsewhere} {
			if m := w.messageByProviderID(w.oa, id); m.Status != message.StatusSEEN || m.SeenAt == nil || m.DeliveredAt == nil {
				t.Fatalf("%s after user_seen_message: %+v", id, m)
			}
		}
		// A late delivery receipt does not downgrade SEEN.
		w.sendZalo(w.oaEvent("user_received_message", user, map[string]any{"msg_id": elsewhere}))
		w.process()
		if m := w.messageByProviderID(w.oa, elsewhere); m.Status != message.StatusSEEN {
			t.Fatalf("late receipt downgraded to %s", m.Status)
		}
		evs, _ := w.eventsAfter(seq)
		oursID, elsewhereID := w.messageByProviderID(w.oa, ours).ID, w.messageByProviderID(w.oa, elsewhere).ID
		assertEvents(t, evs, []logEntry{
			{"MESSAGE", "UPDATED", conv.ID, oursID, gid.ID(w.tn.adminID)},
			{"MESSAGE", "UPDATED", conv.ID, oursID, gid.ID(w.tn.adminID)},
			{"MESSAGE", "UPDATED", conv.ID, elsewhereID, gid.ID(w.tn.adminID)},
		})
	})

	t.Run("FollowAndUnfollow", func(t *testing.T) {
		const fan = "8130000000002002"
		follow := func(name string) {
			w.sendZalo(map[string]any{
				"app_id": testZaloAppID, "oa_id": testOAID, "event_name": name, "source": "oa_profile",
				"timestamp": strconv.FormatInt(ms(w.clock.Now()), 10), "follower": map[string]any{"id": fan},
				"user_id_by_app": "app-" + fan,
			})
			w.process()
		}
		follow("follow")
		idt := w.identityOf(w.oa, fan)
		if idt == nil || idt.Follower == nil || !*idt.Follower {
			t.Fatalf("after follow: %+v", idt)
		}
		if c := w.db.Client.Customer.GetX(w.sys(), idt.CustomerID); c.Name != "Khách Zalo 2002" {
			t.Fatalf("follower's customer %+v", c)
		}
		if n := w.db.Client.Conversation.Query().Where(conversation.CustomerID(idt.CustomerID)).CountX(w.sys()); n != 0 {
			t.Fatalf("a follow opened %d conversations", n)
		}
		follow("unfollow")
		if idt := w.identityOf(w.oa, fan); idt.Follower == nil || *idt.Follower {
			t.Fatalf("after unfollow: %+v", idt)
		}
	})

	t.Run("SubmitInfo", func(t *testing.T) {
		ev := w.userEvent("user_submit_info", user, nil)
		ev["info"] = map[string]any{"name": "Trần Thị Bích", "phone": "0912 345 678", "address": "12 Lê Lợi", "district": "Quận 1", "city": "TP. Hồ Chí Minh"}
		w.sendZalo(ev)
		w.process()
		c := w.db.Client.Customer.GetX(w.sys(), cus.ID)
		if c.Name != "Trần Thị Bích" || c.Phone == nil || *c.Phone != "+84912345678" || c.Address == nil || *c.Address != "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh" {
			t.Fatalf("customer after the form: %+v", c)
		}
		// Only the fields present change.
		w.clock.Advance(time.Second)
		ev = w.userEvent("user_submit_info", user, nil)
		ev["info"] = map[string]any{"phone": "84987654321"}
		w.sendZalo(ev)
		w.process()
		c = w.db.Client.Customer.GetX(w.sys(), cus.ID)
		if c.Name != "Trần Thị Bích" || *c.Phone != "+84987654321" || *c.Address != "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh" {
			t.Fatalf("customer after a phone-only form: %+v", c)
		}
	})

	t.Run("UnknownEventIsKept", func(t *testing.T) {
		seq := w.lastSeq()
		ev := w.userEvent("user_reacted_with_a_dance", user, map[string]any{"msg_id": "dance-1"})
		w.sendZalo(ev)
		rows := w.webhookRows(":dance-1")
		if len(rows) != 1 || rows[0].EventName != "user_reacted_with_a_dance" {
			t.Fatalf("stored %+v", rows)
		}
		if n := w.process(); n != 1 {
			t.Fatalf("processed %d", n)
		}
		row := w.webhookRows(":dance-1")[0]
		if row.ProcessedAt == nil || row.Attempts != 0 || !bytes.Contains(row.Payload, []byte("user_reacted_with_a_dance")) {
			t.Fatalf("row %+v", row)
		}
		if evs, _ := w.eventsAfter(seq); len(evs) != 0 {
			t.Fatalf("an unknown event logged %+v", evs)
		}
	})

	t.Run("ResolvedConversationIsNotReused", func(t *testing.T) {
		w.db.Client.Conversation.UpdateOneID(conv.ID).SetStatus(conversation.StatusRESOLVED).ExecX(w.sys())
		id := w.msgID("zm")
		w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": id, "text": "lại là tôi"}))
		w.process()
		m := w.messageByProviderID(w.oa, id)
		if m.ConversationID == conv.ID {
			t.Fatal("the message went to the resolved conversation")
		}
		if c := w.db.Client.Conversation.GetX(w.sys(), m.ConversationID); c.Status != conversation.StatusOPEN || c.CustomerID != cus.ID || c.UnreadCount != 1 {
			t.Fatalf("new conversation %+v", c)
		}
	})

	t.Run("NothingSecretIsLogged", func(t *testing.T) {
		logs := w.logText()
		for _, s := range []string{testZaloSecret, testZaloToken, testFBAppSecret, testFBVerifyToken, text, "Trần Thị Bích", "0912 345 678"} {
			if strings.Contains(logs, s) {
				t.Errorf("the log contains %q", s)
			}
		}
	})
}

// assertEvents compares log entries.
func assertEvents(t *testing.T, got, want []logEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d is %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestZaloProfileRetriesTransientFailures(t *testing.T) {
	w := newWebhookEnv(t)
	for i, u := range []string{"u-transient-7001", "u-gone-7002"} {
		w.sendZalo(w.userEvent("user_send_text", u, map[string]any{"msg_id": fmt.Sprint("p-", i), "text": "alo"}))
	}
	w.process()
	w.zfake.SetUser("u-transient-7001", zalofake.User{DisplayName: "Lê Văn Cường"})
	// Zalo is down: both profiles wait, and the OA is not asked again
	// until the retry time.
	w.zfake.FailNext(zalofake.UserDetail, 1, zalofake.Status(http.StatusBadGateway))
	if n, err := w.in.FetchProfiles(context.Background()); err != nil || n != 0 {
		t.Fatalf("FetchProfiles during an outage = %d, %v", n, err)
	}
	requests := len(w.zfake.Requests())
	if n, _ := w.in.FetchProfiles(context.Background()); n != 0 || len(w.zfake.Requests()) != requests {
		t.Fatalf("asked Zalo again before the retry time")
	}
	for _, u := range []string{"u-transient-7001", "u-gone-7002"} {
		if idt := w.identityOf(w.oa, u); idt.ProfileFetchedAt != nil {
			t.Fatalf("%s marked read during an outage", u)
		}
	}
	w.clock.Advance(time.Minute)
	if n, err := w.in.FetchProfiles(context.Background()); err != nil || n != 1 {
		t.Fatalf("FetchProfiles after the outage = %d, %v", n, err)
	}
	idt := w.identityOf(w.oa, "u-transient-7001")
	if c := w.db.Client.Customer.GetX(w.sys(), idt.CustomerID); c.Name != "Lê Văn Cường" {
		t.Fatalf("customer %q", c.Name)
	}
	// Zalo does not know the other user: marked read, never asked again,
	// and the placeholder stays.
	gone := w.identityOf(w.oa, "u-gone-7002")
	if gone.ProfileFetchedAt == nil || gone.DisplayName != "" {
		t.Fatalf("refused profile: %+v", gone)
	}
	if c := w.db.Client.Customer.GetX(w.sys(), gone.CustomerID); c.Name != "Khách Zalo 7002" {
		t.Fatalf("customer %q", c.Name)
	}
}

// TestZaloProfileRefreshesAnExpiredToken reads a profile with an access
// token Zalo no longer accepts (-216): the token is refreshed once and the
// read retried, and the customer gets the profile's name.
func TestZaloProfileRefreshesAnExpiredToken(t *testing.T) {
	w := newWebhookEnv(t)
	w.sendZalo(w.userEvent("user_send_text", "u-expired-7003", map[string]any{"msg_id": "p-exp", "text": "alo"}))
	w.process()
	w.zfake.SetUser("u-expired-7003", zalofake.User{DisplayName: "Phạm Thị Dung"})
	w.zfake.ExpireToken(w.oa.ExternalID)

	if n, err := w.in.FetchProfiles(context.Background()); err != nil || n != 1 {
		t.Fatalf("FetchProfiles with an expired token = %d, %v", n, err)
	}
	if got := w.zfake.RefreshCount(); got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
	idt := w.identityOf(w.oa, "u-expired-7003")
	if c := w.db.Client.Customer.GetX(w.sys(), idt.CustomerID); c.Name != "Phạm Thị Dung" {
		t.Fatalf("customer %q", c.Name)
	}
	creds, err := w.app.inbox.Open(w.db.Client.Channel.GetX(w.sys(), w.oa.ID))
	if err != nil {
		t.Fatal(err)
	}
	if fake := w.zfake.OA(w.oa.ExternalID); creds.AccessToken != fake.AccessToken || creds.RefreshToken != fake.RefreshToken {
		t.Error("the stored tokens are not the refreshed pair")
	}
}

func TestFacebookInbound(t *testing.T) {
	w := newWebhookEnv(t)
	const psid = "24680000013579"
	at := w.clock.Now().Add(-time.Minute)
	event := func(ts time.Time, body map[string]any) map[string]any {
		ev := map[string]any{"sender": map[string]any{"id": psid}, "recipient": map[string]any{"id": testPageID}, "timestamp": ms(ts)}
		for k, v := range body {
			ev[k] = v
		}
		return ev
	}
	batch := func(events ...any) map[string]any {
		return map[string]any{"object": "page", "entry": []any{map[string]any{"id": testPageID, "time": ms(at), "messaging": events}}}
	}

	// One post, two entries, three events.
	post := batch(
		event(at, map[string]any{"message": map[string]any{"mid": "m_text", "text": "Cho mình hỏi giá"}}),
		event(at.Add(time.Second), map[string]any{"message": map[string]any{"mid": "m_image", "attachments": []any{
			map[string]any{"type": "image", "payload": map[string]any{"url": "https://scontent.example/p.jpg"}},
		}}}),
	)
	second := batch(event(at.Add(2*time.Second), map[string]any{"message": map[string]any{"mid": "m_location", "attachments": []any{
		map[string]any{"type": "location", "title": "Chợ Bến Thành", "payload": map[string]any{"coordinates": map[string]any{"lat": 10.772, "long": 106.698}}},
	}}}))
	post["entry"] = append(post["entry"].([]any), second["entry"].([]any)...)
	w.sendFacebook(post)
	rows := w.webhookRows("")
	if len(rows) != 3 {
		t.Fatalf("%d rows for three events", len(rows))
	}
	for _, r := range rows {
		if r.Provider != webhookevent.ProviderFACEBOOK || r.EventName != "message" || *r.ChannelID != w.page.ID || !bytes.Contains(r.Payload, []byte(testPageID)) {
			t.Fatalf("row %+v", r)
		}
	}
	if n := w.process(); n != 3 {
		t.Fatalf("processed %d", n)
	}
	idt := w.identityOf(w.page, psid)
	if idt == nil {
		t.Fatal("no identity")
	}
	if c := w.db.Client.Customer.GetX(w.sys(), idt.CustomerID); c.Name != "Khách Facebook 3579" {
		t.Fatalf("customer %q", c.Name)
	}
	conv := w.db.Client.Conversation.Query().Where(conversation.CustomerID(idt.CustomerID)).OnlyX(w.sys())
	if conv.UnreadCount != 3 || !conv.LastMessageAt.Equal(at.Add(2*time.Second)) {
		t.Fatalf("conversation %+v", conv)
	}
	for _, tc := range []struct {
		mid  string
		kind message.Kind
		url  string
	}{{"m_text", message.KindTEXT, ""}, {"m_image", message.KindIMAGE, "https://scontent.example/p.jpg"}, {"m_location", message.KindLOCATION, ""}} {
		m := w.messageByProviderID(w.page, tc.mid)
		if m.Kind != tc.kind || m.ConversationID != conv.ID || tc.url != "" && m.Attachments[0].URL != tc.url {
			t.Fatalf("%s: %+v", tc.mid, m)
		}
	}
	loc := w.messageByProviderID(w.page, "m_location").Attachments[0]
	if loc.Name != "Chợ Bến Thành" || *loc.Latitude != 10.772 || *loc.Longitude != 106.698 {
		t.Fatalf("location %+v", loc)
	}

	// The page answers from Meta Business Suite twice; the echoes are ours
	// to keep. Then receipts: a delivery naming one mid, a delivery by
	// watermark, a read by watermark.
	echo := func(mid string, ts time.Time) map[string]any {
		ev := event(ts, map[string]any{"message": map[string]any{"mid": mid, "text": "Dạ 250k ạ", "is_echo": true, "app_id": 263902037430900}})
		ev["sender"], ev["recipient"] = map[string]any{"id": testPageID}, map[string]any{"id": psid}
		return ev
	}
	w.sendFacebook(batch(echo("m_echo_1", at.Add(10*time.Second)), echo("m_echo_2", at.Add(20*time.Second))))
	w.process()
	for _, mid := range []string{"m_echo_1", "m_echo_2"} {
		if m := w.messageByProviderID(w.page, mid); m.Direction != message.DirectionOUTBOUND || m.Status != message.StatusSENT || m.ConversationID != conv.ID {
			t.Fatalf("echo %s: %+v", mid, m)
		}
	}
	// The same echo redelivered is the same message.
	w.sendFacebook(batch(echo("m_echo_1", at.Add(10*time.Second))))
	w.process()
	if n := w.countMessages(w.page, "m_echo_1"); n != 1 {
		t.Fatalf("%d messages for one echo", n)
	}

	w.sendFacebook(batch(event(at.Add(30*time.Second), map[string]any{"delivery": map[string]any{"mids": []any{"m_echo_2"}, "watermark": 0}})))
	w.process()
	if m := w.messageByProviderID(w.page, "m_echo_1"); m.Status != message.StatusSENT {
		t.Fatalf("m_echo_1 is %s before its receipt", m.Status)
	}
	if m := w.messageByProviderID(w.page, "m_echo_2"); m.Status != message.StatusDELIVERED {
		t.Fatalf("m_echo_2 is %s after a delivery naming it", m.Status)
	}
	w.sendFacebook(batch(event(at.Add(31*time.Second), map[string]any{"read": map[string]any{"watermark": ms(at.Add(15 * time.Second))}})))
	w.process()
	if m := w.messageByProviderID(w.page, "m_echo_1"); m.Status != message.StatusSEEN {
		t.Fatalf("m_echo_1 is %s after a read past it", m.Status)
	}
	if m := w.messageByProviderID(w.page, "m_echo_2"); m.Status != message.StatusDELIVERED {
		t.Fatalf("m_echo_2 is %s after a read before it", m.Status)
	}
	w.sendFacebook(batch(event(at.Add(32*time.Second), map[string]any{"delivery": map[string]any{"watermark": ms(at.Add(25 * time.Second))}})))
	w.process()
	if m := w.messageByProviderID(w.page, "m_echo_1"); m.Status != message.StatusSEEN {
		t.Fatalf("a delivery downgraded m_echo_1 to %s", m.Status)
	}
	w.sendFacebook(batch(event(at.Add(33*time.Second), map[string]any{"read": map[string]any{"watermark": ms(at.Add(25 * time.Second))}})))
	w.process()
	if m := w.messageByProviderID(w.page, "m_echo_2"); m.Status != message.StatusSEEN {
		t.Fatalf("m_echo_2 is %s after a read past it", m.Status)
	}
	// Inbound messages are never marked by receipts.
	if m := w.messageByProviderID(w.page, "m_text"); m.Status != message.StatusRECEIVED {
		t.Fatalf("inbound message is %s", m.Status)
	}

	// A newly connected page is ONLY_ME: its events are for the OWNER who
	// connected it.
	evs, _ := w.eventsAfter(0)
	for _, e := range evs {
		if e.AudienceUserID != gid.ID(w.tn.ownerID) {
			t.Fatalf("event %+v is not for the page's owner", e)
		}
	}

	// A postback and an unknown event are kept and change nothing.
	before := w.db.Client.Message.Query().CountX(w.sys())
	w.sendFacebook(batch(
		event(at.Add(40*time.Second), map[string]any{"postback": map[string]any{"title": "Mua ngay", "payload": "BUY"}}),
		event(at.Add(41*time.Second), map[string]any{"reaction": map[string]any{"mid": "m_text", "action": "react", "emoji": "❤"}}),
	))
	if n := w.process(); n != 2 {
		t.Fatalf("processed %d", n)
	}
	if after := w.db.Client.Message.Query().CountX(w.sys()); after != before {
		t.Fatalf("messages %d → %d", before, after)
	}
	if rows := w.webhookRows(""); rows[len(rows)-1].EventName != "unknown" || rows[len(rows)-1].ProcessedAt == nil {
		t.Fatalf("unknown event row %+v", rows[len(rows)-1])
	}
}

func TestFailingEventIsRetriedWithBackoff(t *testing.T) {
	w := newWebhookEnv(t)
	// The store fails for one message while failing is set, as a database
	// constraint or an outage would.
	var failing atomic.Bool
	failing.Store(true)
	w.db.Client.Message.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if mm, ok := m.(*ent.MessageMutation); ok && failing.Load() {
				if text, _ := mm.Text(); text == "tin nhắn hỏng" {
					return nil, errors.New("injected failure")
				}
			}
			return next.Mutate(ctx, m)
		})
	})
	w.sendZalo(w.userEvent("user_send_text", "u-retry-1", map[string]any{"msg_id": "bad-1", "text": "tin nhắn hỏng"}))
	w.sendZalo(w.userEvent("user_send_text", "u-retry-2", map[string]any{"msg_id": "good-1", "text": "tin nhắn tốt"}))

	row := func() *ent.WebhookEvent { return w.webhookRows(":bad-1")[0] }
	if n := w.process(); n != 1 {
		t.Fatalf("processed %d, want the good one", n)
	}
	if w.countMessages(w.oa, "good-1") != 1 {
		t.Fatal("the good event waited for the bad one")
	}
	t0 := w.clock.Now()
	r := row()
	if r.ProcessedAt != nil || r.Attempts != 1 || !r.NextAttemptAt.Equal(t0.Add(5*time.Second)) ||
		!strings.Contains(r.LastError, "injected failure") || strings.Contains(r.LastError, "tin nhắn hỏng") {
		t.Fatalf("after one failure: %+v", r)
	}
	// Nothing of the failed attempt stayed: no customer for its user.
	if w.identityOf(w.oa, "u-retry-1") != nil {
		t.Fatal("the failed attempt left an identity behind")
	}

	for _, step := range []struct {
		advance  time.Duration
		attempts int
		next     time.Duration // from t0
	}{
		{0, 1, 5 * time.Second},                 // not due yet
		{4 * time.Second, 1, 5 * time.Second},   // still not due
		{time.Second, 2, 15 * time.Second},      // due: fails again, waits 10 s
		{10 * time.Second, 3, 35 * time.Second}, // then 20 s
		{20 * time.Second, 4, 75 * time.Second}, // then 40 s
	} {
		w.clock.Advance(step.advance)
		w.process()
		if r := row(); r.Attempts != step.attempts || !r.NextAttemptAt.Equal(t0.Add(step.next)) {
			t.Fatalf("at +%s: attempts %d, next %s; want %d, +%s", w.clock.Now().Sub(t0), r.Attempts, r.NextAttemptAt.Sub(t0), step.attempts, step.next)
		}
	}

	failing.Store(false)
	w.clock.Advance(40 * time.Second)
	if n := w.process(); n != 1 {
		t.Fatalf("processed %d after the cause went away", n)
	}
	if r := row(); r.ProcessedAt == nil || w.countMessages(w.oa, "bad-1") != 1 {
		t.Fatalf("after recovery: %+v", r)
	}
}

func TestConcurrentProcessorsNeverShareAnEvent(t *testing.T) {
	w := newWebhookEnv(t)
	const users, perUser, processors = 4, 10, 4
	for i := range users * perUser {
		user := fmt.Sprintf("u-conc-%d", i%users)
		w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": fmt.Sprint("conc-", i), "text": fmt.Sprint("tin ", i)}))
	}
	// Replicas sharing the database; small batches make their claims
	// interleave.
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, processors)
	start := make(chan struct{})
	for range processors {
		p := w.processor(3)
		wg.Go(func() {
			<-start
			n, err := p.ProcessDue(context.Background())
			total.Add(int64(n))
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if total.Load() != users*perUser {
		t.Fatalf("processors processed %d events in all, want %d", total.Load(), users*perUser)
	}
	for _, r := range w.webhookRows("") {
		if r.ProcessedAt == nil || r.Attempts != 0 {
			t.Fatalf("row %+v", r)
		}
	}
	sys := w.sys()
	if n := w.db.Client.Message.Query().CountX(sys); n != users*perUser {
		t.Fatalf("%d messages", n)
	}
	if n := w.db.Client.Identity.Query().CountX(sys); n != users {
		t.Fatalf("%d identities", n)
	}
	if n := w.db.Client.Customer.Query().Where(customer.NameHasPrefix("Khách Zalo")).CountX(sys); n != users {
		t.Fatalf("%d customers", n)
	}
	if n := w.db.Client.Conversation.Query().CountX(sys); n != users {
		t.Fatalf("%d conversations", n)
	}
	for _, c := range w.db.Client.Conversation.Query().AllX(sys) {
		if c.UnreadCount != perUser {
			t.Fatalf("conversation %s has %d unread, want %d", c.ID, c.UnreadCount, perUser)
		}
	}
	evs, _ := w.eventsAfter(0)
	count := map[string]int{}
	for _, e := range evs {
		count[e.Topic+" "+e.Type]++
	}
	if count["MESSAGE CREATED"] != users*perUser || count["CONVERSATION CREATED"] != users {
		t.Fatalf("events %v", count)
	}
}

func TestWebhookWorkerProcessesWhatTheRoutesStore(t *testing.T) {
	zfake := zalofake.New(t)
	e := newEnv(t, func(c *Config, _ *appOptions) { c.ZaloOpenAPIURL = zfake.URL() })
	w := &webhookEnv{env: e, t: t, zfake: zfake, fbfake: fbfake.New(t), clock: newTestClock()}
	w.tn = w.newTenant("Worker Org")
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken})
	zfake.SetUser("u-worker-5005", zalofake.User{DisplayName: "Phạm Thu Hà"})
	w.must(w.tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, nil)
	w.oa = w.db.Client.Channel.Query().Where(channel.ExternalID(testOAID)).OnlyX(viewer.SystemContext(context.Background(), ""))
	w.org = w.oa.OrganizationID

	// The test learns that the worker is done from the commit that records
	// the profile, so it needs neither sleeps nor deadlines.
	profiled := make(chan struct{})
	var once sync.Once
	w.db.Client.Identity.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			im, ok := m.(*ent.IdentityMutation)
			if _, set := im.ProfileFetchedAt(); ok && set && err == nil {
				if tx, terr := im.Tx(); terr == nil {
					tx.OnCommit(func(next ent.Committer) ent.Committer {
						return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
							err := next.Commit(ctx, tx)
							if err == nil {
								once.Do(func() { close(profiled) })
							}
							return err
						})
					})
				}
			}
			return v, err
		})
	})

	w.app.startWorkers()
	t.Cleanup(w.app.Stop)
	w.sendZalo(map[string]any{
		"app_id": testZaloAppID, "event_name": "user_send_text", "timestamp": strconv.FormatInt(ms(time.Now()), 10),
		"sender": map[string]any{"id": "u-worker-5005"}, "recipient": map[string]any{"id": testOAID},
		"message": map[string]any{"msg_id": "worker-1", "text": "có ai không"},
	})
	<-profiled
	idt := w.identityOf(w.oa, "u-worker-5005")
	if w.countMessages(w.oa, "worker-1") != 1 {
		t.Fatal("the profile was read but the message is missing")
	}
	if c := w.db.Client.Customer.GetX(w.sys(), idt.CustomerID); c.Name != "Phạm Thu Hà" {
		t.Fatalf("customer %q", c.Name)
	}
}

// gate is an ent hook that holds the first create it sees open (inserted,
// not committed) until released, and tells when a second create starts:
// it makes two processors race for the same row deterministically.
type gate struct {
	mu       sync.Mutex
	calls    int
	inserted chan struct{} // the first create is done, its transaction open
	second   chan struct{} // the second create is starting
	release  chan struct{} // lets the first transaction go on
}

func newGate() *gate {
	return &gate{inserted: make(chan struct{}), second: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) hook(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return next.Mutate(ctx, m)
		}
		g.mu.Lock()
		g.calls++
		n := g.calls
		g.mu.Unlock()
		switch n {
		case 1:
			v, err := next.Mutate(ctx, m)
			close(g.inserted)
			<-g.release
			return v, err
		case 2:
			close(g.second)
		}
		return next.Mutate(ctx, m)
	})
}

// TestRacingProcessorsShareTheNewCustomer makes two processors handle two
// messages of one user at the same time, so that both try to create the
// same identity, or the same open conversation. The unique index lets one
// win; the other re-reads the winner's row in the same attempt instead of
// failing, and the user ends up with one customer and one conversation.
// Only PostgreSQL runs processors concurrently: SQLite's single writer
// makes the second wait for the first's whole transaction.
func TestRacingProcessorsShareTheNewCustomer(t *testing.T) {
	if dbtest.Dialect() != dialect.Postgres {
		t.Skip("SQLite has one writer: processors cannot race")
	}
	for _, tc := range []struct {
		name string
		// install puts the gate on the creates that race.
		install func(w *webhookEnv, g *gate)
		// prepare runs before the two messages arrive.
		prepare func(w *webhookEnv, user string)
	}{
		{"Identity", func(w *webhookEnv, g *gate) { w.db.Client.Identity.Use(g.hook) }, nil},
		{"Conversation", func(w *webhookEnv, g *gate) { w.db.Client.Conversation.Use(g.hook) }, func(w *webhookEnv, user string) {
			// A known customer whose last conversation was resolved.
			w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": "race-0", "text": "lần trước"}))
			w.process()
			w.db.Client.Conversation.Update().SetStatus(conversation.StatusRESOLVED).ExecX(w.sys())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWebhookEnv(t)
			const user = "u-race-4242"
			if tc.prepare != nil {
				tc.prepare(w, user)
			}
			g := newGate()
			tc.install(w, g)
			w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": "race-1", "text": "một"}))
			w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": "race-2", "text": "hai"}))

			first, second := w.processor(1), w.processor(1)
			results := make(chan error, 2)
			go func() { _, err := first.ProcessDue(context.Background()); results <- err }()
			<-g.inserted // the first holds its new row, uncommitted
			go func() { _, err := second.ProcessDue(context.Background()); results <- err }()
			<-g.second // the second is creating the same row
			close(g.release)
			for range 2 {
				if err := <-results; err != nil {
					t.Fatal(err)
				}
			}

			for _, r := range w.webhookRows(":race-") {
				if r.ProcessedAt == nil || r.Attempts != 0 {
					t.Fatalf("row %s: processed %v after %d failed attempts (%s)", r.DedupeKey, r.ProcessedAt, r.Attempts, r.LastError)
				}
			}
			sys := w.sys()
			if n := w.db.Client.Identity.Query().CountX(sys); n != 1 {
				t.Fatalf("%d identities", n)
			}
			if n := w.db.Client.Customer.Query().Where(customer.NameHasPrefix("Khách Zalo")).CountX(sys); n != 1 {
				t.Fatalf("%d customers", n)
			}
			open := w.db.Client.Conversation.Query().Where(conversation.StatusNEQ(conversation.StatusRESOLVED)).AllX(sys)
			if len(open) != 1 || open[0].UnreadCount != 2 {
				t.Fatalf("open conversations %+v", open)
			}
			for _, id := range []string{"race-1", "race-2"} {
				if m := w.messageByProviderID(w.oa, id); m.ConversationID != open[0].ID {
					t.Fatalf("%s is in %s, not the open conversation %s", id, m.ConversationID, open[0].ID)
				}
			}
		})
	}
}

// TestFailingEventInABatch: the events claimed together are processed in
// one transaction; one that fails in the middle is rolled back alone and
// rescheduled, and the others are processed once each, their events in
// the log in order and without gaps.
func TestFailingEventInABatch(t *testing.T) {
	w := newWebhookEnv(t)
	w.db.Client.Message.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if mm, ok := m.(*ent.MessageMutation); ok {
				if text, _ := mm.Text(); text == "tin nhắn hỏng" {
					return nil, errors.New("injected failure")
				}
			}
			return next.Mutate(ctx, m)
		})
	})
	const good = 6
	for i := range good + 1 {
		text, id := fmt.Sprint("tin ", i), fmt.Sprint("batch-good-", i)
		if i == good/2 {
			text, id = "tin nhắn hỏng", "batch-bad"
		}
		w.sendZalo(w.userEvent("user_send_text", fmt.Sprint("u-batch-", i), map[string]any{"msg_id": id, "text": text}))
	}
	before := w.lastSeq()
	if n := w.process(); n != good {
		t.Fatalf("processed %d, want %d", n, good)
	}
	for i := range good + 1 {
		if i == good/2 {
			continue
		}
		if n := w.countMessages(w.oa, fmt.Sprint("batch-good-", i)); n != 1 {
			t.Errorf("message %d stored %d times", i, n)
		}
	}
	if w.identityOf(w.oa, fmt.Sprint("u-batch-", good/2)) != nil {
		t.Error("the failed event left an identity behind")
	}
	if r := w.webhookRows(":batch-bad")[0]; r.ProcessedAt != nil || r.Attempts != 1 || !strings.Contains(r.LastError, "injected failure") {
		t.Errorf("the failed event's row: %+v", r)
	}
	// Each good message opened a conversation: CONVERSATION CREATED and
	// MESSAGE CREATED (and what distribution adds), numbered in order.
	evs, last := w.eventsAfter(before)
	if last != before+int64(len(evs)) {
		t.Errorf("events up to seq %d after %d: %d of them, with gaps", last, before, len(evs))
	}
	created := 0
	for _, e := range evs {
		if e.Topic == string(entevent.TopicMESSAGE) && e.Type == "CREATED" {
			created++
		}
	}
	if created != good {
		t.Errorf("%d MESSAGE CREATED events, want %d: %+v", created, good, evs)
	}
	for _, r := range w.webhookRows("") {
		if !strings.HasSuffix(r.DedupeKey, ":batch-bad") && (r.ProcessedAt == nil || r.Attempts != 0) {
			t.Errorf("row %s: %+v", r.DedupeKey, r)
		}
	}
}
