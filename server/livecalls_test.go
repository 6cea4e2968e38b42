package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/viewer"
)

// liveEnv is a server on a test clock with a LiveTalk channel (SHARED, in
// no rule, offering audio and video calls) and one visitor's conversation
// on it. The clock shows Monday 2026-12-07, 10:00 in Vietnam.
type liveEnv struct {
	*env
	t     testing.TB
	clock *clocktest.Clock
	tn    *tenant
	org   gid.ID
	ch    gid.ID
	conv  gid.ID
}

const (
	testTurnSecret = "turn-shared-secret-for-tests"
	liveQuota      = 3
)

func newLiveEnv(t testing.TB) *liveEnv {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	e := newEnv(t, func(c *Config, o *appOptions) {
		o.now = clock.Now
		c.CallMinutesQuota = liveQuota
		c.LiveCalls = livecall.Config{
			RingTimeout: 30 * time.Second,
			MaxDuration: 10 * time.Minute,
			StunURLs:    []string{"stun:stun.dakenh.test:3478"},
			TurnURLs:    []string{"turn:turn.dakenh.test:3478?transport=udp", "turns:turn.dakenh.test:5349"},
			TurnSecret:  []byte(testTurnSecret),
		}
	})
	l := &liveEnv{env: e, t: t, clock: clock, tn: e.newTenant("LiveTalk Org")}
	l.org = orgOf(t, e, l.tn)
	sys := l.sys()
	ch := e.db.Client.Channel.Create().SetKind(channel.KindLIVETALK).SetExternalID(fmt.Sprint("lt-", time.Now().UnixNano())).
		SetName("Website").SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(l.tn.ownerID)).
		SetLastConnectedAt(clock.Now()).SaveX(sys)
	l.ch = ch.ID
	// The widget offers both kinds of call (chat only by default).
	e.must(l.tn.adminToken, updateLiveTalkMutation, map[string]any{"c": ch.ID, "in": map[string]any{"functions": []string{"AUDIO", "VIDEO"}}}, nil)
	l.conv = l.visitor("Khách web")
	return l
}

func (l *liveEnv) sys() context.Context {
	return event.WithBus(viewer.SystemContext(context.Background(), l.org), l.app.bus)
}

// visitor makes a visitor's conversation on the channel.
func (l *liveEnv) visitor(name string) gid.ID {
	sys := l.sys()
	cust := l.db.Client.Customer.Create().SetName(name).SaveX(sys)
	return l.db.Client.Conversation.Create().SetChannelID(l.ch).SetCustomerID(cust.ID).SetLastMessageAt(l.clock.Now()).SaveX(sys).ID
}

// online sets the users' presence to ONLINE.
func (l *liveEnv) online(ids ...string) {
	for _, id := range ids {
		l.db.Client.User.UpdateOneID(gid.ID(id)).SetPresence(user.PresenceONLINE).ExecX(l.sys())
	}
}

// assign gives the conversation to the user.
func (l *liveEnv) assign(conv gid.ID, userID string) {
	l.db.Client.Conversation.UpdateOneID(conv).SetAssigneeID(gid.ID(userID)).SetDistributionState("ASSIGNED").ExecX(l.sys())
}

func (l *liveEnv) start(conv gid.ID, kind entcall.Kind) *ent.Call {
	l.t.Helper()
	c, err := l.app.liveCalls.Start(l.sys(), conv, kind)
	if err != nil {
		l.t.Fatalf("Start: %v", err)
	}
	return c
}

// follow subscribes to callEvents from the start of the log, so the test
// does not depend on when the server registers the subscription.
func (l *liveEnv) follow(t *testing.T, token string) *subscriber {
	return subscribe(t, l.env, token, liveCallEventsQ, map[string]any{"after": event.Start.String()})
}

func (l *liveEnv) call(id gid.ID) *ent.Call {
	return l.db.Client.Call.GetX(l.sys(), id)
}

