package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/livecall"
)

// The visitor API's call operations, as the widget sends them.
const (
	visitorCallFields = `id kind status result iceServers { urls username credential } startedAt answeredAt endedAt durationSeconds`
	visitorStartCall  = `mutation($k: CallKind!) { startCall(kind: $k) { ` + visitorCallFields + ` } }`
	visitorSignal     = `mutation($c: ID!, $k: CallSignalKind!, $d: String) { sendCallSignal(callId: $c, kind: $k, data: $d) { kind data } }`
	visitorHangUp     = `mutation($c: ID!) { hangUpCall(callId: $c) { ` + visitorCallFields + ` } }`
	visitorCallQuery  = `query($c: ID!) { call(id: $c) { ` + visitorCallFields + ` } }`
	callsAvailableQ   = `query($k: String!) { widget(key: $k) { callsAvailable } }`
	visitorCallEvents = `subscription($after: Cursor) { visitorEvents(after: $after) { cursor type message { id text }
		call { ` + visitorCallFields + ` } signal { kind data } } }`
)

type visitorCallOut struct {
	ID           gid.ID
	Kind, Status string
	Result       *string
	IceServers   []struct {
		URLs                 []string `json:"urls"`
		Username, Credential *string
	}
	StartedAt           time.Time
	AnsweredAt, EndedAt *time.Time
	DurationSeconds     *int
}

type visitorCallEvent struct {
	Cursor, Type string
	Message      *struct{ ID, Text string }
	Call         *visitorCallOut
	Signal       *struct{ Kind, Data string }
}

// followVisitorCalls subscribes to visitorEvents, with the call fields,
// from the start of the visitor's conversation.
func followVisitorCalls(t *testing.T, e *env, token string) *subscriber {
	t.Helper()
	c, _, err := visitorDial(t, e, liveTalkOrigin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &subscriber{t: t, conn: c}
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Visitor " + token}})
	if m := s.read(); m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": visitorCallEvents, "variables": map[string]any{"after": event.Start.String()},
	}})
	return s
}

// nextCallEvent returns the next CALL_* event of the visitor's stream,
// skipping the chat's messages and agents joining.
func nextCallEvent(s *subscriber) visitorCallEvent {
	s.t.Helper()
	for {
		var out struct{ VisitorEvents visitorCallEvent }
		s.next(&out)
		if strings.HasPrefix(out.VisitorEvents.Type, "CALL_") {
			return out.VisitorEvents
		}
	}
}

// reason is the extensions.reason of a response's first error.
func (r *gqlResponse) reason() string {
	if len(r.Errors) == 0 {
		return ""
	}
	s, _ := r.Errors[0].Extensions["reason"].(string)
	return s
}

// callsAvailable is widget(key).callsAvailable.
func (l *liveEnv) callsAvailable(key string) bool {
	l.t.Helper()
	var w struct{ Widget struct{ CallsAvailable bool } }
	l.visitorGQL(liveTalkOrigin, "", callsAvailableQ, map[string]any{"k": key}).decode(l.t, &w)
	return w.Widget.CallsAvailable
}

// audioWidget creates a LiveTalk channel on liveTalkOrigin whose widget
// offers audio calls only, and starts a chat on it assigned to the agent
// (so the agent alone is rung). It returns the widget key and the session.
func (l *liveEnv) audioWidget(t *testing.T) (string, visitorSession) {
	t.Helper()
	ch := l.createLiveTalk(l.tn.adminToken, "Website calls", liveTalkOrigin)
	l.must(l.tn.adminToken, updateLiveTalkMutation, map[string]any{"c": ch.ID, "in": map[string]any{"functions": []string{"AUDIO"}}}, nil)
	vs := l.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Lan", "phone": "0912 345 678"})
	l.online(l.tn.agentID)
	l.assign(gid.ID(vs.ConversationID), l.tn.agentID)
	return *ch.WidgetKey, vs
}

