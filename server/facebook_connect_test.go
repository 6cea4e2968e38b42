package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/activity"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/internal/connect"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The server's Facebook app in these tests.
const (
	fbAppID          = "fb-app-1"
	fbAppSecret      = "FB-APP-SECRET-1"
	fbAppVerifyToken = "FB-VERIFY-TOKEN-1"
	// fbUser is the short-lived token Facebook Login gave the frontend.
	fbUser = "EAA-short-user-1"
)

// withFacebookApp configures the server's Facebook app as the fake's, the
// frontend and the webhook environment's clock.
func withFacebookApp(w *webhookEnv) envOption {
	w.fbfake.SetApp(fbAppID, fbAppSecret)
	return func(c *Config, o *appOptions) {
		c.OAuth = OAuthConfig{
			FacebookAppID: fbAppID, FacebookAppSecret: fbAppSecret, FacebookVerifyToken: fbAppVerifyToken,
			AppURL: testAppURL,
		}
		o.now = w.clock.Now
		o.inbox.Now = w.clock.Now
	}
}

// fbPagesEnv is a webhook environment with the server's Facebook app and
// a Facebook user who administers pages fb-1, fb-2 and fb-3 and moderates
// fb-4, listed two per /me/accounts answer.
type fbPagesEnv struct{ *webhookEnv }

func newFBPagesEnv(t *testing.T) *fbPagesEnv {
	w := newWebhookEnv(t, withFacebookApp)
	w.fbfake.AddUser(fbUser,
		fbfake.UserPage{ID: "fb-1", Name: "Bánh Mì Hoa Lan", Token: "EAA-page-fb-1", Tasks: fbfake.AdminTasks},
		fbfake.UserPage{ID: "fb-2", Name: "Trà Sữa Hoa Lan", Token: "EAA-page-fb-2", Tasks: fbfake.AdminTasks},
		fbfake.UserPage{ID: "fb-3", Name: "Hoa Lan Outlet", Token: "EAA-page-fb-3", Tasks: fbfake.AdminTasks},
		fbfake.UserPage{ID: "fb-4", Name: "Someone Else's Page", Token: "EAA-page-fb-4", Tasks: []string{"ANALYZE", "MODERATE"}},
	)
	w.fbfake.SetPageSize(2)
	return &fbPagesEnv{w}
}

const facebookPagesQuery = `query($t: String!) { facebookPages(userAccessToken: $t) {
	pageId name connected connectionStatus channel { id } } }`

const connectPagesMutation = `mutation($in: ConnectFacebookPagesInput!) { connectFacebookPages(input: $in) {
	id name externalId chatPermission connectionStatus mine lastConnectedAt } }`

type fbPageOut struct {
	PageID, Name     string
	Connected        bool
	ConnectionStatus string
	Channel          *struct{ ID gid.ID }
}

type connectedOut struct {
	ID                                                 gid.ID
	Name, ExternalID, ChatPermission, ConnectionStatus string
	Mine                                               bool
	LastConnectedAt                                    time.Time
}

// pages lists the user's pages as the token's admin.
func (f *fbPagesEnv) pages(token, userToken string) []fbPageOut {
	f.t.Helper()
	var out struct{ FacebookPages []fbPageOut }
	f.must(token, facebookPagesQuery, map[string]any{"t": userToken}, &out)
	return out.FacebookPages
}

// connectPages connects pageIDs and returns the channels and the errors'
// field → code/reason.
func (f *fbPagesEnv) connectPages(token, userToken string, perm string, pageIDs ...string) ([]connectedOut, map[string]string) {
	f.t.Helper()
	in := map[string]any{"userAccessToken": userToken, "pageIds": pageIDs}
	if perm != "" {
		in["chatPermission"] = perm
	}
	r := f.gql(token, connectPagesMutation, map[string]any{"in": in})
	errs := map[string]string{}
	for _, e := range r.Errors {
		field, _ := e.Extensions["field"].(string)
		code, _ := e.Extensions["code"].(string)
		reason, _ := e.Extensions["reason"].(string)
		errs[field] = strings.TrimSuffix(code+"/"+reason, "/")
	}
	var out struct{ ConnectFacebookPages []connectedOut }
	r.Errors = nil
	r.decode(f.t, &out)
	return out.ConnectFacebookPages, errs
}

