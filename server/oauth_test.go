package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/activity"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/oauthstate"
	"github.com/dakenh/dakenh/internal/connect"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// testAppURL is the frontend the callback sends the admin back to.
const testAppURL = "https://app.dakenh.test/settings/channels"

// withZaloApp configures the server's Zalo app as the fake's (the same app
// the webhook environment's pasted channel uses) and the webhook
// environment's clock.
func withZaloApp(w *webhookEnv) envOption {
	return func(c *Config, o *appOptions) {
		c.OAuth = OAuthConfig{
			ZaloAppID: testZaloAppID, ZaloAppSecret: "APP-SECRET-zalo-1", ZaloWebhookSecret: testZaloSecret,
			AppURL: testAppURL,
		}
		o.now = w.clock.Now
	}
}

// noRedirects is a client that stops at each redirect, as the test plays
// the browser step by step.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// startZalo runs startZaloConnect as the token's user.
func (w *webhookEnv) startZalo(token string) (consentURL, state string, expiresAt time.Time) {
	w.t.Helper()
	var out struct {
		StartZaloConnect struct {
			URL, State string
			ExpiresAt  time.Time
		}
	}
	w.must(token, `mutation($r: String!) { startZaloConnect(redirectUri: $r) { url state expiresAt } }`,
		map[string]any{"r": w.srv.URL + "/oauth/zalo/callback"}, &out)
	s := out.StartZaloConnect
	return s.URL, s.State, s.ExpiresAt
}