// TestLiveTalkVisitorCall is a visitor's audio call end to end over real
// HTTP and WebSockets on both sides: startCall on the visitor API rings the
// agent's callEvents, the agent answers, the visitor's offer reaches the
// agent, the agent's answer and ICE candidate reach the visitor's
// visitorEvents (and nothing else of the call's staff events), the visitor
// hangs up, and the call is recorded with its duration and minutes. A
// video call on the audio-only widget is CALLS_DISABLED, and another
// visitor reaches nothing of the call.
func TestLiveTalkVisitorCall(t *testing.T) {
	l := newLiveEnv(t)
	key, vs := l.audioWidget(t)
	if !l.callsAvailable(key) {
		t.Fatal("calls not available on an audio widget with minutes")
	}
	other := l.startChat(liveTalkOrigin, key, map[string]any{"name": "Minh", "phone": "0987 654 321"})
	agent := l.follow(t, l.tn.agentToken)
	visitor := followVisitorCalls(t, l.env, vs.Token)
	bystander := followVisitorCalls(t, l.env, other.Token)

	// Without a token, or for a kind the widget does not offer, no call.
	if r := l.visitorGQL(liveTalkOrigin, "", visitorStartCall, map[string]any{"k": "AUDIO"}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("no token: %+v", r.Errors)
	}
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorStartCall, map[string]any{"k": "VIDEO"}); r.code() != "FAILED_PRECONDITION" || r.reason() != livecall.ReasonCallsDisabled {
		t.Fatalf("video on an audio widget: %+v", r.Errors)
	}

	var started struct{ StartCall visitorCallOut }
	l.visitorGQL(liveTalkOrigin, vs.Token, visitorStartCall, map[string]any{"k": "AUDIO"}).decode(t, &started)
	c := started.StartCall
	if c.Kind != "AUDIO" || c.Status != "RINGING" || c.Result != nil || !c.StartedAt.Equal(l.clock.Now()) || len(c.IceServers) != 2 ||
		c.IceServers[0].URLs[0] != "stun:stun.dakenh.test:3478" || c.IceServers[1].Username == nil ||
		*c.IceServers[1].Username != fmt.Sprintf("%d:%s", l.clock.Now().Add(livecall.TurnCredentialLifetime).Unix(), c.ID) {
		t.Fatalf("started %+v", c)
	}
	var ev liveEventOut
	agent.next(&ev)
	if ev.CallEvents.Type != "RINGING" || ev.CallEvents.Call.ID != c.ID || ev.CallEvents.Call.Kind != "AUDIO" ||
		ev.CallEvents.Call.Conversation == nil || string(ev.CallEvents.Call.Conversation.ID) != vs.ConversationID {
		t.Fatalf("agent rung %+v", ev.CallEvents)
	}
	if got := nextCallEvent(visitor); got.Type != "CALL_RINGING" || got.Call == nil || got.Call.ID != c.ID || len(got.Call.IceServers) != 2 {
		t.Fatalf("visitor's ringing %+v", got)
	}
	// A second call of the chat waits for this one; signals wait for the
	// answer.
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorStartCall, map[string]any{"k": "AUDIO"}); r.reason() != livecall.ReasonCallInProgress {
		t.Fatalf("second call: %+v", r.Errors)
	}
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorSignal, map[string]any{"c": c.ID, "k": "OFFER", "d": "v=0 early"}); r.reason() != livecall.ReasonCallNotAnswered {
		t.Fatalf("early offer: %+v", r.Errors)
	}

	l.clock.Advance(3 * time.Second)
	l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}, nil)
	agent.next(&ev)
	if ev.CallEvents.Type != "ANSWERED" {
		t.Fatalf("agent's answered %+v", ev.CallEvents)
	}
	if got := nextCallEvent(visitor); got.Type != "CALL_ANSWERED" || got.Call.Status != "IN_PROGRESS" || got.Call.AnsweredAt == nil {
		t.Fatalf("visitor's answered %+v", got)
	}

	// The visitor's offer reaches the agent.
	var sent struct{ SendCallSignal struct{ Kind, Data string } }
	l.visitorGQL(liveTalkOrigin, vs.Token, visitorSignal, map[string]any{"c": c.ID, "k": "OFFER", "d": "v=0 visitor-offer"}).decode(t, &sent)
	if sent.SendCallSignal.Kind != "OFFER" || sent.SendCallSignal.Data != "v=0 visitor-offer" {
		t.Fatalf("sent %+v", sent)
	}
	agent.next(&ev)
	if s := ev.CallEvents.Signal; ev.CallEvents.Type != "SIGNAL" || s == nil || s.From != "VISITOR" || s.Kind != "OFFER" || s.Data != "v=0 visitor-offer" {
		t.Fatalf("agent's signal %+v", ev.CallEvents)
	}
	// Bad signals change nothing.
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorSignal, map[string]any{"c": c.ID, "k": "ICE_CANDIDATE"}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "data" {
		t.Fatalf("empty candidate: %+v", r.Errors)
	}
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorSignal, map[string]any{"c": c.ID, "k": "OFFER", "d": strings.Repeat("x", livecall.MaxSignalBytes+1)}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("oversized offer: %+v", r.Errors)
	}

	// The agent's answer and candidate reach the visitor's stream, next
	// after ANSWERED: the visitor's own offer is not echoed back.
	l.must(l.tn.agentToken, sendSignal, map[string]any{"in": map[string]any{"callId": c.ID, "kind": "ANSWER", "data": "v=0 agent-answer"}}, nil)
	l.must(l.tn.agentToken, sendSignal, map[string]any{"in": map[string]any{"callId": c.ID, "kind": "ICE_CANDIDATE", "data": `{"candidate":"agent-1"}`}}, nil)
	for _, want := range []struct{ kind, data string }{{"ANSWER", "v=0 agent-answer"}, {"ICE_CANDIDATE", `{"candidate":"agent-1"}`}} {
		got := nextCallEvent(visitor)
		if got.Type != "CALL_SIGNAL" || got.Signal == nil || got.Signal.Kind != want.kind || got.Signal.Data != want.data || got.Call == nil || got.Call.ID != c.ID {
			t.Fatalf("visitor's signal %+v, want %s", got, want.kind)
		}
	}

	// Another visitor of the same widget reaches nothing of the call.
	for name, q := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"signal":  {visitorSignal, map[string]any{"c": c.ID, "k": "HANGUP"}},
		"hang up": {visitorHangUp, map[string]any{"c": c.ID}},
		"call":    {visitorCallQuery, map[string]any{"c": c.ID}},
	} {
		if r := l.visitorGQL(liveTalkOrigin, other.Token, q.query, q.vars); r.code() != "NOT_FOUND" {
			t.Fatalf("other visitor's %s: %+v", name, r.Errors)
		}
	}

	// 61 s of talk: 61 s recorded, 2 minutes consumed.
	l.clock.Advance(61 * time.Second)
	var hung struct{ HangUpCall visitorCallOut }
	l.visitorGQL(liveTalkOrigin, vs.Token, visitorHangUp, map[string]any{"c": c.ID}).decode(t, &hung)
	h := hung.HangUpCall
	if h.Status != "ENDED" || h.Result == nil || *h.Result != "ANSWERED" || h.DurationSeconds == nil || *h.DurationSeconds != 61 ||
		h.EndedAt == nil || !h.EndedAt.Equal(l.clock.Now()) {
		t.Fatalf("hung up %+v", h)
	}
	agent.next(&ev)
	if ev.CallEvents.Type != "ENDED" || ev.CallEvents.Call.Status != "ENDED" {
		t.Fatalf("agent's ended %+v", ev.CallEvents)
	}
	if got := nextCallEvent(visitor); got.Type != "CALL_ENDED" || got.Call.Status != "ENDED" || *got.Call.DurationSeconds != 61 {
		t.Fatalf("visitor's ended %+v", got)
	}
	rec := l.call(c.ID)
	if rec.Status != entcall.StatusENDED || *rec.Result != entcall.ResultANSWERED || *rec.DurationSeconds != 61 || rec.BilledMinutes == nil || *rec.BilledMinutes != 2 ||
		string(*rec.ConversationID) != vs.ConversationID || rec.Kind != entcall.KindAUDIO || string(*rec.OperatorID) != l.tn.agentID {
		t.Fatalf("record %+v", rec)
	}
	if m := l.minutes(l.tn.agentToken); m.UsedMinutes != 2 || m.RemainingMinutes != liveQuota-2 {
		t.Fatalf("minutes %+v", m)
	}
	var got struct{ Call visitorCallOut }
	l.visitorGQL(liveTalkOrigin, vs.Token, visitorCallQuery, map[string]any{"c": c.ID}).decode(t, &got)
	if got.Call.Status != "ENDED" || *got.Call.DurationSeconds != 61 {
		t.Fatalf("call query %+v", got.Call)
	}

	// The bystander's stream had no call event: their next event is their
	// own message.
	const hello = "Có ai không?"
	l.visitorGQL(liveTalkOrigin, other.Token, sendVisitorText, map[string]any{"t": hello}).decode(t, nil)
	for {
		var out struct{ VisitorEvents visitorCallEvent }
		bystander.next(&out)
		if e := out.VisitorEvents; strings.HasPrefix(e.Type, "CALL_") || e.Call != nil || e.Signal != nil {
			t.Fatalf("another visitor's stream got %+v", e)
		} else if e.Message != nil && e.Message.Text == hello {
			break
		}
	}
}