// visitorEvents returns what the visitor's stream would forward of the
// conversation's log: types, and the agent's signals as KIND:data.
func (l *liveEnv) visitorEvents(conv gid.ID) []string {
	l.t.Helper()
	evs, err := l.db.Client.Event.Query().
		Where(entevent.OrganizationID(l.org), entevent.ConversationID(conv)).
		Order(entevent.BySeq()).
		All(privacy.DecisionContext(l.sys(), privacy.Allow))
	if err != nil {
		l.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		ve, ok, err := livecall.ForVisitor(e)
		if err != nil {
			l.t.Fatal(err)
		}
		if !ok {
			continue
		}
		if ve.Signal != nil {
			out = append(out, fmt.Sprintf("%s:%s:%s", ve.Type, ve.Signal.Kind, ve.Signal.Data))
		} else {
			out = append(out, ve.Type)
		}
	}
	return out
}

func (l *liveEnv) minutes(token string) callMinutesOut {
	l.t.Helper()
	var out struct{ CallMinutes callMinutesOut }
	l.must(token, `{ callMinutes { month quotaMinutes bonusMinutes usedMinutes remainingMinutes resetsAt } }`, nil, &out)
	return out.CallMinutes
}

type callMinutesOut struct {
	Month                                                     string
	QuotaMinutes, BonusMinutes, UsedMinutes, RemainingMinutes int
	ResetsAt                                                  time.Time
}

// talk answers a new call of conv as the agent, lets it run d and hangs
// up as the visitor.
func (l *liveEnv) talk(conv gid.ID, agentToken string, d time.Duration) *ent.Call {
	l.t.Helper()
	c := l.start(conv, entcall.KindAUDIO)
	l.must(agentToken, answerLiveCall, map[string]any{"id": c.ID}, nil)
	l.clock.Advance(d)
	ended, err := l.app.liveCalls.VisitorHangUp(l.sys(), conv, c.ID)
	if err != nil {
		l.t.Fatalf("VisitorHangUp: %v", err)
	}
	return ended
}

const (
	liveCallFields  = `id status result kind direction startedAt answeredAt endedAt durationSeconds billedMinutes operator { id } conversation { id } channel { id }`
	answerLiveCall  = `mutation($id: ID!) { answerLiveTalkCall(id: $id) { ` + liveCallFields + ` } }`
	rejectLiveCall  = `mutation($id: ID!) { rejectLiveTalkCall(id: $id) { ` + liveCallFields + ` } }`
	hangUpLiveCall  = `mutation($id: ID!) { hangUpLiveTalkCall(id: $id) { ` + liveCallFields + ` } }`
	sendSignal      = `mutation($in: SendCallSignalInput!) { sendCallSignal(input: $in) { from kind data } }`
	liveCallEventsQ = `subscription($after: Cursor) { callEvents(after: $after) { cursor type call { id status result kind direction operator { id } conversation { id }
		iceServers { urls username credential } } signal { from kind data } } }`
)

type liveCallOut struct {
	ID                      gid.ID
	Status, Kind, Direction string
	Result                  *string
	StartedAt               time.Time
	AnsweredAt, EndedAt     *time.Time
	DurationSeconds         *int
	BilledMinutes           *int
	Operator                *struct{ ID string }
	Conversation            *struct{ ID gid.ID }
	Channel                 struct{ ID gid.ID }
}

type liveEventOut struct {
	CallEvents struct {
		Cursor, Type string
		Call         struct {
			ID                      gid.ID
			Status, Kind, Direction string
			Result                  *string
			Operator                *struct{ ID string }
			Conversation            *struct{ ID gid.ID }
			IceServers              []struct {
				URLs                 []string `json:"urls"`
				Username, Credential *string
			}
		}
		Signal *struct{ From, Kind, Data string }
	}
}