// channelOf re-reads the organization's channel of a page.
func (f *fbPagesEnv) channelOf(pageID string) *ent.Channel {
	f.t.Helper()
	return f.db.Client.Channel.Query().
		Where(channel.KindEQ(channel.KindFACEBOOK_PAGE), channel.ExternalID(pageID)).
		OnlyX(viewer.SystemContext(context.Background(), ""))
}

// deliver runs the delivery worker until nothing is due.
func (f *fbPagesEnv) deliver() {
	f.t.Helper()
	for range 50 {
		n, err := f.app.inbox.DeliverDue(context.Background())
		if err != nil {
			f.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	f.t.Fatal("the worker kept finding work")
}

// runTimers moves the clock by d and runs the timers that came due.
func (f *fbPagesEnv) runTimers(d time.Duration) {
	f.t.Helper()
	f.clock.Advance(d)
	if _, err := f.app.timers.RunDue(context.Background()); err != nil {
		f.t.Fatalf("RunDue: %v", err)
	}
}

func TestFacebookPagesListing(t *testing.T) {
	f := newFBPagesEnv(t)

	t.Run("OK", func(t *testing.T) {
		// Two pages per answer: the listing follows the cursors, and the
		// page the user only moderates is not offered.
		got := f.pages(f.tn.adminToken, fbUser)
		want := []fbPageOut{
			{PageID: "fb-1", Name: "Bánh Mì Hoa Lan", ConnectionStatus: "NOT_CONNECTED"},
			{PageID: "fb-2", Name: "Trà Sữa Hoa Lan", ConnectionStatus: "NOT_CONNECTED"},
			{PageID: "fb-3", Name: "Hoa Lan Outlet", ConnectionStatus: "NOT_CONNECTED"},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages = %+v, want %+v", got, want)
		}
	})
	for _, tc := range []struct {
		name, token, userToken, code, field string
	}{
		{"ErrAgent", f.tn.agentToken, fbUser, "FORBIDDEN", ""},
		{"ErrRefusedUserToken", f.tn.adminToken, "EAA-not-a-user", "BAD_USER_INPUT", "userAccessToken"},
		{"ErrBlankUserToken", f.tn.adminToken, " ", "BAD_USER_INPUT", "userAccessToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.gql(tc.token, facebookPagesQuery, map[string]any{"t": tc.userToken})
			if r.code() != tc.code || (tc.field != "" && r.Errors[0].Extensions["field"] != tc.field) {
				t.Fatalf("got %q %+v, want %s", r.code(), r.Errors, tc.code)
			}
			if strings.Contains(string(r.Data)+f.logText(), "EAA-not-a-user") {
				t.Errorf("the refused token is in the answer or the log")
			}
		})
	}
	t.Run("ErrNotConfigured", func(t *testing.T) {
		w := newWebhookEnv(t)
		r := w.gql(w.tn.adminToken, facebookPagesQuery, map[string]any{"t": fbUser})
		if r.code() != "FAILED_PRECONDITION" || r.Errors[0].Extensions["reason"] != connect.NotConfigured {
			t.Fatalf("got %q %+v", r.code(), r.Errors)
		}
	})
}

// TestFacebookConnectPages: one call connects the pages that can be, and
// says per page why the others could not, changing nothing for them.
func TestFacebookConnectPages(t *testing.T) {
	f := newFBPagesEnv(t)
	f.fbfake.FailSubscribe("fb-3", fbfake.GraphError(200, 0))
	before := f.clock.Now()

	chans, errs := f.connectPages(f.tn.adminToken, fbUser, "SHARED", "fb-1", "fb-3", "fb-4", "fb-1")
	if len(chans) != 1 {
		t.Fatalf("connected %+v, want fb-1 only", chans)
	}
	c := chans[0]
	if c.ExternalID != "fb-1" || c.Name != "Bánh Mì Hoa Lan" || c.ChatPermission != "SHARED" || c.ConnectionStatus != "CONNECTED" ||
		!c.Mine || !c.LastConnectedAt.Equal(before) {
		t.Errorf("channel = %+v", c)
	}
	wantErrs := map[string]string{
		"pageIds.fb-3": "FAILED_PRECONDITION/" + connect.ReasonProviderRefused,
		"pageIds.fb-4": "FORBIDDEN/" + connect.ReasonNotPageAdmin,
	}
	if len(errs) != len(wantErrs) {
		t.Errorf("errors = %v, want %v", errs, wantErrs)
	}
	for k, v := range wantErrs {
		if errs[k] != v {
			t.Errorf("errors = %v, want %v", errs, wantErrs)
		}
	}
	// The app is subscribed to fb-1's messaging webhooks, and fb-1 alone
	// has a channel.
	if fields := f.fbfake.Subscription("fb-1"); !slices.Contains(fields, "messages") || !slices.Contains(fields, "message_echoes") {
		t.Errorf("fb-1 subscribed to %v", fields)
	}
	n := f.db.Client.Channel.Query().Where(channel.ExternalIDIn("fb-3", "fb-4")).CountX(f.sys())
	if n != 0 || f.fbfake.Subscription("fb-4") != nil {
		t.Errorf("%d channels for the pages that failed", n)
	}
	ch := f.channelOf("fb-1")
	creds, err := f.app.inbox.Open(ch)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessToken != "EAA-page-fb-1" || creds.AppSecret != fbAppSecret || creds.WebhookSecret != fbAppVerifyToken || ch.AppID != fbAppID {
		t.Errorf("stored the wrong credentials (app %q)", ch.AppID)
	}
	if strings.Contains(f.logText(), "EAA-") {
		t.Errorf("a token is in the log")
	}
	// The listing now says so.
	if got := f.pages(f.tn.adminToken, fbUser)[0]; !got.Connected || got.ConnectionStatus != "CONNECTED" || got.Channel == nil || got.Channel.ID != ch.ID {
		t.Errorf("listed %+v", got)
	}
	// A page subscription check is pending.
	if tm := f.db.Client.Timer.Query().Where(enttimer.Kind("facebook.subscription_check"), enttimer.Key(string(ch.ID))).OnlyX(f.sys()); !tm.DueAt.Equal(before.Add(connect.SubscriptionCheckEvery)) {
		t.Errorf("check due %s", tm.DueAt)
	}
	// Messenger's webhooks for the page are signed with the app's secret.
	body, sig := f.fbfake.SignedWebhook(fbAppSecret, fbMessage("fb-1", "psid-9", f.msgID("m"), "Còn bánh không shop?", f.clock.Now()))
	if status := f.postFacebook(body, sig); status != http.StatusOK {
		t.Fatalf("webhook status %d", status)
	}
	f.process()
	if n := f.db.Client.Conversation.Query().Where(conversation.ChannelID(ch.ID)).CountX(f.sys()); n != 1 {
		t.Errorf("%d conversations on the page", n)
	}

	for _, tc := range []struct {
		name, token string
		in          map[string]any
		code, field string
	}{
		{"ErrAgent", f.tn.agentToken, map[string]any{"userAccessToken": fbUser, "pageIds": []string{"fb-2"}}, "FORBIDDEN", ""},
		{"ErrNoPages", f.tn.adminToken, map[string]any{"userAccessToken": fbUser, "pageIds": []string{}}, "BAD_USER_INPUT", "pageIds"},
		{"ErrBlankPage", f.tn.adminToken, map[string]any{"userAccessToken": fbUser, "pageIds": []string{" "}}, "BAD_USER_INPUT", "pageIds"},
		{"ErrRefusedUserToken", f.tn.adminToken, map[string]any{"userAccessToken": "EAA-nobody", "pageIds": []string{"fb-2"}}, "BAD_USER_INPUT", "userAccessToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.gql(tc.token, connectPagesMutation, map[string]any{"in": tc.in})
			if r.code() != tc.code || (tc.field != "" && r.Errors[0].Extensions["field"] != tc.field) {
				t.Fatalf("got %q %+v, want %s", r.code(), r.Errors, tc.code)
			}
			if f.db.Client.Channel.Query().Where(channel.ExternalID("fb-2")).ExistX(f.sys()) {
				t.Fatalf("fb-2 was connected")
			}
		})
	}
	t.Run("AnotherOrganizationsPage", func(t *testing.T) {
		other := f.newTenant("Other Org")
		// Listed as not connected, without the other organization's channel.
		if got := f.pages(other.adminToken, fbUser)[0]; got.Connected || got.ConnectionStatus != "NOT_CONNECTED" || got.Channel != nil {
			t.Errorf("listed %+v", got)
		}
		chans, errs := f.connectPages(other.adminToken, fbUser, "", "fb-1")
		if len(chans) != 0 || errs["pageIds.fb-1"] != "CONFLICT" {
			t.Errorf("connected %+v, errors %v; want CONFLICT", chans, errs)
		}
		if got := f.channelOf("fb-1"); got.OrganizationID != f.org {
			t.Errorf("the page moved to another organization")
		}
	})
}

