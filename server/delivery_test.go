package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// replyEnv is a server whose provider base URLs point at the Zalo and
// Facebook fakes, with an organization that has a Zalo OA and a Facebook
// page, each with one customer conversation.
type replyEnv struct {
	*env
	clock *clocktest.Clock
	zalo  *zalofake.Server
	fb    *fbfake.Fake
	files *httptest.Server
	tn    *tenant
	orgID gid.ID

	oaID, pageID         gid.ID // channels
	oaConv, pageConv     gid.ID
	oaUser, psid, oaName string
}

func newReplyEnv(t *testing.T, opts ...func(*replyEnv) envOption) *replyEnv {
	t.Helper()
	r := &replyEnv{
		clock: clocktest.New(time.Now().UTC().Truncate(time.Second)),
		zalo:  zalofake.New(t), fb: fbfake.New(t),
		oaUser: "zalo-user-42", psid: "psid-42",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hop-dong.pdf", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("%PDF hợp đồng")) })
	r.files = httptest.NewServer(mux)
	t.Cleanup(r.files.Close)
	r.env = newEnv(t, append([]envOption{func(cfg *Config, o *appOptions) {
		cfg.ZaloOpenAPIURL, cfg.ZaloOAuthURL, cfg.FacebookGraphURL = r.zalo.URL(), r.zalo.URL(), r.fb.URL()
		// The test's file server is on loopback, which the production
		// download client refuses.
		o.inbox = inbox.Options{Now: r.clock.Now, DownloadClient: r.files.Client()}
	}}, replyOptions(r, opts)...)...)
	r.tn = r.newTenant("Reply Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	r.must(r.tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	r.orgID = me.Me.Organization.ID

	r.oaName = "oa-" + string(gid.New("Channel"))
	oa := r.zalo.AddOA(zalofake.OA{ID: r.oaName})
	var z struct{ ConnectZaloOA struct{ ID gid.ID } }
	r.must(r.tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"oaId": r.oaName, "name": "Shop OA", "appId": r.zalo.AppID(), "appSecret": r.zalo.AppSecret(),
		"accessToken": oa.AccessToken, "refreshToken": oa.RefreshToken,
		"accessTokenExpiresAt": r.clock.Now().Add(25 * time.Hour).Format(time.RFC3339), "webhookSecret": "zalo-webhook",
	}}, &z)
	page := "page-" + string(gid.New("Channel"))
	r.fb.AddPage(page, "PAGE-TOKEN-"+page)
	var f struct{ ConnectFacebookPage struct{ ID gid.ID } }
	r.must(r.tn.adminToken, `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"pageId": page, "name": "Shop Fanpage", "pageAccessToken": "PAGE-TOKEN-" + page, "appSecret": "fb-app-secret", "verifyToken": "verify",
	}}, &f)
	r.oaID, r.pageID = z.ConnectZaloOA.ID, f.ConnectFacebookPage.ID
	for _, id := range []gid.ID{r.oaID, r.pageID} {
		r.must(r.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`, map[string]any{"id": id}, nil)
	}
	r.oaConv = r.seedCustomerConversation(r.oaID, r.oaUser, "Nguyễn Văn A")
	r.pageConv = r.seedCustomerConversation(r.pageID, r.psid, "Trần Thị B")
	return r
}

func (r *replyEnv) sys() context.Context { return viewer.SystemContext(context.Background(), r.orgID) }

// seedCustomerConversation stands in for the inbound side: a customer
// with an identity on the channel, who wrote just now.
func (r *replyEnv) seedCustomerConversation(ch gid.ID, externalID, name string) gid.ID {
	r.t.Helper()
	c := r.db.Client
	cus := c.Customer.Create().SetName(name).SaveX(r.sys())
	c.Identity.Create().SetChannelID(ch).SetCustomerID(cus.ID).SetExternalID(externalID).SaveX(r.sys())
	now := r.clock.Now()
	return c.Conversation.Create().SetChannelID(ch).SetCustomerID(cus.ID).SetUnreadCount(3).
		SetLastMessageAt(now).SetLastInboundAt(now).SaveX(r.sys()).ID
}