// TestLiveTalkVisitorCallAvailability: a chat-only widget offers no calls;
// an audio widget does until the month's minutes are used, then
// callsAvailable is false and startCall is NO_CALL_MINUTES (recording no
// call), until the minutes come back on the 1st.
func TestLiveTalkVisitorCallAvailability(t *testing.T) {
	l := newLiveEnv(t)
	chatOnly := l.createLiveTalk(l.tn.adminToken, "Chat only", liveTalkOrigin)
	if l.callsAvailable(*chatOnly.WidgetKey) {
		t.Fatal("calls available on a chat-only widget")
	}
	cs := l.startChat(liveTalkOrigin, *chatOnly.WidgetKey, map[string]any{"name": "Hoa"})
	for _, kind := range []string{"AUDIO", "VIDEO"} {
		if r := l.visitorGQL(liveTalkOrigin, cs.Token, visitorStartCall, map[string]any{"k": kind}); r.reason() != livecall.ReasonCallsDisabled {
			t.Fatalf("%s on a chat-only widget: %+v", kind, r.Errors)
		}
	}

	key, vs := l.audioWidget(t)
	if !l.callsAvailable(key) {
		t.Fatal("calls not available with minutes left")
	}
	// The month's minutes go on a call of the other conversation.
	l.online(l.tn.agentID)
	l.assign(l.conv, l.tn.agentID)
	l.talk(l.conv, l.tn.agentToken, liveQuota*time.Minute)
	if m := l.minutes(l.tn.agentToken); m.RemainingMinutes != 0 {
		t.Fatalf("minutes %+v", m)
	}
	if l.callsAvailable(key) {
		t.Fatal("calls available with no minutes left")
	}
	if r := l.visitorGQL(liveTalkOrigin, vs.Token, visitorStartCall, map[string]any{"k": "AUDIO"}); r.code() != "FAILED_PRECONDITION" || r.reason() != "NO_CALL_MINUTES" {
		t.Fatalf("call without minutes: %+v", r.Errors)
	}
	if n := l.db.Client.Call.Query().Where(entcall.ConversationID(gid.ID(vs.ConversationID))).CountX(l.sys()); n != 0 {
		t.Fatalf("%d calls recorded", n)
	}
	// January's minutes: calls again.
	l.clock.Advance(25 * 24 * time.Hour)
	if !l.callsAvailable(key) {
		t.Fatal("calls not available in the new month")
	}
	// The token has expired meanwhile: the widget starts the chat again.
	vs = l.startChat(liveTalkOrigin, key, map[string]any{"name": "Lan", "phone": "0912 345 678"})
	var started struct{ StartCall visitorCallOut }
	l.visitorGQL(liveTalkOrigin, vs.Token, visitorStartCall, map[string]any{"k": "AUDIO"}).decode(t, &started)
	if started.StartCall.Status != "RINGING" {
		t.Fatalf("new month's call %+v", started.StartCall)
	}
}