// TestLiveTalkCall follows a visitor's video call end to end: it rings the
// conversation's agent on their callEvents subscription (a real
// WebSocket), the agent answers over HTTP, signals go both ways (the
// visitor's reach the agent's subscription, the agent's are in the
// conversation's log for the visitor's stream), and the hang-up records
// the call with its duration and its minutes, rounded up.
func TestLiveTalkCall(t *testing.T) {
	l := newLiveEnv(t)
	l.online(l.tn.agentID, l.tn.adminID)
	l.assign(l.conv, l.tn.agentID) // the conversation's agent is rung, nobody else
	agent := l.follow(t, l.tn.agentToken)
	admin := l.follow(t, l.tn.adminToken)

	c := l.start(l.conv, entcall.KindVIDEO)
	if c.Status != entcall.StatusRINGING || c.Direction != entcall.DirectionINBOUND || c.ChannelID != l.ch ||
		len(c.RingingUserIds) != 1 || c.RingingUserIds[0] != l.tn.agentID {
		t.Fatalf("started %+v", c)
	}
	var ev liveEventOut
	agent.next(&ev)
	got := ev.CallEvents
	if got.Type != "RINGING" || got.Call.ID != c.ID || got.Call.Kind != "VIDEO" || got.Call.Direction != "INBOUND" ||
		got.Call.Conversation == nil || got.Call.Conversation.ID != l.conv {
		t.Fatalf("agent's first event %+v", got)
	}
	// Both sides get the same servers: STUN, and TURN with credentials of
	// the TURN REST scheme.
	if len(got.Call.IceServers) != 2 || got.Call.IceServers[0].URLs[0] != "stun:stun.dakenh.test:3478" || got.Call.IceServers[0].Username != nil {
		t.Fatalf("ice servers %+v", got.Call.IceServers)
	}
	turn := got.Call.IceServers[1]
	wantUser := fmt.Sprintf("%d:%s", l.clock.Now().Add(livecall.TurnCredentialLifetime).Unix(), c.ID)
	mac := hmac.New(sha1.New, []byte(testTurnSecret))
	mac.Write([]byte(wantUser))
	if len(turn.URLs) != 2 || turn.Username == nil || *turn.Username != wantUser || turn.Credential == nil ||
		*turn.Credential != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("turn %+v", turn)
	}
	if vs := l.app.liveCalls.IceServers(l.call(c.ID)); len(vs) != 2 || *vs[1].Username != wantUser {
		t.Fatalf("visitor's ice servers %+v", vs)
	}
	// Signals flow only once the call is answered.
	if _, err := l.app.liveCalls.VisitorSignal(l.sys(), l.conv, c.ID, livecall.SignalOffer, "v=0 early"); apierr.CodeOf(err) != apierr.FailedPrecondition {
		t.Fatalf("signal before the answer: %v", err)
	}
	admin.next(&ev)
	if ev.CallEvents.Type != "RINGING" || ev.CallEvents.Call.ID != c.ID {
		t.Fatalf("admin's first event %+v", ev.CallEvents)
	}

	l.clock.Advance(4 * time.Second)
	var ans struct{ AnswerLiveTalkCall liveCallOut }
	l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}, &ans)
	a := ans.AnswerLiveTalkCall
	if a.Status != "IN_PROGRESS" || a.Operator == nil || a.Operator.ID != l.tn.agentID || a.AnsweredAt == nil || !a.AnsweredAt.Equal(l.clock.Now()) {
		t.Fatalf("answered %+v", a)
	}
	agent.next(&ev)
	if ev.CallEvents.Type != "ANSWERED" || ev.CallEvents.Call.Status != "IN_PROGRESS" {
		t.Fatalf("agent's second event %+v", ev.CallEvents)
	}

	// The visitor's offer reaches the agent's subscription.
	if _, err := l.app.liveCalls.VisitorSignal(l.sys(), l.conv, c.ID, livecall.SignalOffer, "v=0 visitor-offer"); err != nil {
		t.Fatal(err)
	}
	agent.next(&ev)
	if s := ev.CallEvents.Signal; ev.CallEvents.Type != "SIGNAL" || s == nil || s.From != "VISITOR" || s.Kind != "OFFER" || s.Data != "v=0 visitor-offer" {
		t.Fatalf("agent's signal event %+v", ev.CallEvents)
	}
	// The agent's answer and candidate go to the visitor, not back to the
	// agent: the next event on the agent's stream is the visitor's
	// candidate.
	var sent struct {
		SendCallSignal struct{ From, Kind, Data string }
	}
	l.must(l.tn.agentToken, sendSignal, map[string]any{"in": map[string]any{"callId": c.ID, "kind": "ANSWER", "data": "v=0 agent-answer"}}, &sent)
	if sent.SendCallSignal.From != "AGENT" || sent.SendCallSignal.Kind != "ANSWER" {
		t.Fatalf("sent %+v", sent)
	}
	l.must(l.tn.agentToken, sendSignal, map[string]any{"in": map[string]any{"callId": c.ID, "kind": "ICE_CANDIDATE", "data": `{"candidate":"agent-1"}`}}, nil)
	if _, err := l.app.liveCalls.VisitorSignal(l.sys(), l.conv, c.ID, livecall.SignalICECandidate, `{"candidate":"visitor-1"}`); err != nil {
		t.Fatal(err)
	}
	agent.next(&ev)
	if s := ev.CallEvents.Signal; s == nil || s.From != "VISITOR" || s.Kind != "ICE_CANDIDATE" || s.Data != `{"candidate":"visitor-1"}` {
		t.Fatalf("agent's next event %+v", ev.CallEvents)
	}
	// Bad signals change nothing.
	for name, in := range map[string]map[string]any{
		"input.data": {"callId": c.ID, "kind": "OFFER", "data": strings.Repeat("x", livecall.MaxSignalBytes+1)},
		"input.kind": {"callId": c.ID, "kind": "ICE_CANDIDATE", "data": ""},
	} {
		r := l.gql(l.tn.agentToken, sendSignal, map[string]any{"in": in})
		if field, _ := r.Errors[0].Extensions["field"].(string); r.code() != "BAD_USER_INPUT" || (name == "input.data" && field != "input.data") {
			t.Fatalf("%s: %s %+v", name, r.code(), r.Errors)
		}
	}
	// Another agent may not signal on it, nor hang it up.
	if r := l.gql(l.tn.ownerToken, sendSignal, map[string]any{"in": map[string]any{"callId": c.ID, "kind": "OFFER", "data": "x"}}); r.code() != "FORBIDDEN" {
		t.Fatalf("owner's signal: %+v", r.Errors)
	}

	// 61 s of talk: 61 s recorded, 2 minutes consumed.
	l.clock.Advance(61 * time.Second)
	var hung struct{ HangUpLiveTalkCall liveCallOut }
	l.must(l.tn.agentToken, hangUpLiveCall, map[string]any{"id": c.ID}, &hung)
	h := hung.HangUpLiveTalkCall
	if h.Status != "ENDED" || h.Result == nil || *h.Result != "ANSWERED" || h.DurationSeconds == nil || *h.DurationSeconds != 61 ||
		h.BilledMinutes == nil || *h.BilledMinutes != 2 || h.EndedAt == nil || !h.EndedAt.Equal(l.clock.Now()) ||
		h.Conversation == nil || h.Conversation.ID != l.conv || h.Channel.ID != l.ch || h.Kind != "VIDEO" {
		t.Fatalf("hung up %+v", h)
	}
	agent.next(&ev)
	if ev.CallEvents.Type != "ENDED" || ev.CallEvents.Call.Status != "ENDED" || *ev.CallEvents.Call.Result != "ANSWERED" {
		t.Fatalf("agent's last event %+v", ev.CallEvents)
	}
	// The admin was not rung and saw neither signal, only the unaddressed
	// ANSWERED and ENDED.
	for _, want := range []string{"ANSWERED", "ENDED"} {
		admin.next(&ev)
		if ev.CallEvents.Type != want || ev.CallEvents.Signal != nil {
			t.Fatalf("admin's event %+v, want %s", ev.CallEvents, want)
		}
	}
	// Hanging up again, from either side, changes nothing.
	l.must(l.tn.agentToken, hangUpLiveCall, map[string]any{"id": c.ID}, &hung)
	if again, err := l.app.liveCalls.VisitorHangUp(l.sys(), l.conv, c.ID); err != nil || *again.BilledMinutes != 2 || *hung.HangUpLiveTalkCall.DurationSeconds != 61 {
		t.Fatalf("hang-up again: %v %+v", err, hung)
	}
	if m := l.minutes(l.tn.agentToken); m.UsedMinutes != 2 || m.RemainingMinutes != liveQuota-2 || m.Month != "2026-12" {
		t.Fatalf("minutes %+v", m)
	}

	// What the visitor's stream forwards: one of each call event, the
	// agent's signals, none of the visitor's own.
	want := []string{"RINGING", "ANSWERED", "SIGNAL:ANSWER:v=0 agent-answer", `SIGNAL:ICE_CANDIDATE:{"candidate":"agent-1"}`, "ENDED"}
	if got := l.visitorEvents(l.conv); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("visitor's events %q, want %q", got, want)
	}
	// A visitor reaches only their own conversation's calls.
	other := l.visitor("Khách khác")
	if _, err := l.app.liveCalls.VisitorHangUp(l.sys(), other, c.ID); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("another visitor's hang-up: %v", err)
	}
	if _, err := l.app.liveCalls.Call(l.sys(), other, c.ID); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("another visitor's call: %v", err)
	}
}

