package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// subscriber is a graphql-transport-ws client following one subscription.
type subscriber struct {
	t    *testing.T
	conn *websocket.Conn
}

func subscribe(t *testing.T, e *env, token, query string, vars map[string]any) *subscriber {
	t.Helper()
	c, _, err := wsDial(t, e, "graphql-transport-ws", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &subscriber{t: t, conn: c}
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if m := s.read(); m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	return s
}

// read returns the next protocol message that is not a ping.
func (s *subscriber) read() map[string]any {
	s.t.Helper()
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(patience))
		var m map[string]any
		if err := s.conn.ReadJSON(&m); err != nil {
			s.t.Fatalf("read: %v", err)
		}
		if m["type"] == "ping" {
			_ = s.conn.WriteJSON(map[string]any{"type": "pong"})
			continue
		}
		return m
	}
}

// next returns the data of the next event.
func (s *subscriber) next(v any) {
	s.t.Helper()
	m := s.read()
	if m["type"] != "next" {
		s.t.Fatalf("want an event, got %v", m)
	}
	raw, _ := json.Marshal(m["payload"])
	var p struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	_ = json.Unmarshal(raw, &p)
	if len(p.Errors) > 0 {
		s.t.Fatalf("event with errors: %+v", p.Errors)
	}
	if err := json.Unmarshal(p.Data, v); err != nil {
		s.t.Fatal(err)
	}
}

// inboxFixture is a channel with one conversation, written as the system.
type inboxFixture struct {
	org, channel, conversation gid.ID
}

func newInboxFixture(t *testing.T, e *env, org, connectedBy gid.ID, perm channel.ChatPermission) inboxFixture {
	t.Helper()
	conv := seedConversation(t, e, org, connectedBy, perm, fmt.Sprint("kênh-", perm))
	c := e.db.Client.Conversation.GetX(viewer.SystemContext(context.Background(), org), conv)
	return inboxFixture{org: org, channel: c.ChannelID, conversation: conv}
}