// deliver runs the server's delivery worker until nothing is due.
func (r *replyEnv) deliver() {
	r.t.Helper()
	for range 50 {
		n, err := r.app.inbox.DeliverDue(context.Background())
		if err != nil {
			r.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	r.t.Fatal("the worker kept finding work")
}

const sendMessageMutation = `mutation($in: SendMessageInput!) { sendMessage(input: $in) {
	id status direction kind text senderType senderUser { id } attachments { type url name }
	conversation { id lastMessageAt } } }`

type sentOut struct {
	ID, Status, Direction, Kind, SenderType string
	Text                                    *string
	SenderUser                              *struct{ ID string }
	Attachments                             []struct{ Type, URL, Name string }
	Conversation                            struct {
		ID            string
		LastMessageAt time.Time
	}
}

const messageByID = `query($id: ID!) { node(id: $id) { ... on Message { id status failureReason sentAt } } }`

type messageStatusOut struct {
	Node struct {
		ID, Status    string
		FailureReason *string
		SentAt        *time.Time
	}
}

// TestSendMessageEndToEnd sends text, image and file on Zalo and text on
// Messenger through the API, lets the worker deliver them to the fakes over
// HTTP, and reads the outcome back through the API.
func TestSendMessageEndToEnd(t *testing.T) {
	r := newReplyEnv(t)
	for _, tc := range []struct {
		name     string
		conv     func() gid.ID
		in       map[string]any
		kind     string
		provider func() string // what the provider received, in one line
		want     string
	}{
		{"ZaloText", func() gid.ID { return r.oaConv }, map[string]any{"text": "Dạ shop chào anh ạ"}, "TEXT",
			func() string { return zaloLast(r.zalo) }, "text Dạ shop chào anh ạ to " + r.oaUser},
		{"ZaloImage", func() gid.ID { return r.oaConv }, map[string]any{"text": "Ảnh mẫu", "attachments": []any{map[string]any{"type": "image", "url": "https://cdn.example.vn/mau.jpg"}}}, "IMAGE",
			func() string { return zaloLast(r.zalo) }, "image https://cdn.example.vn/mau.jpg caption Ảnh mẫu to " + r.oaUser},
		{"ZaloFile", func() gid.ID { return r.oaConv }, map[string]any{"attachments": []any{map[string]any{"type": "file", "url": r.files.URL + "/hop-dong.pdf", "name": "Hợp đồng.pdf"}}}, "FILE",
			func() string { return zaloLast(r.zalo) }, "file Hợp đồng.pdf to " + r.oaUser},
		{"FacebookText", func() gid.ID { return r.pageConv }, map[string]any{"text": "Chào chị, em gửi báo giá"}, "TEXT",
			func() string {
				s := r.fb.Sent()
				return fmt.Sprintf("%s %s to %s", s[len(s)-1].MessagingType, s[len(s)-1].Text, s[len(s)-1].PSID)
			}, "RESPONSE Chào chị, em gửi báo giá to " + r.psid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.clock.Advance(time.Minute)
			in := tc.in
			in["conversationId"] = tc.conv()
			var out struct{ SendMessage sentOut }
			r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": in}, &out)
			m := out.SendMessage
			if m.Status != "QUEUED" || m.Direction != "OUTBOUND" || m.Kind != tc.kind || m.SenderType != "USER" ||
				m.SenderUser == nil || m.SenderUser.ID != r.tn.agentID || m.Conversation.ID != string(tc.conv()) ||
				!m.Conversation.LastMessageAt.Equal(r.clock.Now()) {
				t.Fatalf("sendMessage returned %+v", m)
			}

			r.deliver()

			var st messageStatusOut
			r.must(r.tn.agentToken, messageByID, map[string]any{"id": m.ID}, &st)
			// A message that has not failed has no failure reason: null.
			if st.Node.Status != "SENT" || st.Node.SentAt == nil || st.Node.FailureReason != nil {
				t.Fatalf("after delivery: %+v", st.Node)
			}
			if got := tc.provider(); got != tc.want {
				t.Errorf("provider received %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("LogsHoldNeitherTextNorTokens", func(t *testing.T) {
		logs := r.logText()
		for _, secret := range []string{"Dạ shop chào anh", "báo giá", r.zalo.OA(r.oaName).AccessToken, r.zalo.OA(r.oaName).RefreshToken, "PAGE-TOKEN-", r.zalo.AppSecret()} {
			if strings.Contains(logs, secret) {
				t.Errorf("the server logged %q", secret)
			}
		}
	})
}

// zaloLast describes the last message the Zalo fake accepted.
func zaloLast(z *zalofake.Server) string {
	s := z.Sent()
	m := s[len(s)-1]
	switch {
	case m.Attachment == nil:
		return fmt.Sprintf("text %s to %s", m.Text, m.UserID)
	case m.Attachment.Type == "image":
		return fmt.Sprintf("image %s caption %s to %s", m.Attachment.URL, m.Text, m.UserID)
	default:
		ups := z.Uploads()
		if len(ups) == 0 || string(ups[len(ups)-1].Content) != "%PDF hợp đồng" {
			return "file with wrong content"
		}
		return fmt.Sprintf("file %s to %s", m.Attachment.Filename, m.UserID)
	}
}

// TestSendMessageWorkerRuns checks the wiring: with the server's workers
// running, a sent message is delivered without anyone calling the worker.
func TestSendMessageWorkerRuns(t *testing.T) {
	r := newReplyEnv(t)
	r.app.startWorkers()
	t.Cleanup(r.app.Stop)
	var out struct{ SendMessage sentOut }
	r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": "Có ngay ạ"}}, &out)

	// Waiting, not timing: the deadline only bounds a broken worker.
	deadline := time.Now().Add(patience)
	for {
		var st messageStatusOut
		r.must(r.tn.agentToken, messageByID, map[string]any{"id": out.SendMessage.ID}, &st)
		if st.Node.Status == "SENT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s", st.Node.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(r.zalo.Sent()); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
}

func TestSendMessageFailuresThroughTheAPI(t *testing.T) {
	r := newReplyEnv(t)
	t.Run("OutageThenRecovery", func(t *testing.T) {
		r.zalo.FailNext(zalofake.SendMessage, 2, zalofake.Status(http.StatusInternalServerError))
		var out struct{ SendMessage sentOut }
		r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": "Đơn hàng đã gửi"}}, &out)
		for range 3 {
			r.deliver()
			m := r.db.Client.Message.GetX(r.sys(), gid.ID(out.SendMessage.ID))
			if m.NextAttemptAt != nil {
				r.clock.Set(*m.NextAttemptAt)
			}
		}
		var st messageStatusOut
		r.must(r.tn.agentToken, messageByID, map[string]any{"id": out.SendMessage.ID}, &st)
		if st.Node.Status != "SENT" || len(r.zalo.Sent()) != 1 {
			t.Fatalf("status %s, %d sends; want SENT once", st.Node.Status, len(r.zalo.Sent()))
		}
	})
	t.Run("PermanentFailureHasAReason", func(t *testing.T) {
		r.zalo.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-230))
		var out struct{ SendMessage sentOut }
		r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": "Anh còn quan tâm không ạ"}}, &out)
		r.deliver()
		var st messageStatusOut
		r.must(r.tn.agentToken, messageByID, map[string]any{"id": out.SendMessage.ID}, &st)
		if st.Node.Status != "FAILED" || st.Node.FailureReason == nil || !strings.Contains(*st.Node.FailureReason, "7 days") {
			t.Fatalf("got %+v", st.Node)
		}
	})
	t.Run("FacebookOutsideWindow", func(t *testing.T) {
		for _, tc := range []struct {
			ago    time.Duration
			status string
			typ    string
		}{
			{3 * 24 * time.Hour, "SENT", "MESSAGE_TAG"},
			{8 * 24 * time.Hour, "FAILED", ""},
		} {
			r.db.Client.Conversation.UpdateOneID(r.pageConv).SetLastInboundAt(r.clock.Now().Add(-tc.ago)).ExecX(r.sys())
			before := len(r.fb.Sent())
			var out struct{ SendMessage sentOut }
			r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.pageConv, "text": "Chị ơi"}}, &out)
			r.deliver()
			var st messageStatusOut
			r.must(r.tn.agentToken, messageByID, map[string]any{"id": out.SendMessage.ID}, &st)
			sent := r.fb.Sent()[before:]
			if st.Node.Status != tc.status || (tc.typ == "") != (len(sent) == 0) || tc.typ != "" && (sent[0].MessagingType != tc.typ || sent[0].Tag != "HUMAN_AGENT") {
				t.Errorf("%v after the customer wrote: %+v, sent %+v", tc.ago, st.Node, sent)
			}
		}
	})
}