// TestLiveTalkCallConcurrentAnswers rings three online users of a
// conversation in no rule and makes them answer at once: exactly one wins
// and the others are CONFLICT. Then both sides hang up at once: the call
// ends once and is charged once.
func TestLiveTalkCallConcurrentAnswers(t *testing.T) {
	l := newLiveEnv(t)
	l.online(l.tn.ownerID, l.tn.adminID, l.tn.agentID)
	for round := range 3 {
		conv := l.visitor(fmt.Sprint("Khách ", round))
		c := l.start(conv, entcall.KindAUDIO)
		if len(c.RingingUserIds) != 3 {
			t.Fatalf("rang %v", c.RingingUserIds)
		}
		tokens := map[string]string{l.tn.ownerID: l.tn.ownerToken, l.tn.adminID: l.tn.adminToken, l.tn.agentID: l.tn.agentToken}
		var mu sync.Mutex
		codes := map[string]int{}
		winner := ""
		var wg sync.WaitGroup
		for id, token := range tokens {
			wg.Go(func() {
				r := l.gql(token, answerLiveCall, map[string]any{"id": c.ID})
				mu.Lock()
				defer mu.Unlock()
				codes[r.code()]++
				if r.code() == "" {
					winner = id
				}
			})
		}
		wg.Wait()
		if codes[""] != 1 || codes["CONFLICT"] != 2 {
			t.Fatalf("round %d: answers %v", round, codes)
		}
		if got := l.call(c.ID); got.OperatorID == nil || string(*got.OperatorID) != winner || got.Status != entcall.StatusIN_PROGRESS {
			t.Fatalf("round %d: call %+v, winner %s", round, got, winner)
		}
		l.clock.Advance(time.Duration(round+1) * 10 * time.Second) // under a minute: 1 minute each
		wg.Go(func() { l.gql(tokens[winner], hangUpLiveCall, map[string]any{"id": c.ID}) })
		wg.Go(func() { _, _ = l.app.liveCalls.VisitorHangUp(l.sys(), conv, c.ID) })
		wg.Wait()
		if got := l.call(c.ID); got.Status != entcall.StatusENDED || *got.BilledMinutes != 1 || *got.DurationSeconds != (round+1)*10 {
			t.Fatalf("round %d: ended %+v", round, got)
		}
	}
	if m := l.minutes(l.tn.ownerToken); m.UsedMinutes != 3 || m.RemainingMinutes != 0 {
		t.Fatalf("minutes %+v", m)
	}
	// Concurrent ends of different calls add up exactly.
	if _, err := l.app.minutes.Grant(l.sys(), l.org, 100, "load"); err != nil {
		t.Fatal(err)
	}
	var calls []*ent.Call
	for i := range 6 {
		conv := l.visitor(fmt.Sprint("Song song ", i))
		c := l.start(conv, entcall.KindAUDIO)
		l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}, nil)
		calls = append(calls, c)
	}
	l.clock.Advance(90 * time.Second) // 2 minutes each
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			if _, err := l.app.liveCalls.VisitorHangUp(l.sys(), *c.ConversationID, c.ID); err != nil {
				t.Errorf("hang-up: %v", err)
			}
		})
	}
	wg.Wait()
	if m := l.minutes(l.tn.ownerToken); m.UsedMinutes != 3+12 || m.BonusMinutes != 100-12 {
		t.Fatalf("minutes after concurrent ends %+v", m)
	}
}

