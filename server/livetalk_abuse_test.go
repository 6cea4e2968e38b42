package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/viewer"
)

const widgetQuery = `query($k: String!) { widget(key: $k) { title } }`

// rawVisitorRequest sends method to the visitor API from origin and returns
// the response, closed.
func (e *env) rawVisitorRequest(method, origin string, headers map[string]string) *http.Response {
	e.t.Helper()
	body := strings.NewReader(`{"query":"{ __typename }"}`)
	if method != http.MethodPost {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/livetalk/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLiveTalkOriginRefused: the visitor API answers only pages on the
// origins of the channel in question, over HTTP (CORS) and WebSocket.
func TestLiveTalkOriginRefused(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("LiveTalk Origin A")
	b := e.newTenant("LiveTalk Origin B")
	chA := e.createLiveTalk(a.adminToken, "A site", liveTalkOrigin)
	const originB = "https://b-shop.example.vn"
	e.createLiveTalk(b.adminToken, "B site", originB)
	vs := e.startChat(liveTalkOrigin, *chA.WidgetKey, map[string]any{"name": "Lan"})

	t.Run("PreflightAllowed", func(t *testing.T) {
		resp := e.rawVisitorRequest(http.MethodOptions, liveTalkOrigin, map[string]string{
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type",
		})
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != liveTalkOrigin ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
		}
	})
	for _, tc := range []struct{ name, method, origin string }{
		{"PreflightForeign", http.MethodOptions, "https://evil.example"},
		{"PostForeign", http.MethodPost, "https://evil.example"},
		{"PostNoOrigin", http.MethodPost, ""},
		{"PostNullOrigin", http.MethodPost, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.rawVisitorRequest(tc.method, tc.origin, nil)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
			}
		})
	}
	t.Run("PostAllowedHasCORS", func(t *testing.T) {
		resp := e.rawVisitorRequest(http.MethodPost, liveTalkOrigin, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != liveTalkOrigin {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("OtherChannelsOrigin", func(t *testing.T) {
		// B's page may reach the API, but not A's widget or A's chats.
		if r := e.visitorGQL(originB, "", widgetQuery, map[string]any{"k": *chA.WidgetKey}); r.code() != "FORBIDDEN" {
			t.Fatalf("widget: %+v", r.Errors)
		}
		if r := e.visitorGQL(originB, "", `mutation($k: String!) { startChat(input: {key: $k, name: "x"}) { token } }`, map[string]any{"k": *chA.WidgetKey}); r.code() != "FORBIDDEN" {
			t.Fatalf("startChat: %+v", r.Errors)
		}
		if r := e.visitorGQL(originB, vs.Token, sendVisitorText, map[string]any{"t": "x"}); r.code() != "FORBIDDEN" {
			t.Fatalf("send: %+v", r.Errors)
		}
	})
	t.Run("WebSocketForeign", func(t *testing.T) {
		_, resp, err := visitorDial(t, e, "https://evil.example")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade from a foreign origin: %v %v", err, resp)
		}
		_, resp, err = visitorDial(t, e, "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade without an origin: %v %v", err, resp)
		}
	})
	for _, tc := range []struct {
		name, origin, auth string
		code               int
	}{
		{"WebSocketOtherChannelsOrigin", originB, "Visitor " + vs.Token, 4403},
		{"WebSocketBadToken", liveTalkOrigin, "Visitor dkv_forged", 4401},
		{"WebSocketNoToken", liveTalkOrigin, "", 4401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := visitorDial(t, e, tc.origin)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": tc.auth}})
			for {
				var m map[string]any
				if err := c.ReadJSON(&m); err != nil {
					if !websocket.IsCloseError(err, tc.code) {
						t.Fatalf("closed with %v, want %d", err, tc.code)
					}
					return
				}
				if m["type"] == "connection_ack" {
					t.Fatal("acknowledged")
				}
			}
		})
	}
}