// get fetches u without following a redirect and returns its Location.
func (w *webhookEnv) location(u string) *url.URL {
	w.t.Helper()
	resp, err := noRedirects.Get(u)
	if err != nil {
		w.t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		w.t.Fatalf("GET %s: status %d, want a redirect", u, resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		w.t.Fatalf("GET %s: Location: %v", u, err)
	}
	return loc
}

// consent sends the admin's browser to Zalo's consent page and returns
// the callback URL Zalo sends it back to.
func (w *webhookEnv) consent(consentURL string) string {
	w.t.Helper()
	back := w.location(consentURL)
	if !strings.HasPrefix(back.String(), w.srv.URL+"/oauth/zalo/callback?") {
		w.t.Fatalf("consent redirected to %s, want the callback", back)
	}
	return back.String()
}

// callback follows the callback and returns the frontend's query: channel
// or error.
func (w *webhookEnv) callback(callbackURL string) url.Values {
	w.t.Helper()
	loc := w.location(callbackURL)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testAppURL {
		w.t.Fatalf("callback redirected to %s, want %s", loc, testAppURL)
	}
	return loc.Query()
}

// connectByOAuth runs the whole flow for the token's admin and returns the
// frontend's query.
func (w *webhookEnv) connectByOAuth(token string) url.Values {
	w.t.Helper()
	consentURL, _, _ := w.startZalo(token)
	return w.callback(w.consent(consentURL))
}

// channelsSnapshot is every channel, to check that a refused callback
// changed nothing.
func (w *webhookEnv) channelsSnapshot() []*ent.Channel {
	return w.db.Client.Channel.Query().Order(ent.Asc(channel.FieldID)).AllX(viewer.SystemContext(context.Background(), ""))
}

func TestZaloOAuthConnectsNewOA(t *testing.T) {
	w := newWebhookEnv(t, withZaloApp)
	const oaID = "4321000000000000099"
	w.zfake.AddOA(zalofake.OA{ID: oaID, Name: "Tiệm Bánh Mì OA"})
	w.zfake.RegisterRedirectURI(w.srv.URL + "/oauth/zalo/callback")
	w.zfake.Consent(oaID)

	consentURL, state, expiresAt := w.startZalo(w.tn.adminToken)
	cu, _ := url.Parse(consentURL)
	if cu.Path != "/v4/oa/permission" || cu.Query().Get("app_id") != testZaloAppID ||
		cu.Query().Get("state") != state || cu.Query().Get("code_challenge") == "" ||
		cu.Query().Get("redirect_uri") != w.srv.URL+"/oauth/zalo/callback" {
		t.Fatalf("consent URL %s is not docs/providers.md's", consentURL)
	}
	if want := w.clock.Now().Add(connect.StateTTL); !expiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", expiresAt, want)
	}
	// The state is stored only hashed.
	sys := viewer.SystemContext(context.Background(), "")
	if n := w.db.Client.OAuthState.Query().Where(oauthstate.StateHash(state)).CountX(sys); n != 0 {
		t.Errorf("the state is stored in clear")
	}

	callbackURL := w.consent(consentURL)
	q := w.callback(callbackURL)
	if q.Get("error") != "" || q.Get("channel") == "" {
		t.Fatalf("callback answered %v, want a channel", q)
	}
	ch := w.db.Client.Channel.GetX(sys, gid.ID(q.Get("channel")))
	switch {
	case ch.Kind != channel.KindZALO_OA || ch.ExternalID != oaID || ch.Name != "Tiệm Bánh Mì OA":
		t.Errorf("channel %s %s %q, want the consented OA", ch.Kind, ch.ExternalID, ch.Name)
	case ch.OrganizationID != w.org || string(ch.ConnectedByID) != w.tn.adminID:
		t.Errorf("channel in %s connected by %v, want %s by the admin %s", ch.OrganizationID, ch.ConnectedByID, w.org, w.tn.adminID)
	case ch.ChatPermission != channel.ChatPermissionONLY_ME || ch.Status != channel.StatusCONNECTED:
		t.Errorf("channel %s %s, want ONLY_ME CONNECTED", ch.ChatPermission, ch.Status)
	case ch.AppID != testZaloAppID || ch.AccessTokenExpiresAt == nil ||
		!ch.AccessTokenExpiresAt.Equal(w.clock.Now().Add(zalofake.TokenLifetime*time.Second)):
		t.Errorf("channel app %q expiring %v, want the server's app and the token's expiry", ch.AppID, ch.AccessTokenExpiresAt)
	}
	// The tokens are the ones the fake issued for the exchanged code, and
	// the webhooks of the OA verify with the app's secret.
	creds, err := w.app.inbox.Open(ch)
	if err != nil {
		t.Fatal(err)
	}
	issued := w.zfake.OA(oaID)
	if creds.AccessToken != issued.AccessToken || creds.RefreshToken != issued.RefreshToken || creds.WebhookSecret != testZaloSecret {
		t.Errorf("stored credentials are not the exchanged tokens and the app's webhook secret")
	}
	// The fake checked S256(code_verifier) == code_challenge; the verifier
	// went only to the token endpoint.
	var exchanged bool
	for _, r := range w.zfake.Requests() {
		if r.Path == string(zalofake.AccessToken) && strings.Contains(string(r.Body), "grant_type=authorization_code") {
			exchanged = true
		}
	}
	if !exchanged {
		t.Errorf("no code exchange reached the token endpoint")
	}
	a := w.db.Client.Activity.Query().
		Where(activity.Action("CHANNEL_CONNECTED"), activity.SubjectID(ch.ID)).OnlyX(viewer.SystemContext(context.Background(), w.org))
	if a.Details["via"] != "oauth" || a.Details["reconnected"] != false || a.ActorID == nil || string(*a.ActorID) != w.tn.adminID {
		t.Errorf("activity entry %v by %v, want an OAuth connection by the admin", a.Details, a.ActorID)
	}
	// The state is spent: replaying the callback changes nothing.
	before := w.channelsSnapshot()
	if q := w.callback(callbackURL); q.Get("error") != connect.ErrInvalidState || q.Get("channel") != "" {
		t.Errorf("replayed callback answered %v, want error=%s", q, connect.ErrInvalidState)
	}
	if after := w.channelsSnapshot(); len(after) != len(before) || !after[len(after)-1].LastConnectedAt.Equal(before[len(before)-1].LastConnectedAt) {
		t.Errorf("a replayed callback changed the channels")
	}
	// Tokens never leave the server: not in a redirect, not in the log.
	log := w.logText()
	for _, secret := range []string{issued.AccessToken, issued.RefreshToken, "APP-SECRET-zalo-1"} {
		if strings.Contains(log, secret) || strings.Contains(callbackURL, secret) {
			t.Errorf("a secret leaked into the log or a redirect")
		}
	}
	if strings.Contains(log, state) {
		t.Errorf("the state leaked into the log")
	}
}