func TestSendMessageRefusals(t *testing.T) {
	r := newReplyEnv(t)
	other := r.newTenant("Foreign Reply Org")
	private := seedConversation(t, r.env, r.orgID, gid.ID(r.tn.ownerID), channel.ChatPermissionONLY_ME, "riêng tư")
	r.must(r.tn.adminToken, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": r.pageID}, nil)
	for _, tc := range []struct {
		name, token  string
		in           map[string]any
		code, reason string
		field        string
	}{
		{"ForeignConversation", other.ownerToken, map[string]any{"conversationId": r.oaConv, "text": "x"}, "NOT_FOUND", "", ""},
		{"HiddenOnlyMeConversation", r.tn.agentToken, map[string]any{"conversationId": private, "text": "x"}, "NOT_FOUND", "", ""},
		{"DisconnectedChannel", r.tn.agentToken, map[string]any{"conversationId": r.pageConv, "text": "x"}, "FAILED_PRECONDITION", "CHANNEL_DISCONNECTED", ""},
		{"NothingToSend", r.tn.agentToken, map[string]any{"conversationId": r.oaConv, "text": " "}, "BAD_USER_INPUT", "", "text"},
		{"ReadOnlyAPIKey", r.createAPIKey(r.tn.ownerToken, "READ"), map[string]any{"conversationId": r.oaConv, "text": "x"}, "FORBIDDEN", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.gql(tc.token, sendMessageMutation, map[string]any{"in": tc.in})
			if res.code() != tc.code {
				t.Fatalf("got %q %+v, want %s", res.code(), res.Errors, tc.code)
			}
			if ext := res.Errors[0].Extensions; tc.reason != "" && ext["reason"] != tc.reason || tc.field != "" && ext["field"] != tc.field {
				t.Errorf("extensions %v, want reason %q field %q", ext, tc.reason, tc.field)
			}
		})
	}
	if n := r.db.Client.Message.Query().Where(message.DirectionEQ(message.DirectionOUTBOUND)).CountX(r.sys()); n != 0 {
		t.Errorf("%d messages stored by refused sends", n)
	}
	t.Run("APIKeySendsAsSystem", func(t *testing.T) {
		var out struct{ SendMessage sentOut }
		r.must(r.tn.apiKey, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": "Mã đơn 123"}}, &out)
		if out.SendMessage.SenderType != "SYSTEM" || out.SendMessage.SenderUser != nil {
			t.Errorf("sent as %s %v", out.SendMessage.SenderType, out.SendMessage.SenderUser)
		}
	})
}

// TestConversationMutations covers setConversationStatus,
// assignConversation and markConversationRead: who may call them, what
// foreign IDs get, and the event each appends.
func TestConversationMutations(t *testing.T) {
	r := newReplyEnv(t)
	other := r.newTenant("Foreign Conversation Org")
	inactiveID, _, _ := r.createUser(r.tn.ownerToken, "AGENT")
	r.must(r.tn.ownerToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": inactiveID}, nil)
	private := seedConversation(t, r.env, r.orgID, gid.ID(r.tn.agentID), channel.ChatPermissionONLY_ME, "riêng")
	adminsOwn := seedConversation(t, r.env, r.orgID, gid.ID(r.tn.adminID), channel.ChatPermissionONLY_ME, "của admin")
	const (
		status = `mutation($id: ID!, $s: ConversationStatus!) { setConversationStatus(id: $id, status: $s) { id status } }`
		assign = `mutation($id: ID!, $u: ID) { assignConversation(id: $id, userId: $u) { id assignee { id } } }`
		read   = `mutation($id: ID!) { markConversationRead(id: $id) { id unreadCount } }`
	)
	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		code, reason       string
	}{
		{"AgentCannotAssign", r.tn.agentToken, assign, map[string]any{"id": r.oaConv, "u": r.tn.agentID}, "FORBIDDEN", ""},
		{"APIKeyCannotAssign", r.tn.apiKey, assign, map[string]any{"id": r.oaConv, "u": r.tn.agentID}, "FORBIDDEN", ""},
		{"ForeignConversationStatus", other.ownerToken, status, map[string]any{"id": r.oaConv, "s": "RESOLVED"}, "NOT_FOUND", ""},
		{"ForeignConversationAssign", other.ownerToken, assign, map[string]any{"id": r.oaConv, "u": other.agentID}, "NOT_FOUND", ""},
		{"ForeignConversationRead", other.agentToken, read, map[string]any{"id": r.oaConv}, "NOT_FOUND", ""},
		{"ForeignUser", r.tn.adminToken, assign, map[string]any{"id": r.oaConv, "u": other.agentID}, "NOT_FOUND", ""},
		{"UnknownUser", r.tn.adminToken, assign, map[string]any{"id": r.oaConv, "u": string(gid.New("User"))}, "NOT_FOUND", ""},
		{"InactiveUser", r.tn.adminToken, assign, map[string]any{"id": r.oaConv, "u": inactiveID}, "BAD_USER_INPUT", ""},
		{"HiddenOnlyMe", r.tn.ownerToken, read, map[string]any{"id": private}, "NOT_FOUND", ""},
		{"OnlyMeConnectorMayChangeStatus", r.tn.agentToken, status, map[string]any{"id": private, "s": "PENDING"}, "", ""},
		{"OnlyMeGoesToNoOtherUser", r.tn.adminToken, assign, map[string]any{"id": adminsOwn, "u": r.tn.agentID}, "FAILED_PRECONDITION", "ONLY_ME_CHANNEL"},
		{"OnlyMeToItsConnector", r.tn.adminToken, assign, map[string]any{"id": adminsOwn, "u": r.tn.adminID}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.gql(tc.token, tc.query, tc.vars)
			if res.code() != tc.code {
				t.Fatalf("got %q %+v, want %q", res.code(), res.Errors, tc.code)
			}
			if tc.reason != "" && res.Errors[0].Extensions["reason"] != tc.reason {
				t.Errorf("reason %v, want %s", res.Errors[0].Extensions["reason"], tc.reason)
			}
		})
	}
	events := func() []string {
		evs := r.db.Client.Event.Query().Where(entevent.ConversationID(r.oaConv)).Order(entevent.BySeq()).AllX(r.sys())
		var out []string
		for _, e := range evs {
			out = append(out, string(e.Topic)+" "+e.Type)
		}
		return out
	}

	var st struct{ SetConversationStatus struct{ Status string } }
	r.must(r.tn.agentToken, status, map[string]any{"id": r.oaConv, "s": "PENDING"}, &st)
	r.must(r.tn.agentToken, status, map[string]any{"id": r.oaConv, "s": "PENDING"}, nil) // no change, no event
	var as struct {
		AssignConversation struct{ Assignee *struct{ ID string } }
	}
	r.must(r.tn.adminToken, assign, map[string]any{"id": r.oaConv, "u": r.tn.agentID}, &as)
	var rd struct{ MarkConversationRead struct{ UnreadCount int } }
	r.must(r.tn.agentToken, read, map[string]any{"id": r.oaConv}, &rd)
	var un struct {
		AssignConversation struct{ Assignee *struct{ ID string } }
	}
	r.must(r.tn.ownerToken, assign, map[string]any{"id": r.oaConv, "u": nil}, &un)

	if st.SetConversationStatus.Status != "PENDING" || as.AssignConversation.Assignee == nil ||
		as.AssignConversation.Assignee.ID != r.tn.agentID || rd.MarkConversationRead.UnreadCount != 0 || un.AssignConversation.Assignee != nil {
		t.Fatalf("results: %+v %+v %+v %+v", st, as, rd, un)
	}
	want := []string{"CONVERSATION STATUS_CHANGED", "CONVERSATION ASSIGNED", "CONVERSATION UPDATED", "CONVERSATION ASSIGNED"}
	if got := events(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	t.Run("ReopeningBesideAnotherOpenConversationConflicts", func(t *testing.T) {
		r.must(r.tn.agentToken, status, map[string]any{"id": r.oaConv, "s": "RESOLVED"}, nil)
		conv := r.db.Client.Conversation.Query().Where(conversation.ID(r.oaConv)).OnlyX(r.sys())
		r.db.Client.Conversation.Create().SetChannelID(conv.ChannelID).SetCustomerID(conv.CustomerID).SaveX(r.sys())
		if res := r.gql(r.tn.agentToken, status, map[string]any{"id": r.oaConv, "s": "OPEN"}); res.code() != "CONFLICT" {
			t.Errorf("got %q %+v", res.code(), res.Errors)
		}
	})
}

// TestConversationMessagesNewestPage documents how a chat view pages:
// messages(last: N) is the newest N, oldest first, with before paging back;
// orderBy CREATED_AT DESC gives them newest first.
func TestConversationMessagesNewestPage(t *testing.T) {
	r := newReplyEnv(t)
	for i := range 5 {
		r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": fmt.Sprintf("m%d", i)}}, nil)
	}
	type page struct {
		Edges []struct {
			Node struct{ Text string }
		}
		PageInfo struct {
			HasPreviousPage, HasNextPage bool
			StartCursor                  string
		}
	}
	texts := func(p page) string {
		var out []string
		for _, e := range p.Edges {
			out = append(out, e.Node.Text)
		}
		return strings.Join(out, ",")
	}
	const fields = `edges { node { text } } pageInfo { hasPreviousPage hasNextPage startCursor }`

	var byNode struct{ Node struct{ Messages page } }
	r.must(r.tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Conversation { messages(last: 3) { `+fields+` } } } }`, map[string]any{"id": r.oaConv}, &byNode)
	if got := texts(byNode.Node.Messages); got != "m2,m3,m4" || !byNode.Node.Messages.PageInfo.HasPreviousPage {
		t.Errorf("messages(last: 3) = %s %+v, want m2,m3,m4 with an earlier page", got, byNode.Node.Messages.PageInfo)
	}
	var back struct{ Node struct{ Messages page } }
	r.must(r.tn.agentToken, `query($id: ID!, $c: Cursor) { node(id: $id) { ... on Conversation { messages(last: 3, before: $c) { `+fields+` } } } }`,
		map[string]any{"id": r.oaConv, "c": byNode.Node.Messages.PageInfo.StartCursor}, &back)
	if got := texts(back.Node.Messages); got != "m0,m1" {
		t.Errorf("the page before = %s, want m0,m1", got)
	}
	var desc struct{ Node struct{ Messages page } }
	r.must(r.tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Conversation { messages(first: 3, orderBy: {field: CREATED_AT, direction: DESC}) { `+fields+` } } } }`, map[string]any{"id": r.oaConv}, &desc)
	if got := texts(desc.Node.Messages); got != "m4,m3,m2" {
		t.Errorf("newest first = %s, want m4,m3,m2", got)
	}
	// In a list, entgql loads every conversation's messages in one query;
	// the newest page must be the same there.
	var list struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       string
					Messages page
				}
			}
		}
	}
	r.must(r.tn.agentToken, `{ conversations { edges { node { id messages(last: 3) { `+fields+` } } } } }`, nil, &list)
	for _, e := range list.Conversations.Edges {
		if e.Node.ID == string(r.oaConv) {
			if got := texts(e.Node.Messages); got != "m2,m3,m4" || !e.Node.Messages.PageInfo.HasPreviousPage {
				t.Errorf("in the list, messages(last: 3) = %s %+v", got, e.Node.Messages.PageInfo)
			}
			return
		}
	}
	t.Errorf("the conversation is not listed")
}