// TestLiveTalkVisitorIsolation: a visitor's token reaches their own
// conversation only, enforced by the data layer, and never the staff API;
// another organization's widget key reaches nothing of this one.
func TestLiveTalkVisitorIsolation(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("LiveTalk Iso A")
	b := e.newTenant("LiveTalk Iso B")
	chA := e.createLiveTalk(a.adminToken, "A site", liveTalkOrigin)
	const originB = "https://b-shop.example.vn"
	chB := e.createLiveTalk(b.adminToken, "B site", originB)
	va := e.startChat(liveTalkOrigin, *chA.WidgetKey, map[string]any{"name": "Visitor A", "phone": "0912000001"})
	vb := e.startChat(liveTalkOrigin, *chA.WidgetKey, map[string]any{"name": "Visitor B", "phone": "0912000002"})
	vc := e.startChat(originB, *chB.WidgetKey, map[string]any{"name": "Visitor C", "phone": "0912000001"})
	if va.ConversationID == vb.ConversationID {
		t.Fatal("two visitors share a conversation")
	}

	subA := visitorEvents(t, e, liveTalkOrigin, va.Token, event.Start.String())
	e.visitorGQL(liveTalkOrigin, vb.Token, sendVisitorText, map[string]any{"t": "bí mật của B"}).decode(t, nil)
	e.visitorGQL(originB, vc.Token, sendVisitorText, map[string]any{"t": "bí mật của C"}).decode(t, nil)
	e.visitorGQL(liveTalkOrigin, va.Token, sendVisitorText, map[string]any{"t": "của A"}).decode(t, nil)
	for {
		ev := subA.nextEvent()
		if ev.Message == nil {
			continue
		}
		if ev.Message.Text != "của A" {
			t.Fatalf("A's stream carried %+v", ev)
		}
		break
	}
	var hist struct{ Messages []struct{ Text string } }
	e.visitorGQL(liveTalkOrigin, va.Token, `{ messages(last: 100) { text } }`, nil).decode(t, &hist)
	if len(hist.Messages) != 1 || hist.Messages[0].Text != "của A" {
		t.Fatalf("A's history %+v", hist)
	}

	// The same phone in another organization is another customer there;
	// B's staff see nothing of A's chat, nor A's staff of C's.
	if r := e.gql(b.ownerToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": va.ConversationID}); r.code() != "NOT_FOUND" {
		t.Fatalf("B's owner on A's chat: %s %+v", r.Data, r.Errors)
	}
	if r := e.gql(a.ownerToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": vc.ConversationID}); r.code() != "NOT_FOUND" {
		t.Fatalf("A's owner on C's chat: %s %+v", r.Data, r.Errors)
	}

	// A visitor token is nothing to the staff API, in either scheme; a
	// staff token is nothing to the visitor API.
	for _, h := range []string{"Visitor " + va.Token, "Bearer " + va.Token} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", h)
		if r := e.send(req); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("staff API with %q: %+v", h[:8], r.Errors)
		}
	}
	if r := e.visitorGQL(liveTalkOrigin, a.ownerToken, `{ messages { text } }`, nil); r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
		t.Fatalf("visitor API with a staff token: %d %+v", r.Status, r.Errors)
	}
	if r := e.visitorGQL(liveTalkOrigin, "", `{ messages { text } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("messages without a token: %+v", r.Errors)
	}

	// The data layer: as visitor A, only A's conversation and its
	// messages exist, and nothing else can be read or written.
	v, err := e.app.livetalk.Authenticate(context.Background(), va.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := viewer.NewContext(context.Background(), v.Viewer)
	convs, err := e.db.Client.Conversation.Query().IDs(ctx)
	if err != nil || len(convs) != 1 || convs[0] != gid.ID(va.ConversationID) {
		t.Fatalf("conversations as A: %v %v", convs, err)
	}
	if _, err := e.db.Client.Conversation.Get(ctx, gid.ID(vb.ConversationID)); !ent.IsNotFound(err) {
		t.Fatalf("B's conversation as A: %v", err)
	}
	msgs, err := e.db.Client.Message.Query().All(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "của A" {
		t.Fatalf("messages as A: %v %v", len(msgs), err)
	}
	for name, q := range map[string]func() error{
		"customers":     func() error { _, err := e.db.Client.Customer.Query().All(ctx); return err },
		"channels":      func() error { _, err := e.db.Client.Channel.Query().All(ctx); return err },
		"users":         func() error { _, err := e.db.Client.User.Query().All(ctx); return err },
		"organizations": func() error { _, err := e.db.Client.Organization.Query().All(ctx); return err },
		"identities":    func() error { _, err := e.db.Client.Identity.Query().All(ctx); return err },
		"sessions":      func() error { _, err := e.db.Client.VisitorSession.Query().All(ctx); return err },
		"createMessage": func() error {
			_, err := e.db.Client.Message.Create().SetConversationID(gid.ID(va.ConversationID)).SetChannelID(gid.ID(chA.ID)).
				SetDirection("INBOUND").SetStatus("RECEIVED").SetSenderType("CUSTOMER").SetText("forged").Save(ctx)
			return err
		},
		"updateConversation": func() error {
			return e.db.Client.Conversation.UpdateOneID(gid.ID(va.ConversationID)).SetUnreadCount(0).Exec(ctx)
		},
		"updateCustomer": func() error {
			_, err := e.db.Client.Customer.Update().Where(customer.Phone("+84912000001")).SetAddress("pwned").Save(ctx)
			return err
		},
	} {
		if err := q(); err == nil || !strings.Contains(err.Error(), "FORBIDDEN") {
			t.Errorf("%s as a visitor: %v", name, err)
		}
	}
}

// TestLiveTalkRateLimits: one visitor's messages and one address's
// requests are limited, with RATE_LIMITED, and a refused message is not
// stored.
func TestLiveTalkRateLimits(t *testing.T) {
	t.Run("PerVisitor", func(t *testing.T) {
		// A token a thousand seconds: nothing refills while the test runs.
		e := newEnv(t, func(_ *Config, o *appOptions) {
			o.livetalk = livetalk.Options{VisitorRate: 0.001, VisitorBurst: 3}
		})
		tn := e.newTenant("LiveTalk Limit")
		ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
		v1 := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Một"})
		v2 := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Hai"})
		for i := range 3 {
			if r := e.visitorGQL(liveTalkOrigin, v1.Token, sendVisitorText, map[string]any{"t": "tin " + string(rune('a'+i))}); r.code() != "" {
				t.Fatalf("message %d: %+v", i, r.Errors)
			}
		}
		r := e.visitorGQL(liveTalkOrigin, v1.Token, sendVisitorText, map[string]any{"t": "quá nhiều"})
		if r.code() != "RATE_LIMITED" {
			t.Fatalf("4th message: %+v", r.Errors)
		}
		var hist struct{ Messages []struct{ Text string } }
		e.visitorGQL(liveTalkOrigin, v1.Token, `{ messages(last: 100) { text } }`, nil).decode(t, &hist)
		if len(hist.Messages) != 3 {
			t.Fatalf("stored %d messages", len(hist.Messages))
		}
		// Another visitor has their own allowance.
		if r := e.visitorGQL(liveTalkOrigin, v2.Token, sendVisitorText, map[string]any{"t": "xin chào"}); r.code() != "" {
			t.Fatalf("other visitor: %+v", r.Errors)
		}
	})
	t.Run("PerAddress", func(t *testing.T) {
		e := newEnv(t, func(_ *Config, o *appOptions) {
			o.livetalk = livetalk.Options{AddressRate: 0.001, AddressBurst: 4}
		})
		tn := e.newTenant("LiveTalk Address")
		ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
		for i := range 4 {
			if r := e.visitorGQL(liveTalkOrigin, "", widgetQuery, map[string]any{"k": *ch.WidgetKey}); r.code() != "" {
				t.Fatalf("request %d: %+v", i, r.Errors)
			}
		}
		r := e.visitorGQL(liveTalkOrigin, "", widgetQuery, map[string]any{"k": *ch.WidgetKey})
		if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
			t.Fatalf("5th request: %d %+v", r.Status, r.Errors)
		}
		if _, resp, err := visitorDial(t, e, liveTalkOrigin); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("WebSocket over the limit: %v %v", err, resp)
		}
		// The staff API is not limited by it.
		e.must(tn.ownerToken, `{ me { id } }`, nil, nil)
	})
}

// TestLiveTalkUnknownKey: a key no connected LIVETALK channel has is
// NOT_FOUND, whatever the origin allowed.
func TestLiveTalkUnknownKey(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("LiveTalk Keys")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	const start = `mutation($k: String!) { startChat(input: {key: $k, name: "Lan"}) { token } }`
	for _, key := range []string{"lt_unknown", "", strings.Repeat("k", 500), string(gid.ID(ch.ID))} {
		if r := e.visitorGQL(liveTalkOrigin, "", widgetQuery, map[string]any{"k": key}); r.code() != "NOT_FOUND" {
			t.Fatalf("widget(%.20q): %+v", key, r.Errors)
		}
		if r := e.visitorGQL(liveTalkOrigin, "", start, map[string]any{"k": key}); r.code() != "NOT_FOUND" {
			t.Fatalf("startChat(%.20q): %+v", key, r.Errors)
		}
	}
	vs := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Lan"})
	// A disconnected channel's key is unknown, and its visitors' tokens
	// open nothing.
	e.must(tn.adminToken, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": ch.ID}, nil)
	if r := e.visitorGQL(liveTalkOrigin, "", widgetQuery, map[string]any{"k": *ch.WidgetKey}); r.code() != "NOT_FOUND" {
		t.Fatalf("disconnected: %+v", r.Errors)
	}
	if r := e.visitorGQL(liveTalkOrigin, vs.Token, `{ messages { text } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("token of a disconnected channel: %+v", r.Errors)
	}
}