// TestFacebookConnectionLost: Facebook's code 190 loses the page's
// connection, with a channel event and an activity entry; the reply waits
// for the reconnect, which clears the loss and moves lastConnectedAt.
func TestFacebookConnectionLost(t *testing.T) {
	f := newFBPagesEnv(t)
	chans, errs := f.connectPages(f.tn.adminToken, fbUser, "SHARED", "fb-1")
	if len(chans) != 1 || len(errs) != 0 {
		t.Fatalf("connect: %+v %v", chans, errs)
	}
	chID := chans[0].ID
	body, sig := f.fbfake.SignedWebhook(fbAppSecret, fbMessage("fb-1", "psid-9", f.msgID("m"), "Shop ơi", f.clock.Now()))
	if status := f.postFacebook(body, sig); status != http.StatusOK {
		t.Fatalf("webhook status %d", status)
	}
	f.process()
	conv := f.db.Client.Conversation.Query().Where(conversation.ChannelID(chID)).OnlyX(f.sys())

	f.fbfake.RevokePage("fb-1")
	seq := f.lastSeq()
	var sent struct{ SendMessage struct{ ID gid.ID } }
	f.must(f.tn.adminToken, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"conversationId": conv.ID, "text": "Dạ còn ạ"}}, &sent)
	f.deliver()

	status := func() string {
		var out struct {
			Node struct{ ConnectionStatus string }
		}
		f.must(f.tn.adminToken, `query($id: ID!) { node(id: $id) { ... on Channel { connectionStatus } } }`, map[string]any{"id": chID}, &out)
		return out.Node.ConnectionStatus
	}
	if got := status(); got != "CONNECTION_LOST" {
		t.Fatalf("connectionStatus %s, want CONNECTION_LOST", got)
	}
	if m := f.db.Client.Message.GetX(f.sys(), sent.SendMessage.ID); m.Status != message.StatusQUEUED {
		t.Errorf("the reply is %s, want QUEUED for the reconnect", m.Status)
	}
	evs, _ := f.eventsAfter(seq)
	if !slices.ContainsFunc(evs, func(e logEntry) bool { return e.Topic == "CHANNEL" && e.Type == "DISCONNECTED" }) {
		t.Errorf("events %+v, want a CHANNEL DISCONNECTED", evs)
	}
	a := f.db.Client.Activity.Query().Where(activity.Action("CHANNEL_CONNECTION_LOST"), activity.ChannelID(chID)).OnlyX(f.sys())
	if a.ActorID != nil {
		t.Errorf("the loss has an actor")
	}
	// The listing shows it lost too.
	if got := f.pages(f.tn.adminToken, fbUser)[0]; got.Connected || got.ConnectionStatus != "CONNECTION_LOST" {
		t.Errorf("listed %+v", got)
	}

	// Reconnected with the page's new token: CONNECTED again, and the
	// reply goes out.
	f.clock.Advance(time.Hour)
	f.fbfake.AddUser("EAA-short-user-2", fbfake.UserPage{ID: "fb-1", Name: "Bánh Mì Hoa Lan", Token: "EAA-page-fb-1-new", Tasks: fbfake.AdminTasks})
	chans, errs = f.connectPages(f.tn.adminToken, "EAA-short-user-2", "", "fb-1")
	if len(chans) != 1 || len(errs) != 0 || chans[0].ID != chID || chans[0].ConnectionStatus != "CONNECTED" ||
		!chans[0].LastConnectedAt.Equal(f.clock.Now()) || chans[0].ChatPermission != "SHARED" {
		t.Fatalf("reconnect: %+v %v", chans, errs)
	}
	if ch := f.channelOf("fb-1"); ch.ConnectionLostAt != nil || ch.Status != channel.StatusCONNECTED {
		t.Errorf("still lost: %s %v", ch.Status, ch.ConnectionLostAt)
	}
	f.clock.Advance(time.Hour)
	f.deliver()
	if m := f.db.Client.Message.GetX(f.sys(), sent.SendMessage.ID); m.Status != message.StatusSENT {
		t.Errorf("after the reconnect the reply is %s, want SENT", m.Status)
	}
	if s := f.fbfake.Sent(); len(s) != 1 || s[0].PageID != "fb-1" || s[0].Text != "Dạ còn ạ" {
		t.Errorf("sent %+v", s)
	}
}