const messageDeliveryByID = `query($id: ID!) { node(id: $id) { ... on Message { id status failureReason attempts lastError nextAttemptAt } } }`

type messageDeliveryOut struct {
	Node struct {
		ID, Status               string
		FailureReason, LastError *string
		Attempts                 int
		NextAttemptAt            *time.Time
	}
}

// TestDeliveryIsVisibleAndAgentsCanActOnIt: a reply in trouble shows its
// attempts, last error and next attempt while still QUEUED, with an
// UPDATED event per failed attempt; a FAILED reply can be sent again and a
// QUEUED one cancelled, and every other state is refused with its reason.
func TestDeliveryIsVisibleAndAgentsCanActOnIt(t *testing.T) {
	r := newReplyEnv(t)
	send := func(text string) string {
		var out struct{ SendMessage sentOut }
		r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": r.oaConv, "text": text}}, &out)
		return out.SendMessage.ID
	}
	read := func(id string) messageDeliveryOut {
		var st messageDeliveryOut
		r.must(r.tn.agentToken, messageDeliveryByID, map[string]any{"id": id}, &st)
		return st
	}
	updates := func(id string) int {
		return r.db.Client.Event.Query().Where(entevent.MessageID(gid.ID(id)), entevent.Type("UPDATED")).CountX(r.sys())
	}
	refused := func(t *testing.T, mutation, id, code, reason string) {
		t.Helper()
		res := r.gql(r.tn.agentToken, `mutation($id: ID!) { `+mutation+`(id: $id) { id status } }`, map[string]any{"id": id})
		if res.code() != code || reason != "" && res.Errors[0].Extensions["reason"] != reason {
			t.Fatalf("%s: got %q %+v, want %s %s", mutation, res.code(), res.Errors, code, reason)
		}
	}

	t.Run("FailedAttemptsShowWhileQueued", func(t *testing.T) {
		r.zalo.FailNext(zalofake.SendMessage, 2, zalofake.Status(http.StatusInternalServerError))
		id := send("Đơn hàng đang giao")
		for attempt := 1; attempt <= 2; attempt++ {
			r.deliver()
			st := read(id).Node
			if st.Status != "QUEUED" || st.Attempts != attempt || st.LastError == nil || *st.LastError == "" ||
				st.NextAttemptAt == nil || !st.NextAttemptAt.After(r.clock.Now()) || st.FailureReason != nil {
				t.Fatalf("after attempt %d: %+v", attempt, st)
			}
			if n := updates(id); n != attempt {
				t.Fatalf("after attempt %d: %d UPDATED events", attempt, n)
			}
			r.clock.Set(*st.NextAttemptAt)
		}
		r.deliver()
		if st := read(id).Node; st.Status != "SENT" || st.Attempts != 3 || st.LastError != nil || st.NextAttemptAt != nil {
			t.Fatalf("after the third attempt: %+v", st)
		}
		if n := updates(id); n != 3 {
			t.Fatalf("%d UPDATED events, want 3", n)
		}
		refused(t, "retryMessage", id, "FAILED_PRECONDITION", inbox.ReasonMessageNotFailed)
		refused(t, "cancelMessage", id, "FAILED_PRECONDITION", inbox.ReasonMessageNotQueued)
	})

	t.Run("RetryAFailedReply", func(t *testing.T) {
		r.zalo.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-230))
		id := send("Anh còn quan tâm không ạ")
		r.deliver()
		if st := read(id).Node; st.Status != "FAILED" || st.LastError == nil || st.FailureReason == nil {
			t.Fatalf("after a permanent failure: %+v", st)
		}
		before := len(r.zalo.Sent())
		var out struct {
			RetryMessage struct {
				Status   string
				Attempts int
			}
		}
		r.must(r.tn.agentToken, `mutation($id: ID!) { retryMessage(id: $id) { status attempts } }`, map[string]any{"id": id}, &out)
		if out.RetryMessage.Status != "QUEUED" || out.RetryMessage.Attempts != 0 {
			t.Fatalf("retryMessage returned %+v", out.RetryMessage)
		}
		r.deliver()
		if st := read(id).Node; st.Status != "SENT" || st.FailureReason != nil || len(r.zalo.Sent()) != before+1 {
			t.Fatalf("after the retry: %+v, %d sends", st, len(r.zalo.Sent())-before)
		}
	})

	t.Run("CancelAQueuedReply", func(t *testing.T) {
		id := send("Gửi nhầm")
		var out struct{ CancelMessage struct{ Status string } }
		r.must(r.tn.agentToken, `mutation($id: ID!) { cancelMessage(id: $id) { status } }`, map[string]any{"id": id}, &out)
		if out.CancelMessage.Status != "CANCELLED" {
			t.Fatalf("cancelMessage returned %+v", out.CancelMessage)
		}
		before := len(r.zalo.Sent())
		r.deliver()
		if st := read(id).Node; st.Status != "CANCELLED" || len(r.zalo.Sent()) != before {
			t.Fatalf("a cancelled reply: %+v, %d sends", st, len(r.zalo.Sent())-before)
		}
		refused(t, "cancelMessage", id, "FAILED_PRECONDITION", inbox.ReasonMessageNotQueued)
		refused(t, "retryMessage", id, "FAILED_PRECONDITION", inbox.ReasonMessageNotFailed)
	})

	t.Run("NotWhileBeingSent", func(t *testing.T) {
		id := send("Đang gửi")
		// A worker's claim: the lease a delivery holds while it calls Zalo.
		r.db.Client.Message.UpdateOneID(gid.ID(id)).SetLeaseUntil(r.clock.Now().Add(time.Minute)).ExecX(r.sys())
		refused(t, "cancelMessage", id, "FAILED_PRECONDITION", inbox.ReasonDeliveryInProgress)
		r.clock.Set(r.clock.Now().Add(2 * time.Minute))
		r.deliver()
		if st := read(id).Node; st.Status != "SENT" {
			t.Fatalf("the reply whose cancel was refused: %+v", st)
		}
	})

	t.Run("InboundAndForeignAndReadOnly", func(t *testing.T) {
		inbound := r.db.Client.Message.Create().SetConversationID(r.oaConv).SetChannelID(r.oaID).
			SetDirection(message.DirectionINBOUND).SetText("Cho hỏi giá").SetStatus(message.StatusRECEIVED).
			SetSenderType(message.SenderTypeCUSTOMER).SaveX(r.sys())
		refused(t, "retryMessage", string(inbound.ID), "FAILED_PRECONDITION", inbox.ReasonMessageNotFailed)
		refused(t, "cancelMessage", string(inbound.ID), "FAILED_PRECONDITION", inbox.ReasonMessageNotQueued)
		id := send("Của tổ chức khác")
		other := r.newTenant("Foreign Delivery Org")
		for _, m := range []string{"retryMessage", "cancelMessage"} {
			res := r.gql(other.ownerToken, `mutation($id: ID!) { `+m+`(id: $id) { id } }`, map[string]any{"id": id})
			if res.code() != "NOT_FOUND" {
				t.Errorf("%s by another organization: %q %+v", m, res.code(), res.Errors)
			}
		}
		res := r.gql(r.createAPIKey(r.tn.ownerToken, "READ"), `mutation($id: ID!) { cancelMessage(id: $id) { id } }`, map[string]any{"id": id})
		if res.code() != "FORBIDDEN" {
			t.Errorf("cancelMessage with a READ key: %q %+v", res.code(), res.Errors)
		}
		if st := read(id).Node; st.Status != "QUEUED" {
			t.Errorf("refused cancels changed the message: %+v", st)
		}
	})
}

// replyOptions applies newReplyEnv's options to r.
func replyOptions(r *replyEnv, opts []func(*replyEnv) envOption) []envOption {
	out := make([]envOption, len(opts))
	for i, o := range opts {
		out[i] = o(r)
	}
	return out
}