// TestLiveTalkTokenExpires: a visitor token is stored as its SHA-256 and
// opens its chat until it expires, by the server's clock.
func TestLiveTalkTokenExpires(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	e := newEnv(t, func(_ *Config, o *appOptions) {
		o.now = clock.Now
		o.livetalk = livetalk.Options{TokenTTL: time.Hour}
	})
	tn := e.newTenant("LiveTalk Expiry")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	vs := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Lan"})

	rows := e.db.Client.VisitorSession.Query().AllX(viewer.SystemContext(context.Background(), ""))
	sum := sha256.Sum256([]byte(vs.Token))
	if len(rows) != 1 || !bytes.Equal(rows[0].TokenHash, sum[:]) || !rows[0].ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("stored session %+v", rows)
	}

	clock.Advance(59 * time.Minute)
	if r := e.visitorGQL(liveTalkOrigin, vs.Token, `{ messages { text } }`, nil); r.code() != "" {
		t.Fatalf("before expiry: %+v", r.Errors)
	}
	clock.Advance(2 * time.Minute)
	if r := e.visitorGQL(liveTalkOrigin, vs.Token, `{ messages { text } }`, nil); r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
		t.Fatalf("after expiry: %d %+v", r.Status, r.Errors)
	}
	c, _, err := visitorDial(t, e, liveTalkOrigin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Visitor " + vs.Token}})
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			if !websocket.IsCloseError(err, 4401) {
				t.Fatalf("closed with %v, want 4401", err)
			}
			return
		}
		if m["type"] == "connection_ack" {
			t.Fatal("an expired token was acknowledged")
		}
	}
}
