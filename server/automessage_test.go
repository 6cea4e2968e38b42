package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

const createAutoMessageMutation = `mutation($in: CreateAutoMessageInput!) { createAutoMessage(input: $in) {
	id kind title path contents delaySeconds intervalSeconds resendAsMessage enabled showsPopup channel { id } } }`

// autoMessageOut is an AutoMessage as the tests read it.
type autoMessageOut struct {
	ID, Kind, Title               string
	Path                          *string
	Contents                      []string
	DelaySeconds, IntervalSeconds int
	ResendAsMessage, Enabled      bool
	ShowsPopup                    bool
	Channel                       struct{ ID gid.ID }
}

// TestAutoMessageConfig configures each kind of auto-message over the API,
// reads them back, and checks who may change them and what is refused.
func TestAutoMessageConfig(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Auto Org")
	org := orgOf(t, e, tn)
	ch := e.db.Client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-auto").SetName("Shop OA").
		SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).
		SaveX(viewer.SystemContext(context.Background(), org)).ID
	create := func(token string, in map[string]any) (*autoMessageOut, *gqlResponse) {
		t.Helper()
		in["channelId"] = ch
		r := e.gql(token, createAutoMessageMutation, map[string]any{"in": in})
		if r.code() != "" {
			return nil, r
		}
		var out struct{ CreateAutoMessage autoMessageOut }
		r.decode(t, &out)
		return &out.CreateAutoMessage, r
	}
	count := func() int {
		var out struct{ AutoMessages struct{ TotalCount int } }
		e.must(tn.agentToken, `{ autoMessages { totalCount } }`, nil, &out)
		return out.AutoMessages.TotalCount
	}

	greeting, _ := create(tn.adminToken, map[string]any{"kind": "GREETING", "title": "Chào mừng", "path": "/khuyen-mai",
		"contents": []string{"Đang giảm 20% ạ"}, "delaySeconds": 5, "resendAsMessage": true})
	hidden, _ := create(tn.ownerToken, map[string]any{"kind": "GREETING", "path": "/", "contents": []string{"Chào anh chị"}})
	start, _ := create(tn.adminToken, map[string]any{"kind": "START", "contents": []string{"Xin chào", "Shop có thể giúp gì ạ?"},
		"delaySeconds": 0, "intervalSeconds": 10})
	noReply, _ := create(tn.adminToken, map[string]any{"kind": "NO_REPLY", "contents": []string{"Anh chị chờ chút ạ"}, "delaySeconds": 60})
	offline, _ := create(tn.adminToken, map[string]any{"kind": "OFFLINE", "contents": []string{"Shop đang nghỉ ạ"}, "delaySeconds": 120})
	for _, a := range []*autoMessageOut{greeting, hidden, start, noReply, offline} {
		if a == nil || a.Channel.ID != ch || !a.Enabled {
			t.Fatalf("created %+v", a)
		}
	}
	if !greeting.ShowsPopup || *greeting.Path != "/khuyen-mai" || !greeting.ResendAsMessage || hidden.ShowsPopup || start.ShowsPopup {
		t.Fatalf("greeting %+v, hidden greeting %+v", greeting, hidden)
	}

	t.Run("ListedOnTheChannel", func(t *testing.T) {
		var out struct {
			Node struct{ AutoMessages []struct{ ID, Kind string } }
		}
		e.must(tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Channel { autoMessages { id kind } } } }`, map[string]any{"id": ch}, &out)
		if len(out.Node.AutoMessages) != 5 {
			t.Fatalf("channel lists %+v", out.Node.AutoMessages)
		}
		var byKind struct{ AutoMessages struct{ TotalCount int } }
		e.must(tn.agentToken, `query($c: ID!) { autoMessages(where: {kind: GREETING, hasChannelWith: {id: $c}}) { totalCount } }`,
			map[string]any{"c": ch}, &byKind)
		if byKind.AutoMessages.TotalCount != 2 {
			t.Fatalf("%d greetings listed, want 2", byKind.AutoMessages.TotalCount)
		}
		var node struct{ Node struct{ Kind string } }
		e.must(tn.agentToken, `query($id: ID!) { node(id: $id) { ... on AutoMessage { kind } } }`, map[string]any{"id": offline.ID}, &node)
		if node.Node.Kind != "OFFLINE" {
			t.Fatalf("node = %+v", node)
		}
	})

	for _, tc := range []struct {
		name, token string
		in          map[string]any
		code, field string
	}{
		{"ErrNoReplyUnder60", tn.adminToken, map[string]any{"kind": "NO_REPLY", "contents": []string{"x"}, "delaySeconds": 59}, "BAD_USER_INPUT", "delaySeconds"},
		{"ErrOfflineUnder60", tn.adminToken, map[string]any{"kind": "OFFLINE", "contents": []string{"x"}, "delaySeconds": 0}, "BAD_USER_INPUT", "delaySeconds"},
		{"ErrGreetingWithoutPath", tn.adminToken, map[string]any{"kind": "GREETING", "contents": []string{"x"}}, "BAD_USER_INPUT", "path"},
		{"ErrGreetingPathTaken", tn.adminToken, map[string]any{"kind": "GREETING", "path": "/khuyen-mai", "contents": []string{"x"}}, "CONFLICT", "path"},
		{"ErrSecondStart", tn.adminToken, map[string]any{"kind": "START", "contents": []string{"x"}}, "CONFLICT", ""},
		{"ErrStartWithoutContents", tn.adminToken, map[string]any{"kind": "START", "contents": []string{}}, "BAD_USER_INPUT", "contents"},
		{"ErrAgent", tn.agentToken, map[string]any{"kind": "GREETING", "path": "/agent", "contents": []string{"x"}}, "FORBIDDEN", ""},
		{"ErrAPIKey", tn.apiKey, map[string]any{"kind": "GREETING", "path": "/key", "contents": []string{"x"}}, "FORBIDDEN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := count()
			_, r := create(tc.token, tc.in)
			if r.code() != tc.code {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.code)
			}
			if f, _ := r.Errors[0].Extensions["field"].(string); tc.field != "" && f != tc.field {
				t.Errorf("field %q, want %q", f, tc.field)
			}
			if after := count(); after != before {
				t.Fatalf("%d auto-messages stored by a refused create", after-before)
			}
		})
	}

	t.Run("Update", func(t *testing.T) {
		update := `mutation($id: ID!, $in: UpdateAutoMessageInput!) { updateAutoMessage(id: $id, input: $in) { delaySeconds contents } }`
		if r := e.gql(tn.adminToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 30}}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("NO_REPLY to 30 s: %q %+v", r.code(), r.Errors)
		}
		if r := e.gql(tn.agentToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 300}}); r.code() != "FORBIDDEN" {
			t.Fatalf("agent update: %q %+v", r.code(), r.Errors)
		}
		var out struct{ UpdateAutoMessage autoMessageOut }
		e.must(tn.adminToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 90, "contents": []string{"Một", "Hai"}}}, &out)
		if out.UpdateAutoMessage.DelaySeconds != 90 || len(out.UpdateAutoMessage.Contents) != 2 {
			t.Fatalf("updated %+v", out.UpdateAutoMessage)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		del := `mutation($id: ID!) { deleteAutoMessage(id: $id) }`
		if r := e.gql(tn.agentToken, del, map[string]any{"id": hidden.ID}); r.code() != "FORBIDDEN" {
			t.Fatalf("agent delete: %q %+v", r.code(), r.Errors)
		}
		var out struct{ DeleteAutoMessage gid.ID }
		e.must(tn.adminToken, del, map[string]any{"id": hidden.ID}, &out)
		if out.DeleteAutoMessage != gid.ID(hidden.ID) || count() != 4 {
			t.Fatalf("deleted %q, %d left", out.DeleteAutoMessage, count())
		}
		if r := e.gql(tn.adminToken, del, map[string]any{"id": hidden.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("second delete: %q %+v", r.code(), r.Errors)
		}
	})
}

// onTheTestClock runs the server's inbox, timers and auto-messages on the
// test clock, so a test makes things come due by moving the clock.
func onTheTestClock(w *webhookEnv) envOption {
	return func(_ *Config, o *appOptions) {
		o.now = w.clock.Now
		o.inbox.Now = w.clock.Now
	}
}

// autoEnv is a webhookEnv whose server runs on the test clock.
type autoEnv struct{ *webhookEnv }

func newAutoEnv(t *testing.T) *autoEnv {
	t.Helper()
	a := &autoEnv{newWebhookEnv(t, onTheTestClock)}
	a.fbfake.AddPage(testPageID, testFBPageToken)
	return a
}

// configure creates an auto-message on ch as the ADMIN.
func (a *autoEnv) configure(ch *ent.Channel, in map[string]any) {
	a.t.Helper()
	in["channelId"] = ch.ID
	a.must(a.tn.adminToken, createAutoMessageMutation, map[string]any{"in": in}, nil)
}

// share makes ch SHARED, so that every user of the organization answers it.
func (a *autoEnv) share(ch *ent.Channel) {
	a.t.Helper()
	a.must(a.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": ch.ID}, nil)
}

// presence sets a user's presence.
func (a *autoEnv) presence(userID string, p user.Presence) {
	a.db.Client.User.UpdateOneID(gid.ID(userID)).SetPresence(p).ExecX(a.sys())
}

// zaloCustomerWrites posts a Zalo user's message and processes it.
func (a *autoEnv) zaloCustomerWrites(userID, text string) {
	a.t.Helper()
	a.sendZalo(a.userEvent("user_send_text", userID, map[string]any{"msg_id": a.msgID("zm"), "text": text}))
	a.process()
}

// messengerCustomerWrites posts a Messenger user's message and processes
// it.
func (a *autoEnv) messengerCustomerWrites(psid, text string) {
	a.t.Helper()
	a.sendFacebook(fbMessage(testPageID, psid, a.msgID("m_"), text, a.clock.Now().Add(-time.Second)))
	a.process()
}

// tick moves the clock by d, runs the timers that came due, and delivers
// what they queued.
func (a *autoEnv) tick(d time.Duration) {
	a.t.Helper()
	a.clock.Advance(d)
	ctx := context.Background()
	for range 20 {
		ran, err := a.app.timers.RunDue(ctx)
		if err != nil {
			a.t.Fatalf("RunDue: %v", err)
		}
		delivered, err := a.app.inbox.DeliverDue(ctx)
		if err != nil {
			a.t.Fatalf("DeliverDue: %v", err)
		}
		if ran == 0 && delivered == 0 {
			return
		}
	}
	a.t.Fatal("timers and deliveries kept finding work")
}

// zaloReceived returns the texts Zalo received for a user, in order.
func (a *autoEnv) zaloReceived(userID string) []string {
	out := []string{}
	for _, m := range a.zfake.Sent() {
		if m.UserID == userID {
			out = append(out, m.Text)
		}
	}
	return out
}

// messengerReceived returns the texts Messenger received for a PSID.
func (a *autoEnv) messengerReceived(psid string) []string {
	out := []string{}
	for _, m := range a.fbfake.Sent() {
		if m.PSID == psid {
			out = append(out, m.Text)
		}
	}
	return out
}

// expect fails unless got is want.
func (a *autoEnv) expect(when string, got []string, want ...string) {
	a.t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		a.t.Fatalf("%s: provider received %q, want %q", when, got, want)
	}
}

// conversationOf returns the open conversation of a user of ch.
func (a *autoEnv) conversationOf(ch *ent.Channel, userID string) gid.ID {
	a.t.Helper()
	idt := a.identityOf(ch, userID)
	if idt == nil {
		a.t.Fatalf("no identity for %s", userID)
	}
	return a.db.Client.Conversation.Query().Where(conversation.CustomerID(idt.CustomerID)).OnlyIDX(a.sys())
}

// reply answers a conversation through sendMessage as token.
func (a *autoEnv) reply(token string, conv gid.ID, text string) {
	a.t.Helper()
	a.must(token, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": text}}, nil)
}

// TestGreetingAndStartReachZalo: a new conversation gets the resent
// greeting at once, then START's contents after the delay and at the
// interval, delivered by Zalo as SYSTEM messages of their auto-message.
func TestGreetingAndStartReachZalo(t *testing.T) {
	a := newAutoEnv(t)
	a.configure(a.oa, map[string]any{"kind": "GREETING", "title": "Chào mừng", "path": "/", "delaySeconds": 3,
		"contents": []string{"Chào mừng đến Hoa Lan"}, "resendAsMessage": true})
	a.configure(a.oa, map[string]any{"kind": "START", "delaySeconds": 10, "intervalSeconds": 30,
		"contents": []string{"Shop có thể giúp gì ạ?", "Xem bảng giá tại hoalan.vn"}})
	const user = "8130000000002001"

	a.zaloCustomerWrites(user, "Chào shop")
	a.tick(0)
	a.expect("at once", a.zaloReceived(user), "Chào mừng đến Hoa Lan")
	a.tick(9 * time.Second)
	a.expect("after 9 s", a.zaloReceived(user), "Chào mừng đến Hoa Lan")
	a.tick(time.Second)
	a.expect("after the delay", a.zaloReceived(user), "Chào mừng đến Hoa Lan", "Shop có thể giúp gì ạ?")
	a.zaloCustomerWrites(user, "Cho em xem giá")
	a.tick(29 * time.Second)
	a.expect("29 s later", a.zaloReceived(user), "Chào mừng đến Hoa Lan", "Shop có thể giúp gì ạ?")
	a.tick(time.Second)
	want := []string{"Chào mừng đến Hoa Lan", "Shop có thể giúp gì ạ?", "Xem bảng giá tại hoalan.vn"}
	a.expect("after the interval", a.zaloReceived(user), want...)
	a.tick(time.Hour)
	a.expect("an hour later", a.zaloReceived(user), want...)

	var out struct {
		Node struct {
			Messages struct {
				Edges []struct {
					Node struct {
						Text, Status, SenderType string
						AutoMessage              *struct{ Kind string }
					}
				}
			}
		}
	}
	a.must(a.tn.adminToken, `query($id: ID!) { node(id: $id) { ... on Conversation {
		messages(first: 10, where: {direction: OUTBOUND}) { edges { node { text status senderType autoMessage { kind } } } } } } }`,
		map[string]any{"id": a.conversationOf(a.oa, user)}, &out)
	kinds := []string{"GREETING", "START", "START"}
	if len(out.Node.Messages.Edges) != 3 {
		t.Fatalf("outbound messages %+v", out.Node.Messages.Edges)
	}
	for i, e := range out.Node.Messages.Edges {
		if n := e.Node; n.Text != want[i] || n.Status != "SENT" || n.SenderType != "SYSTEM" || n.AutoMessage == nil || n.AutoMessage.Kind != kinds[i] {
			t.Fatalf("message %d: %+v", i, n)
		}
	}
}

// TestNoReplyReachesZaloUnlessAnswered: with an agent online, a customer
// nobody answers gets NO_REPLY after its delay; a reply before then
// cancels it.
func TestNoReplyReachesZaloUnlessAnswered(t *testing.T) {
	a := newAutoEnv(t)
	a.share(a.oa)
	a.presence(a.tn.agentID, user.PresenceONLINE)
	a.configure(a.oa, map[string]any{"kind": "NO_REPLY", "delaySeconds": 60, "contents": []string{"Nhân viên sẽ trả lời ngay ạ"}})
	a.configure(a.oa, map[string]any{"kind": "OFFLINE", "delaySeconds": 60, "contents": []string{"Shop đang nghỉ"}})

	t.Run("SentWhenNobodyAnswers", func(t *testing.T) {
		const user = "8130000000003001"
		a.zaloCustomerWrites(user, "Shop ơi")
		a.tick(59 * time.Second)
		a.expect("after 59 s", a.zaloReceived(user))
		a.tick(time.Second)
		a.expect("after 60 s", a.zaloReceived(user), "Nhân viên sẽ trả lời ngay ạ")
	})
	t.Run("CancelledByAReply", func(t *testing.T) {
		const user = "8130000000003002"
		a.zaloCustomerWrites(user, "Shop ơi")
		a.tick(30 * time.Second)
		conv := a.conversationOf(a.oa, user)
		pending := func() int {
			return a.db.Client.Timer.Query().Where(enttimer.Key(string(conv))).CountX(a.sys())
		}
		if n := pending(); n != 1 {
			t.Fatalf("%d timers pending before the reply, want NO_REPLY's", n)
		}
		a.reply(a.tn.agentToken, conv, "Dạ em đây ạ")
		if n := pending(); n != 0 {
			t.Fatalf("%d timers pending after the reply", n)
		}
		a.tick(time.Hour)
		a.expect("after the reply", a.zaloReceived(user), "Dạ em đây ạ")
	})
	t.Run("CancelledByAReplyFromZalosOwnApp", func(t *testing.T) {
		const user = "8130000000003003"
		a.zaloCustomerWrites(user, "Shop ơi")
		a.tick(30 * time.Second)
		a.sendZalo(a.oaEvent("oa_send_text", user, map[string]any{"msg_id": a.msgID("echo"), "text": "Dạ em đây ạ"}))
		a.process()
		a.tick(time.Hour)
		a.expect("after the reply", a.zaloReceived(user))
	})
}

// TestOfflineReachesMessengerOnlyWhenNobodyIsOnline: on the page (ONLY_ME,
// connected by the OWNER) OFFLINE goes out when the OWNER is not online,
// and not when they come online before it is due.
func TestOfflineReachesMessengerOnlyWhenNobodyIsOnline(t *testing.T) {
	a := newAutoEnv(t)
	a.configure(a.page, map[string]any{"kind": "OFFLINE", "delaySeconds": 90, "contents": []string{"Shop đang nghỉ, sáng mai trả lời ạ"}})
	a.presence(a.tn.agentID, user.PresenceONLINE) // not theirs to answer: the page is the OWNER's

	a.messengerCustomerWrites("psid-offline-1", "Còn hàng không ạ?")
	a.tick(89 * time.Second)
	a.expect("after 89 s", a.messengerReceived("psid-offline-1"))
	a.tick(time.Second)
	a.expect("after 90 s", a.messengerReceived("psid-offline-1"), "Shop đang nghỉ, sáng mai trả lời ạ")

	a.messengerCustomerWrites("psid-offline-2", "Còn hàng không ạ?")
	a.tick(30 * time.Second)
	a.presence(a.tn.ownerID, user.PresenceONLINE)
	a.tick(time.Hour)
	a.expect("the OWNER came online", a.messengerReceived("psid-offline-2"))

	a.messengerCustomerWrites("psid-offline-3", "Còn hàng không ạ?")
	a.tick(time.Hour)
	a.expect("the OWNER is online", a.messengerReceived("psid-offline-3"))
}