// TestFacebookUnsubscribedPage: the periodic check notices a page whose
// subscription was removed on Facebook's side and loses its connection;
// a page still subscribed stays CONNECTED.
func TestFacebookUnsubscribedPage(t *testing.T) {
	f := newFBPagesEnv(t)
	if chans, errs := f.connectPages(f.tn.adminToken, fbUser, "", "fb-1", "fb-2"); len(chans) != 2 || len(errs) != 0 {
		t.Fatalf("connect: %+v %v", chans, errs)
	}
	f.fbfake.Unsubscribe("fb-2")

	f.runTimers(connect.SubscriptionCheckEvery)

	if ch := f.channelOf("fb-1"); connect.Status(ch) != connect.StatusConnected {
		t.Errorf("fb-1 is %s", connect.Status(ch))
	}
	lost := f.channelOf("fb-2")
	if connect.Status(lost) != connect.StatusConnectionLost || !strings.Contains(lost.StatusReason, "subscription was removed") {
		t.Fatalf("fb-2 is %s (%q), want CONNECTION_LOST", connect.Status(lost), lost.StatusReason)
	}
	if !f.db.Client.Activity.Query().Where(activity.Action("CHANNEL_CONNECTION_LOST"), activity.ChannelID(lost.ID)).ExistX(f.sys()) {
		t.Errorf("no activity entry")
	}
	// fb-1 is checked again later; the lost page's next check finds it
	// lost and schedules no other, until it is reconnected.
	f.runTimers(connect.SubscriptionCheckEvery)
	keys := f.db.Client.Timer.Query().Where(enttimer.Kind("facebook.subscription_check")).Select(enttimer.FieldKey).StringsX(f.sys())
	if !slices.Equal(keys, []string{string(f.channelOf("fb-1").ID)}) {
		t.Errorf("pending checks %v", keys)
	}
	// A start-up schedules no check for a lost page either.
	if err := f.app.connect.EnsureSubscriptionChecks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.db.Client.Timer.Query().Where(enttimer.Kind("facebook.subscription_check")).CountX(f.sys()); n != 1 {
		t.Errorf("%d pending checks", n)
	}
}