// addMessage writes an inbound message and its event in one transaction,
// through app's bus, as the inbox does.
func addMessage(t *testing.T, e *env, f inboxFixture, text string) gid.ID {
	t.Helper()
	ctx := event.WithBus(viewer.SystemContext(context.Background(), f.org), e.app.bus)
	tx, err := e.db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := tx.Message.Create().SetConversationID(f.conversation).SetChannelID(f.channel).
		SetDirection("INBOUND").SetText(text).SetStatus("RECEIVED").SetSenderType("CUSTOMER").SaveX(ctx)
	if _, err := event.Append(ctx, tx, event.Entry{OrgID: f.org, Topic: event.TopicMessage, Type: event.TypeCreated,
		ChannelID: f.channel, ConversationID: f.conversation, MessageID: m.ID}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

type messageEventOut struct {
	MessageEvents struct {
		Cursor, Type string
		Message      struct{ Text string }
	}
}

const messageEventsQuery = `subscription($after: String, $c: ID) { messageEvents(after: $after, conversationId: $c) { cursor type message { text } } }`

// TestSubscriptionResumesWithoutGapOrDuplicate follows messageEvents over a
// real WebSocket, disconnects, lets events happen, and resumes from the last
// cursor: the replay holds exactly the missed events, then live ones follow.
func TestSubscriptionResumesWithoutGapOrDuplicate(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Stream Org")
	org := orgOf(t, e, tn)
	f := newInboxFixture(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED)

	// Subscribing from the start of the log makes the test independent of
	// when the server registers the subscription.
	fromStart := map[string]any{"after": event.Start.String()}
	s := subscribe(t, e, tn.agentToken, messageEventsQuery, fromStart)
	addMessage(t, e, f, "một")
	var first messageEventOut
	s.next(&first)
	if first.MessageEvents.Type != "CREATED" || first.MessageEvents.Message.Text != "một" {
		t.Fatalf("first event %+v", first)
	}
	s.conn.Close()

	addMessage(t, e, f, "hai")
	addMessage(t, e, f, "ba")
	resumed := subscribe(t, e, tn.apiKey, messageEventsQuery, map[string]any{"after": first.MessageEvents.Cursor})
	var got []string
	for range 2 {
		var ev messageEventOut
		resumed.next(&ev)
		got = append(got, ev.MessageEvents.Message.Text)
	}
	addMessage(t, e, f, "bốn")
	var live messageEventOut
	resumed.next(&live)
	got = append(got, live.MessageEvents.Message.Text)
	if strings.Join(got, ",") != "hai,ba,bốn" {
		t.Fatalf("after resuming got %v, want hai,ba,bốn", got)
	}

	t.Run("ErrBadCursor", func(t *testing.T) {
		bad := subscribe(t, e, tn.agentToken, messageEventsQuery, map[string]any{"after": "not-a-cursor"})
		m := bad.read()
		// gqlgen reports a resolver's error as a payload with errors.
		if (m["type"] != "error" && m["type"] != "next") || !strings.Contains(fmt.Sprint(m["payload"]), "BAD_USER_INPUT") {
			t.Fatalf("got %v", m)
		}
	})
}

// TestSubscriptionHidesOnlyMeChannels checks that an agent's stream never
// carries events of an ONLY_ME channel it does not own.
func TestSubscriptionHidesOnlyMeChannels(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Private Stream Org")
	org := orgOf(t, e, tn)
	private := newInboxFixture(t, e, org, gid.ID(tn.adminID), channel.ChatPermissionONLY_ME)
	shared := newInboxFixture(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED)

	fromStart := map[string]any{"after": event.Start.String()}
	agent := subscribe(t, e, tn.agentToken, messageEventsQuery, fromStart)
	owner := subscribe(t, e, tn.adminToken, messageEventsQuery, fromStart)
	addMessage(t, e, private, "riêng tư")
	addMessage(t, e, shared, "công khai")

	var ev messageEventOut
	agent.next(&ev)
	if ev.MessageEvents.Message.Text != "công khai" {
		t.Fatalf("the agent received %q first", ev.MessageEvents.Message.Text)
	}
	owner.next(&ev)
	if ev.MessageEvents.Message.Text != "riêng tư" {
		t.Fatalf("the channel's owner received %q first", ev.MessageEvents.Message.Text)
	}
}

// TestSubscriptionAcrossInstances runs two servers on one PostgreSQL
// database: a subscriber on one receives an event caused on the other.
func TestSubscriptionAcrossInstances(t *testing.T) {
	if dbtest.Dialect() != "postgres" {
		t.Skip("replicas share events through PostgreSQL's LISTEN/NOTIFY")
	}
	a := newEnv(t)
	b := newEnvOn(t, a.db)
	if a.app.bus == b.app.bus {
		t.Fatal("the two instances share a bus object")
	}
	tn := a.newTenant("Replica Org")
	org := orgOf(t, a, tn)
	f := newInboxFixture(t, a, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED)

	s := subscribe(t, a, tn.agentToken, messageEventsQuery, map[string]any{"after": event.Start.String()})
	addMessage(t, b, f, "từ máy B")
	var ev messageEventOut
	s.next(&ev)
	if ev.MessageEvents.Message.Text != "từ máy B" {
		t.Fatalf("got %+v", ev)
	}
}

func orgOf(t testing.TB, e *env, tn *tenant) gid.ID {
	t.Helper()
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	return me.Me.Organization.ID
}

// TestSubscriptionSlowSubscriberResumes follows messageEvents with a client
// that stops reading: the server's writes block, the stream's threshold (8
// here) is passed, and the subscription ends with RESUME_FROM_CURSOR after
// the events it had sent. Resuming from the last cursor received delivers
// the rest, in order, with no gap and no duplicate; publishers and other
// subscribers were never held up.
func TestSubscriptionSlowSubscriberResumes(t *testing.T) {
	e := newEnv(t, func(_ *Config, o *appOptions) { o.streamBuffer = 8 })
	tn := e.newTenant("Slow Org")
	f := newInboxFixture(t, e, orgOf(t, e, tn), gid.ID(tn.ownerID), channel.ChatPermissionSHARED)

	fromStart := map[string]any{"after": event.Start.String()}
	slow := subscribe(t, e, tn.agentToken, messageEventsQuery, fromStart)
	fast := subscribe(t, e, tn.ownerToken, messageEventsQuery, fromStart)

	// 25 MB of events is more than the kernel buffers of both ends hold,
	// so the server's writes to the slow subscriber block.
	const total = 200
	big := strings.Repeat("x", 128<<10)
	var sent []string
	for i := range total {
		text := fmt.Sprintf("%04d %s", i, big)
		addMessage(t, e, f, text)
		sent = append(sent, text[:4])
		var ev messageEventOut
		fast.next(&ev) // the other subscriber keeps up throughout
		if got := ev.MessageEvents.Message.Text[:4]; got != sent[i] {
			t.Fatalf("the fast subscriber got %s, want %s", got, sent[i])
		}
	}

	// Now read what the slow subscriber was sent: a prefix of the events,
	// then the error telling it to resume, then the end.
	var got []string
	var last string
	for {
		m := slow.read()
		if m["type"] == "complete" {
			break
		}
		raw, _ := json.Marshal(m["payload"])
		var p struct {
			Data   *messageEventOut
			Errors []gqlError
		}
		_ = json.Unmarshal(raw, &p)
		if len(p.Errors) > 0 {
			if p.Errors[0].Extensions["code"] != "FAILED_PRECONDITION" || p.Errors[0].Extensions["reason"] != "RESUME_FROM_CURSOR" {
				t.Fatalf("ended with %+v", p.Errors)
			}
			continue
		}
		got = append(got, p.Data.MessageEvents.Message.Text[:4])
		last = p.Data.MessageEvents.Cursor
	}
	if len(got) == 0 || len(got) >= total || !slices.Equal(got, sent[:len(got)]) {
		t.Fatalf("before the error the slow subscriber got %d events (%v…), want a proper prefix of %d", len(got), got[:min(len(got), 3)], total)
	}

	resumed := subscribe(t, e, tn.agentToken, messageEventsQuery, map[string]any{"after": last})
	for _, want := range sent[len(got):] {
		var ev messageEventOut
		resumed.next(&ev)
		if text := ev.MessageEvents.Message.Text[:4]; text != want {
			t.Fatalf("after resuming got %s, want %s", text, want)
		}
	}
}

// TestCursorScalar checks that the event streams' positions are Cursors,
// like connections', that clients declaring them String keep working, and
// that neither kind of cursor is taken where the other belongs.
func TestCursorScalar(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Cursor Org")
	f := newInboxFixture(t, e, orgOf(t, e, tn), gid.ID(tn.ownerID), channel.ChatPermissionSHARED)
	addMessage(t, e, f, "một")
	const typed = `subscription($after: Cursor) { messageEvents(after: $after) { cursor type message { text } } }`
	var ev messageEventOut
	subscribe(t, e, tn.ownerToken, typed, map[string]any{"after": event.Start.String()}).next(&ev)
	if ev.MessageEvents.Message.Text != "một" {
		t.Fatalf("the typed subscription got %q", ev.MessageEvents.Message.Text)
	}

	t.Run("OKStringVariable", func(t *testing.T) {
		legacy := subscribe(t, e, tn.ownerToken, messageEventsQuery, map[string]any{"after": ev.MessageEvents.Cursor})
		addMessage(t, e, f, "hai")
		var next messageEventOut
		legacy.next(&next)
		if next.MessageEvents.Message.Text != "hai" {
			t.Fatalf("resuming with a String variable got %q", next.MessageEvents.Message.Text)
		}
	})
	t.Run("ErrConnectionCursorOnAStream", func(t *testing.T) {
		e.createCustomer(tn.ownerToken, map[string]any{"name": "Khách"})
		var page struct {
			Customers struct{ Edges []struct{ Cursor string } }
		}
		e.must(tn.ownerToken, `{ customers(first: 1) { edges { cursor } } }`, nil, &page)
		s := subscribe(t, e, tn.ownerToken, typed, map[string]any{"after": page.Customers.Edges[0].Cursor})
		m := s.read()
		raw, _ := json.Marshal(m["payload"])
		if !strings.Contains(string(raw), `"BAD_USER_INPUT"`) || !strings.Contains(string(raw), `"field":"after"`) {
			t.Fatalf("a connection's cursor as a stream's after: %v", m)
		}
	})
	t.Run("ErrStreamCursorOnAConnection", func(t *testing.T) {
		r := e.gql(tn.ownerToken, `query($a: Cursor) { customers(after: $a) { totalCount } }`, map[string]any{"a": ev.MessageEvents.Cursor})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "after" {
			t.Fatalf("a stream's cursor as a connection's after: %+v", r.Errors)
		}
	})
	t.Run("Introspection", func(t *testing.T) {
		var out struct {
			Time, Map, Cursor struct{ SpecifiedByURL string }
			Subscription      struct {
				Fields []struct {
					Name string
					Args []struct {
						Name string
						Type struct{ Name string }
					}
				}
			}
			Event struct {
				Fields []struct {
					Name string
					Type struct{ OfType struct{ Name string } }
				}
			}
		}
		e.must("", `{ Time: __type(name: "Time") { specifiedByURL } Map: __type(name: "Map") { specifiedByURL }
			Cursor: __type(name: "Cursor") { specifiedByURL }
			Subscription: __type(name: "Subscription") { fields { name args { name type { name } } } }
			Event: __type(name: "MessageEvent") { fields { name type { ofType { name } } } } }`, nil, &out)
		if out.Time.SpecifiedByURL == "" || out.Map.SpecifiedByURL == "" || out.Cursor.SpecifiedByURL == "" {
			t.Errorf("scalars without @specifiedBy: %+v", out)
		}
		for _, f := range out.Subscription.Fields {
			for _, a := range f.Args {
				if a.Name == "after" && a.Type.Name != "Cursor" {
					t.Errorf("%s(after:) is %s, want Cursor", f.Name, a.Type.Name)
				}
			}
		}
		for _, f := range out.Event.Fields {
			if f.Name == "cursor" && f.Type.OfType.Name != "Cursor" {
				t.Errorf("MessageEvent.cursor is %s, want Cursor", f.Type.OfType.Name)
			}
		}
	})
}

// TestSubscriptionRendersOncePerViewer follows messageEvents with two
// sockets of an agent and two of the admin who connected an ONLY_ME
// channel, all with the same operation: the admin's sockets get the
// private message and the shared one, the agent's only the shared one,
// and each event is rendered once per viewer, not once per socket.
func TestSubscriptionRendersOncePerViewer(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Shared Render Org")
	org := orgOf(t, e, tn)
	private := newInboxFixture(t, e, org, gid.ID(tn.adminID), channel.ChatPermissionONLY_ME)
	shared := newInboxFixture(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED)

	// A message before the two, replayed: once every socket has it, every
	// stream is live, and only the two messages below remain to render.
	addMessage(t, e, shared, "mở đầu")
	const query = `subscription($after: String) { messageEvents(after: $after) { type message { text conversation { id } } } }`
	fromStart := map[string]any{"after": event.Start.String()}
	var agents, admins []*subscriber
	for range 2 {
		agents = append(agents, subscribe(t, e, tn.agentToken, query, fromStart))
		admins = append(admins, subscribe(t, e, tn.adminToken, query, fromStart))
	}
	type out struct {
		MessageEvents struct {
			Message struct {
				Text         string
				Conversation struct{ ID string }
			}
		}
	}
	for _, s := range append(slices.Clone(agents), admins...) {
		var ev out
		s.next(&ev)
		if ev.MessageEvents.Message.Text != "mở đầu" {
			t.Fatalf("first event %q", ev.MessageEvents.Message.Text)
		}
	}
	before := e.app.subscriptions.Renders()
	addMessage(t, e, private, "riêng tư")
	addMessage(t, e, shared, "công khai")
	for _, s := range admins {
		for _, want := range []inboxFixture{private, shared} {
			var ev out
			s.next(&ev)
			if got := ev.MessageEvents.Message.Conversation.ID; got != string(want.conversation) {
				t.Fatalf("the admin got conversation %s, want %s", got, want.conversation)
			}
		}
	}
	for _, s := range agents {
		var ev out
		s.next(&ev)
		if got := ev.MessageEvents.Message.Text; got != "công khai" {
			t.Fatalf("the agent got %q, want only the shared message", got)
		}
	}
	// The admin's two events and the agent's one: 3 renders for 6
	// deliveries. Sharing across viewers would make 2; none, 6.
	if n := e.app.subscriptions.Renders() - before; n != 3 {
		t.Fatalf("%d renders, want 3 (one per event and viewer)", n)
	}
}