func TestZaloOAuthReconnectKeepsHistory(t *testing.T) {
	w := newWebhookEnv(t, withZaloApp)
	// The pasted channel has a conversation, a shared chat permission and
	// a description; its token then stops working.
	w.sendZalo(w.userEvent("user_send_text", "u-keep", map[string]any{"msg_id": w.msgID("k"), "text": "Xin chào"}))
	w.process()
	w.must(w.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": w.oa.ID}, nil)
	sys := w.sys()
	w.db.Client.Channel.UpdateOneID(w.oa.ID).SetDescription("Kênh bán hàng").ExecX(viewer.SystemContext(context.Background(), ""))
	before := w.db.Client.Channel.GetX(sys, w.oa.ID)
	convs := w.db.Client.Conversation.Query().Where(conversation.ChannelID(w.oa.ID)).CountX(sys)
	if convs != 1 {
		t.Fatalf("%d conversations before the reconnect, want 1", convs)
	}
	w.zfake.ExpireToken(testOAID)
	w.zfake.Consent(testOAID)
	w.clock.Advance(time.Hour)

	q := w.connectByOAuth(w.tn.ownerToken)
	if q.Get("channel") != string(w.oa.ID) {
		t.Fatalf("callback answered %v, want the existing channel %s", q, w.oa.ID)
	}
	after := w.db.Client.Channel.GetX(sys, w.oa.ID)
	switch {
	case after.ChatPermission != channel.ChatPermissionSHARED || after.Description != "Kênh bán hàng" || after.Published != before.Published:
		t.Errorf("reconnect changed the settings: %s %q %v", after.ChatPermission, after.Description, after.Published)
	case after.ConnectedByID != before.ConnectedByID:
		t.Errorf("reconnect changed who connected the channel")
	case !after.LastConnectedAt.After(before.LastConnectedAt):
		t.Errorf("lastConnectedAt did not move")
	}
	if n := w.db.Client.Conversation.Query().Where(conversation.ChannelID(w.oa.ID)).CountX(sys); n != convs {
		t.Errorf("%d conversations after the reconnect, want %d", n, convs)
	}
	creds, _ := w.app.inbox.Open(after)
	if creds.AccessToken != w.zfake.OA(testOAID).AccessToken {
		t.Errorf("the reconnect did not store the new token")
	}
	if n := w.db.Client.Activity.Query().Where(activity.Action("CHANNEL_CONNECTED"), activity.SubjectID(w.oa.ID)).CountX(sys); n != 2 {
		t.Errorf("%d connection entries, want the paste and the reconnect", n)
	}
}

func TestZaloOAuthRefusals(t *testing.T) {
	w := newWebhookEnv(t, withZaloApp)
	const oaID = "4321000000000000077"
	w.zfake.AddOA(zalofake.OA{ID: oaID})

	// Each case leaves the channels as they were and answers its code.
	for _, c := range []struct {
		name string
		run  func() url.Values
		want string
	}{
		{"ExpiredState", func() url.Values {
			w.zfake.Consent(oaID)
			consentURL, _, _ := w.startZalo(w.tn.adminToken)
			back := w.consent(consentURL)
			w.clock.Advance(connect.StateTTL)
			return w.callback(back)
		}, connect.ErrExpiredState},
		{"ExpiredStateIsSpent", func() url.Values {
			w.zfake.Consent(oaID)
			consentURL, _, _ := w.startZalo(w.tn.adminToken)
			back := w.consent(consentURL)
			w.clock.Advance(connect.StateTTL + time.Second)
			w.callback(back)
			w.clock.Set(w.clock.Now().Add(-connect.StateTTL - time.Second))
			return w.callback(back)
		}, connect.ErrInvalidState},
		{"UnknownState", func() url.Values {
			return w.callback(w.srv.URL + "/oauth/zalo/callback?code=code-x&oa_id=" + oaID + "&state=forged")
		}, connect.ErrInvalidState},
		{"NoState", func() url.Values {
			return w.callback(w.srv.URL + "/oauth/zalo/callback?code=code-x&oa_id=" + oaID)
		}, connect.ErrInvalidState},
		{"DeniedConsent", func() url.Values {
			w.zfake.Consent("")
			consentURL, _, _ := w.startZalo(w.tn.adminToken)
			return w.callback(w.consent(consentURL))
		}, connect.ErrAccessDenied},
		{"CodeForAnotherVerifier", func() url.Values {
			// A code the admin's consent did not issue for this
			// attempt's challenge: the fake refuses the exchange.
			_, state, _ := w.startZalo(w.tn.adminToken)
			code := w.zfake.AuthorizationCode(oaID, "someone else's verifier")
			return w.callback(w.srv.URL + "/oauth/zalo/callback?" + url.Values{"code": {code}, "oa_id": {oaID}, "state": {state}}.Encode())
		}, connect.ErrTokenExchange},
		{"TokenEndpointDown", func() url.Values {
			w.zfake.Consent(oaID)
			consentURL, _, _ := w.startZalo(w.tn.adminToken)
			back := w.consent(consentURL)
			w.zfake.FailNext(zalofake.AccessToken, 1, zalofake.Status(http.StatusBadGateway))
			return w.callback(back)
		}, connect.ErrProvider},
		{"AdminDemoted", func() url.Values {
			w.zfake.Consent(oaID)
			consentURL, _, _ := w.startZalo(w.tn.adminToken)
			back := w.consent(consentURL)
			w.db.Client.User.UpdateOneID(gid.ID(w.tn.adminID)).SetRole(viewer.RoleAgent).ExecX(w.sys())
			defer w.db.Client.User.UpdateOneID(gid.ID(w.tn.adminID)).SetRole(viewer.RoleAdmin).ExecX(w.sys())
			return w.callback(back)
		}, connect.ErrForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := w.channelsSnapshot()
			q := c.run()
			if q.Get("error") != c.want || q.Get("channel") != "" {
				t.Errorf("callback answered %v, want error=%s", q, c.want)
			}
			if after := w.channelsSnapshot(); len(after) != len(before) {
				t.Errorf("%d channels after, want %d", len(after), len(before))
			}
		})
	}
}