// TestChannelsMineAndShared: connectedByMe true is "Trang của tôi", false
// the SHARED channels others connected in a rule or department the viewer
// belongs to ("Được chia sẻ với tôi").
func TestChannelsMineAndShared(t *testing.T) {
	f := newFBPagesEnv(t)
	chans, _ := f.connectPages(f.tn.adminToken, fbUser, "SHARED", "fb-1", "fb-2")
	ruled, unruled := chans[0].ID, chans[1].ID
	f.must(f.tn.adminToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Bánh mì", "channelIds": []gid.ID{ruled}, "agentIds": []string{f.tn.agentID}, "method": "ROUND_ROBIN",
	}}, nil)

	list := func(token string, mine bool) []string {
		t.Helper()
		var out struct {
			Channels struct {
				Edges []struct{ Node struct{ ExternalID string } }
			}
		}
		f.must(token, `query($m: Boolean!) { channels(where: {connectedByMe: $m}) { edges { node { externalId } } } }`, map[string]any{"m": mine}, &out)
		var ids []string
		for _, e := range out.Channels.Edges {
			ids = append(ids, e.Node.ExternalID)
		}
		sort.Strings(ids)
		return ids
	}
	for _, tc := range []struct {
		name, token string
		mine        bool
		want        []string
	}{
		// The admin connected the webhook environment's OA and both pages.
		{"AdminMine", f.tn.adminToken, true, []string{testOAID, "fb-1", "fb-2"}},
		{"AdminShared", f.tn.adminToken, false, nil},
		// The agent connected nothing; fb-1 is in their rule. fb-2 is in no
		// rule and the organization has no default department.
		{"AgentMine", f.tn.agentToken, true, nil},
		{"AgentShared", f.tn.agentToken, false, []string{"fb-1"}},
		// The owner connected the environment's pasted page, which is
		// ONLY_ME; neither page is in a rule of theirs.
		{"OwnerMine", f.tn.ownerToken, true, []string{testPageID}},
		{"OwnerShared", f.tn.ownerToken, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.token, tc.mine); !slices.Equal(got, tc.want) {
				t.Errorf("channels = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("DefaultDepartment", func(t *testing.T) {
		f.must(f.tn.adminToken, `mutation($in: CreateDepartmentInput!) { createDepartment(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"name": "CSKH", "agentIds": []string{f.tn.agentID}, "method": "BROADCAST", "isDefault": true,
		}}, nil)
		if got := list(f.tn.agentToken, false); !slices.Equal(got, []string{"fb-1", "fb-2"}) {
			t.Errorf("channels = %v, want fb-1 (rule) and fb-2 (default department)", got)
		}
	})
	t.Run("Mine", func(t *testing.T) {
		q := `query($id: ID!) { node(id: $id) { ... on Channel { mine } } }`
		for token, want := range map[string]bool{f.tn.adminToken: true, f.tn.agentToken: false, f.tn.apiKey: false} {
			var out struct{ Node struct{ Mine bool } }
			f.must(token, q, map[string]any{"id": unruled}, &out)
			if out.Node.Mine != want {
				t.Errorf("mine = %v, want %v", out.Node.Mine, want)
			}
		}
	})
	t.Run("ErrAPIKeyFilter", func(t *testing.T) {
		r := f.gql(f.tn.apiKey, `{ channels(where: {connectedByMe: true}) { totalCount } }`, nil)
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("got %q %+v", r.code(), r.Errors)
		}
	})
}

// TestFacebookAppVerification: Facebook verifies the app's webhook URL
// with FACEBOOK_VERIFY_TOKEN before any page is connected.
func TestFacebookAppVerification(t *testing.T) {
	f := newFBPagesEnv(t)
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"OK", fbAppVerifyToken, http.StatusOK},
		{"ErrWrongToken", "not-the-token", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {tc.token}, "hub.challenge": {"1158201444"}}
			resp, err := f.srv.Client().Get(f.srv.URL + "/webhooks/facebook?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.status == http.StatusOK && string(body) != "1158201444") {
				t.Errorf("status %d body %q", resp.StatusCode, body)
			}
		})
	}
}