// TestLiveTalkCallMinutes checks the monthly quota, bonus minutes that
// carry over, the refusal of a call with no minute left, and the month
// rollover at midnight of the 1st in Vietnam on a moved clock.
func TestLiveTalkCallMinutes(t *testing.T) {
	l := newLiveEnv(t)
	l.online(l.tn.agentID)
	l.assign(l.conv, l.tn.agentID)
	m := l.minutes(l.tn.agentToken)
	if m != (callMinutesOut{Month: "2026-12", QuotaMinutes: liveQuota, RemainingMinutes: liveQuota,
		ResetsAt: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)}) {
		t.Fatalf("fresh minutes %+v", m)
	}
	if r := l.gql("", `{ callMinutes { month } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous: %+v", r.Errors)
	}

	// 2 min 30 s: 3 minutes, the whole quota.
	if c := l.talk(l.conv, l.tn.agentToken, 150*time.Second); *c.BilledMinutes != 3 || *c.DurationSeconds != 150 {
		t.Fatalf("call %+v", c)
	}
	if m := l.minutes(l.tn.agentToken); m.UsedMinutes != 3 || m.RemainingMinutes != 0 {
		t.Fatalf("after the quota %+v", m)
	}
	before := l.db.Client.Call.Query().CountX(l.sys())
	_, err := l.app.liveCalls.Start(l.sys(), l.conv, entcall.KindAUDIO)
	if e, ok := apierr.As(err); !ok || e.Code != apierr.FailedPrecondition || e.Reason != callminutes.ReasonNoCallMinutes {
		t.Fatalf("a call with no minutes left: %v", err)
	}
	if n := l.db.Client.Call.Query().CountX(l.sys()); n != before {
		t.Fatalf("a refused call was recorded: %d calls, had %d", n, before)
	}

	// Bonus minutes are the operator's: tenants cannot grant them.
	agentCtx := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: l.org, UserID: gid.ID(l.tn.ownerID), Role: viewer.RoleOwner})
	if _, err := l.app.minutes.Grant(agentCtx, l.org, 10, "self-service"); apierr.CodeOf(err) != apierr.Forbidden {
		t.Fatalf("owner's grant: %v", err)
	}
	if _, err := l.app.minutes.Grant(l.sys(), l.org, 0, "nothing"); apierr.CodeOf(err) != apierr.BadUserInput {
		t.Fatalf("grant of 0: %v", err)
	}
	b, err := l.app.minutes.Grant(l.sys(), l.org, 5, "referral of Công ty B")
	if err != nil || b.BonusMinutes != 5 || b.RemainingMinutes != 5 {
		t.Fatalf("grant: %+v %v", b, err)
	}
	page := l.activityLog(l.tn.ownerToken, map[string]any{"action": string(activity.CallBonusMinutesGranted)}, 5, "")
	if len(page.rows) != 1 {
		t.Fatalf("activity %+v", page.rows)
	}
	// 61 s from the bonus: 2 minutes.
	l.talk(l.conv, l.tn.agentToken, 61*time.Second)
	if m := l.minutes(l.tn.agentToken); m.UsedMinutes != 5 || m.BonusMinutes != 3 || m.RemainingMinutes != 3 {
		t.Fatalf("after the bonus call %+v", m)
	}

	// The last second of December in Vietnam is still December.
	l.clock.Set(time.Date(2026, 12, 31, 16, 59, 59, 0, time.UTC))
	if m := l.minutes(l.tn.agentToken); m.Month != "2026-12" || m.UsedMinutes != 5 {
		t.Fatalf("on 31 December %+v", m)
	}
	// Midnight of 1 January in Vietnam: the quota is given again, the
	// bonus carries over.
	l.clock.Advance(time.Second)
	m = l.minutes(l.tn.agentToken)
	if m != (callMinutesOut{Month: "2027-01", QuotaMinutes: liveQuota, BonusMinutes: 3, RemainingMinutes: liveQuota + 3,
		ResetsAt: time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC)}) {
		t.Fatalf("on 1 January %+v", m)
	}
	// 3 min 20 s: 4 minutes, the quota's 3 and 1 of the bonus.
	l.talk(l.conv, l.tn.agentToken, 200*time.Second)
	if m := l.minutes(l.tn.agentToken); m.UsedMinutes != 4 || m.BonusMinutes != 2 || m.RemainingMinutes != 2 {
		t.Fatalf("after January's call %+v", m)
	}
	// A plan with more minutes applies at once; nil goes back to the
	// server's default.
	if b, err := l.app.minutes.SetPlan(l.sys(), l.org, new(10)); err != nil || b.RemainingMinutes != 10-3+2 {
		t.Fatalf("plan: %+v %v", b, err)
	}
	if b, err := l.app.minutes.SetPlan(l.sys(), l.org, nil); err != nil || b.QuotaMinutes != liveQuota {
		t.Fatalf("default plan: %+v %v", b, err)
	}
	if page := l.activityLog(l.tn.ownerToken, map[string]any{"action": string(activity.CallMinutesPlanChanged)}, 5, ""); len(page.rows) != 2 {
		t.Fatalf("plan activity %+v", page.rows)
	}
}

// TestLiveTalkCallEndings checks the ends of calls nobody takes: the ring
// timeout (NO_ANSWER, a durable timer), the visitor giving up (MISSED),
// every agent rung declining (REJECTED), nobody to ring (MISSED at once),
// and the refusals of Start and Answer.
func TestLiveTalkCallEndings(t *testing.T) {
	l := newLiveEnv(t)

	// Nobody online: the call is recorded missed at once.
	c := l.start(l.conv, entcall.KindAUDIO)
	if c.Status != entcall.StatusENDED || *c.Result != entcall.ResultMISSED || len(c.RingingUserIds) != 0 {
		t.Fatalf("nobody to ring %+v", c)
	}

	l.online(l.tn.agentID, l.tn.adminID)
	l.assign(l.conv, l.tn.agentID)
	agent := l.follow(t, l.tn.agentToken)

	// Ring timeout.
	c = l.start(l.conv, entcall.KindAUDIO)
	if _, err := l.app.liveCalls.Start(l.sys(), l.conv, entcall.KindVIDEO); reasonCode(err) != "FAILED_PRECONDITION/"+livecall.ReasonCallInProgress {
		t.Fatalf("a second call: %v", err)
	}
	l.clock.Advance(29 * time.Second)
	if n, err := l.app.timers.RunDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("before the timeout: %d %v", n, err)
	}
	l.clock.Advance(time.Second)
	if n, err := l.app.timers.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("at the timeout: %d %v", n, err)
	}
	if got := l.call(c.ID); got.Status != entcall.StatusENDED || *got.Result != entcall.ResultNO_ANSWER || *got.DurationSeconds != 0 || got.BilledMinutes != nil {
		t.Fatalf("timed out %+v", got)
	}
	var ev liveEventOut
	for _, want := range []string{"RINGING", "ENDED"} {
		agent.next(&ev)
		if ev.CallEvents.Type != want || ev.CallEvents.Call.ID != c.ID {
			t.Fatalf("agent's event %+v, want %s", ev.CallEvents, want)
		}
	}
	if r := l.gql(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}); reasonOf(r) != "FAILED_PRECONDITION/"+livecall.ReasonCallEnded {
		t.Fatalf("answering a timed-out call: %+v", r.Errors)
	}

	// The visitor gives up while it rings; the timer goes with the call.
	c = l.start(l.conv, entcall.KindAUDIO)
	if got, err := l.app.liveCalls.VisitorSignal(l.sys(), l.conv, c.ID, livecall.SignalHangUp, ""); err != nil || got.Kind != livecall.SignalHangUp {
		t.Fatalf("visitor's hang-up: %v", err)
	}
	if got := l.call(c.ID); *got.Result != entcall.ResultMISSED {
		t.Fatalf("given up %+v", got)
	}
	l.clock.Advance(time.Minute)
	if n, _ := l.app.timers.RunDue(context.Background()); n != 0 {
		t.Fatalf("%d timers ran for an ended call", n)
	}

	// The only agent rung declines; the admin, not rung, may not answer.
	c = l.start(l.conv, entcall.KindVIDEO)
	if r := l.gql(l.tn.adminToken, answerLiveCall, map[string]any{"id": c.ID}); r.code() != "FORBIDDEN" {
		t.Fatalf("admin's answer: %+v", r.Errors)
	}
	var rej struct{ RejectLiveTalkCall liveCallOut }
	l.must(l.tn.agentToken, rejectLiveCall, map[string]any{"id": c.ID}, &rej)
	if r := rej.RejectLiveTalkCall; r.Status != "ENDED" || *r.Result != "REJECTED" {
		t.Fatalf("rejected %+v", r)
	}
	// Another organization's agent finds nothing.
	other := l.newTenant("Other Org")
	for _, q := range []string{answerLiveCall, rejectLiveCall, hangUpLiveCall} {
		if r := l.gql(other.agentToken, q, map[string]any{"id": c.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("foreign %s: %+v", q, r.Errors)
		}
	}

	// An answered call nobody hangs up ends at its maximum duration,
	// charged for it, and the conversation may call again.
	if _, err := l.app.minutes.Grant(l.sys(), l.org, 20, "long call"); err != nil {
		t.Fatal(err)
	}
	c = l.start(l.conv, entcall.KindAUDIO)
	l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}, nil)
	l.clock.Advance(9*time.Minute + 59*time.Second)
	if n, _ := l.app.timers.RunDue(context.Background()); n != 0 {
		t.Fatalf("%d timers ran before the maximum duration", n)
	}
	l.clock.Advance(time.Second)
	if n, err := l.app.timers.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("at the maximum duration: %d %v", n, err)
	}
	if got := l.call(c.ID); got.Status != entcall.StatusENDED || *got.Result != entcall.ResultANSWERED ||
		*got.DurationSeconds != 600 || *got.BilledMinutes != 10 {
		t.Fatalf("ended at the maximum %+v", got)
	}
	l.talk(l.conv, l.tn.agentToken, time.Second)

	// A Zalo conversation is not for the widget's calls.
	zaloConv := seedConversation(t, l.env, l.org, gid.ID(l.tn.ownerID), channel.ChatPermissionSHARED, "zalo")
	if _, err := l.app.liveCalls.Start(l.sys(), zaloConv, entcall.KindAUDIO); apierr.CodeOf(err) != apierr.BadUserInput {
		t.Fatalf("Zalo conversation: %v", err)
	}
	// A widget that offers no video refuses video calls.
	l.app.liveCalls.SetKindPolicy(func(_ context.Context, _ *ent.Channel, k entcall.Kind) (bool, error) {
		return k == entcall.KindAUDIO, nil
	})
	if _, err := l.app.liveCalls.Start(l.sys(), l.conv, entcall.KindVIDEO); reasonCode(err) != "FAILED_PRECONDITION/"+livecall.ReasonCallsDisabled {
		t.Fatalf("video on an audio-only widget: %v", err)
	}
}

// reasonCode is the code and reason of an API error, as reasonOf.
func reasonCode(err error) string {
	e, ok := apierr.As(err)
	if !ok {
		return fmt.Sprint(err)
	}
	return string(e.Code) + "/" + e.Reason
}