func TestZaloOAuthAcrossTenants(t *testing.T) {
	w := newWebhookEnv(t, withZaloApp)
	other := w.newTenant("Other OAuth Org")
	sys := viewer.SystemContext(context.Background(), "")
	before := w.db.Client.Channel.GetX(sys, w.oa.ID)

	// Another organization's admin consents with the OA this one holds:
	// refused, and the holder's channel keeps its tokens.
	w.zfake.Consent(testOAID)
	if q := w.connectByOAuth(other.adminToken); q.Get("error") != connect.ErrConflict {
		t.Errorf("callback answered %v, want error=%s", q, connect.ErrConflict)
	}
	after := w.db.Client.Channel.GetX(sys, w.oa.ID)
	if string(after.AccessToken) != string(before.AccessToken) || after.OrganizationID != w.org {
		t.Errorf("a refused cross-tenant consent changed the holder's channel")
	}

	// A state is bound to the organization that started it: the other
	// tenant's new OA lands in the other tenant, connected by its admin.
	const oaID = "4321000000000000055"
	w.zfake.AddOA(zalofake.OA{ID: oaID})
	w.zfake.Consent(oaID)
	q := w.connectByOAuth(other.adminToken)
	ch := w.db.Client.Channel.GetX(sys, gid.ID(q.Get("channel")))
	if ch.OrganizationID == w.org || string(ch.ConnectedByID) != other.adminID {
		t.Errorf("the other tenant's OA landed in %s by %v", ch.OrganizationID, ch.ConnectedByID)
	}
	// Its admin sees it; this tenant's admin does not.
	if r := w.gql(w.tn.adminToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ch.ID}); r.code() != "NOT_FOUND" {
		t.Errorf("another tenant's OAuth channel: %s, want NOT_FOUND", r.code())
	}
	var own struct{ Node *struct{ ID string } }
	w.must(other.adminToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ch.ID}, &own)
	if own.Node == nil || own.Node.ID != string(ch.ID) {
		t.Errorf("the other tenant does not see its OAuth channel")
	}

	// Agents cannot start an attempt.
	r := w.gql(w.tn.agentToken, `mutation($r: String!) { startZaloConnect(redirectUri: $r) { url } }`,
		map[string]any{"r": w.srv.URL + "/oauth/zalo/callback"})
	if r.code() != "FORBIDDEN" {
		t.Errorf("agent's startZaloConnect: %s, want FORBIDDEN", r.code())
	}
}

func TestZaloOAuthNotConfigured(t *testing.T) {
	// The pasted channel of the webhook environment works without any app.
	w := newWebhookEnv(t)
	r := w.gql(w.tn.adminToken, `mutation($r: String!) { startZaloConnect(redirectUri: $r) { url } }`,
		map[string]any{"r": w.srv.URL + "/oauth/zalo/callback"})
	if r.code() != "FAILED_PRECONDITION" || len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != connect.NotConfigured {
		t.Errorf("startZaloConnect without an app: %+v, want FAILED_PRECONDITION NOT_CONFIGURED", r.Errors)
	}
	resp, err := noRedirects.Get(w.srv.URL + "/oauth/zalo/callback?code=c&state=s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("callback without an app: status %d, want 503", resp.StatusCode)
	}
	w.sendZalo(w.userEvent("user_send_text", "u-paste", map[string]any{"msg_id": w.msgID("p"), "text": "hi"}))
	if n := w.process(); n != 1 {
		t.Errorf("the pasted channel processed %d events, want 1", n)
	}
}
