package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

const (
	liveTalkOrigin  = "https://shop.example.vn"
	sendVisitorText = `mutation($t: String) { sendVisitorMessage(text: $t) { id author text } }`
)

// TestLiveTalkVisitorChat is a visitor's chat end to end over real HTTP and
// WebSockets: the widget, startChat (customer, conversation, START
// auto-message), the visitor's message in the agent's staff subscription,
// the agent's reply through sendMessage on the visitor's visitorEvents,
// marked DELIVERED, an agent joining, the history, and a resume from a
// cursor.
func TestLiveTalkVisitorChat(t *testing.T) {
	e := newEnv(t)
	e.app.startWorkers()
	tn := e.newTenant("LiveTalk Chat")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	e.must(tn.adminToken, createAutoMessageMutation, map[string]any{"in": map[string]any{
		"channelId": ch.ID, "kind": "START", "contents": []string{"Cảm ơn bạn đã liên hệ!"},
	}}, nil)
	e.must(tn.adminToken, createAutoMessageMutation, map[string]any{"in": map[string]any{
		"channelId": ch.ID, "kind": "GREETING", "title": "Chào bạn", "path": "/pricing", "contents": []string{"Cần tư vấn giá?"}, "delaySeconds": 3,
	}}, nil)

	// The widget: the default look, the greeting of the page, no choice
	// of agent until the settings list some.
	var w struct {
		Widget struct {
			Title          string
			RequiredFields []string
			Greeting       *struct {
				Title        string
				Contents     []string
				DelaySeconds int
			}
			Agents      []struct{ ID, Name string }
			Departments []struct{ ID string }
		}
	}
	e.visitorGQL(liveTalkOrigin, "", `query($k: String!, $p: String) { widget(key: $k, path: $p) {
		title requiredFields greeting { title contents delaySeconds } agents { id name online } departments { id } } }`,
		map[string]any{"k": *ch.WidgetKey, "p": "/pricing/"}).decode(t, &w)
	if w.Widget.Title == "" || strings.Join(w.Widget.RequiredFields, ",") != "NAME" || w.Widget.Greeting == nil ||
		w.Widget.Greeting.Contents[0] != "Cần tư vấn giá?" || w.Widget.Greeting.DelaySeconds != 3 || len(w.Widget.Agents) != 0 {
		t.Fatalf("widget %+v", w.Widget)
	}

	// The agent follows the organization's messages.
	staff := subscribe(t, e, tn.agentToken, messageEventsQuery, map[string]any{"after": event.Start.String()})

	// The name is required; a bad phone is refused as for customers.
	const start = `mutation($in: StartChatInput!) { startChat(input: $in) { token conversationId } }`
	if r := e.visitorGQL(liveTalkOrigin, "", start, map[string]any{"in": map[string]any{"key": *ch.WidgetKey}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "input.name" {
		t.Fatalf("no name: %+v", r.Errors)
	}
	if r := e.visitorGQL(liveTalkOrigin, "", start, map[string]any{"in": map[string]any{"key": *ch.WidgetKey, "name": "Lan", "phone": "12ab"}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "input.phone" {
		t.Fatalf("bad phone: %+v", r.Errors)
	}
	vs := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Lan", "phone": "0912 345 678", "email": "Lan@Example.vn", "pageUrl": liveTalkOrigin + "/pricing"})
	if !strings.HasPrefix(vs.Token, "dkv_") || vs.ConversationID == "" {
		t.Fatalf("session %+v", vs)
	}
	// The customer is normalized like any other, and the conversation is
	// the agent's to see.
	var conv struct {
		Node struct {
			Channel  struct{ ID string }
			Customer struct{ ID, Name, Phone, Email string }
		}
	}
	e.must(tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Conversation { channel { id } customer { id name phone email } } } }`,
		map[string]any{"id": vs.ConversationID}, &conv)
	if c := conv.Node.Customer; conv.Node.Channel.ID != ch.ID || c.Name != "Lan" || c.Phone != "+84912345678" || c.Email != "lan@example.vn" {
		t.Fatalf("conversation %+v", conv)
	}
	// The same phone again finds the customer and their open chat.
	again := e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Lan B", "phone": "+84912345678"})
	if again.ConversationID != vs.ConversationID || again.Token == vs.Token {
		t.Fatalf("second start %+v, first %+v", again, vs)
	}

	visitor := visitorEvents(t, e, liveTalkOrigin, vs.Token, event.Start.String())
	// START's content comes from the channel.
	if ev := visitor.waitMessage("Cảm ơn bạn đã liên hệ!"); ev.Message.Author != "SYSTEM" {
		t.Fatalf("start auto-message %+v", ev)
	}

	var sent struct {
		SendVisitorMessage struct{ ID, Author, Text string }
	}
	e.visitorGQL(liveTalkOrigin, vs.Token, sendVisitorText, map[string]any{"t": " Xin chào "}).decode(t, &sent)
	if sent.SendVisitorMessage.Author != "VISITOR" || sent.SendVisitorMessage.Text != "Xin chào" {
		t.Fatalf("sent %+v", sent)
	}
	// The agent's staff subscription has it.
	for {
		var ev messageEventOut
		staff.next(&ev)
		if ev.MessageEvents.Message.Text == "Xin chào" {
			break
		}
	}
	// And so does the inbox's search.
	var found struct{ Conversations struct{ TotalCount int } }
	e.must(tn.agentToken, `{ conversations(search: "Lan") { totalCount } }`, nil, &found)
	if found.Conversations.TotalCount != 1 {
		t.Fatalf("search found %d", found.Conversations.TotalCount)
	}

	// The agent replies with the reply mutation of every channel.
	const reply = `mutation($c: ID!, $t: String!) { sendMessage(input: {conversationId: $c, text: $t}) { id status } }`
	var out struct{ SendMessage struct{ ID, Status string } }
	e.must(tn.agentToken, reply, map[string]any{"c": vs.ConversationID, "t": "Chào Lan, mình giúp gì được?"}, &out)
	ev := visitor.waitMessage("Chào Lan, mình giúp gì được?")
	if ev.Message.Author != "AGENT" || ev.Message.AuthorName == nil || *ev.Message.AuthorName != "User AGENT" || ev.Message.ID != out.SendMessage.ID {
		t.Fatalf("reply event %+v", ev)
	}
	e.waitMessageStatus(tn.agentToken, out.SendMessage.ID, "DELIVERED")

	// An agent joining is announced with their name.
	e.must(tn.adminToken, `mutation($id: ID!, $u: ID) { assignConversation(id: $id, userId: $u) { id } }`,
		map[string]any{"id": vs.ConversationID, "u": tn.agentID}, nil)
	var joined visitorEvent
	for joined.Type != "AGENT_JOINED" {
		joined = visitor.nextEvent()
	}
	if joined.Agent == nil || joined.Agent.ID != tn.agentID || joined.Agent.Name != "User AGENT" {
		t.Fatalf("joined %+v", joined)
	}

	// The agent types: the visitor sees who. Only a LiveTalk chat takes it.
	const typing = `mutation($c: ID!) { sendTypingIndicator(conversationId: $c) }`
	e.must(tn.agentToken, typing, map[string]any{"c": vs.ConversationID}, nil)
	var typed visitorEvent
	for typed.Type != "TYPING" {
		typed = visitor.nextEvent()
	}
	if typed.Agent == nil || typed.Agent.ID != tn.agentID || typed.Agent.Name != "User AGENT" {
		t.Fatalf("typing %+v", typed)
	}
	zalo := newInboxFixture(t, e, orgOf(t, e, tn), gid.ID(tn.ownerID), channel.ChatPermissionSHARED)
	if r := e.gql(tn.ownerToken, typing, map[string]any{"c": zalo.conversation}); r.code() != "FAILED_PRECONDITION" || r.Errors[0].Extensions["reason"] != "CHANNEL_UNSUPPORTED" {
		t.Fatalf("typing on another channel: %+v", r.Errors)
	}
	joined = typed

	// The visitor goes away; a reply waits for them; they resume from
	// their last cursor and get it, and nothing from before.
	cursor := joined.Cursor
	visitor.conn.Close()
	e.must(tn.agentToken, reply, map[string]any{"c": vs.ConversationID, "t": "Bạn còn đó không?"}, &out)
	e.waitMessageStatus(tn.agentToken, out.SendMessage.ID, "SENT")
	resumed := visitorEvents(t, e, liveTalkOrigin, vs.Token, cursor)
	for {
		ev := resumed.nextEvent()
		if ev.Message != nil && (ev.Message.Text == "Xin chào" || ev.Message.Text == "Chào Lan, mình giúp gì được?") {
			t.Fatalf("resumed stream replayed %+v", ev)
		}
		if ev.Message != nil && ev.Message.Text == "Bạn còn đó không?" {
			break
		}
	}
	e.waitMessageStatus(tn.agentToken, out.SendMessage.ID, "DELIVERED")

	// The history, oldest first.
	var hist struct {
		Messages []struct {
			Author, Text string
			Delivered    bool
		}
	}
	e.visitorGQL(liveTalkOrigin, vs.Token, `{ messages(last: 10) { author text delivered } }`, nil).decode(t, &hist)
	var got []string
	for _, m := range hist.Messages {
		got = append(got, m.Author+":"+m.Text)
	}
	want := "SYSTEM:Cảm ơn bạn đã liên hệ!|VISITOR:Xin chào|AGENT:Chào Lan, mình giúp gì được?|AGENT:Bạn còn đó không?"
	if strings.Join(got, "|") != want {
		t.Fatalf("history %v\nwant %s", got, want)
	}
}

// waitMessageStatus waits until the message has status, as token sees it.
func (e *env) waitMessageStatus(token, id, status string) {
	e.t.Helper()
	deadline := time.Now().Add(patience)
	var last string
	for time.Now().Before(deadline) {
		var m struct{ Node struct{ Status string } }
		e.must(token, `query($id: ID!) { node(id: $id) { ... on Message { status } } }`, map[string]any{"id": id}, &m)
		if last = m.Node.Status; last == status {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("message %s stayed %s, want %s", id, last, status)
}

// TestLiveTalkFindsCustomer: a visitor is the customer with their phone,
// else the one with their email (both normalized as customers' are), else
// a new one whose source is the channel.
func TestLiveTalkFindsCustomer(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("LiveTalk Customers")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	byPhone := e.createCustomer(tn.ownerToken, map[string]any{"name": "Chị Hoa", "phone": "0987654321"})
	byEmail := e.createCustomer(tn.ownerToken, map[string]any{"name": "Anh Minh", "email": "minh@example.vn"})
	customerOf := func(vs visitorSession) string {
		var out struct {
			Node struct{ Customer struct{ ID string } }
		}
		e.must(tn.ownerToken, `query($id: ID!) { node(id: $id) { ... on Conversation { customer { id } } } }`, map[string]any{"id": vs.ConversationID}, &out)
		return out.Node.Customer.ID
	}
	if got := customerOf(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Hoa", "phone": "+84 987 654 321", "email": "minh@example.vn"})); got != byPhone {
		t.Fatalf("by phone: %s, want %s", got, byPhone)
	}
	if got := customerOf(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Minh", "email": " MINH@Example.VN "})); got != byEmail {
		t.Fatalf("by email: %s, want %s", got, byEmail)
	}
	fresh := customerOf(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Người mới"}))
	if fresh == byPhone || fresh == byEmail || fresh == "" {
		t.Fatalf("new visitor: %s", fresh)
	}
	var c struct{ Node struct{ Name string } }
	e.must(tn.ownerToken, `query($id: ID!) { node(id: $id) { ... on Customer { name } } }`, map[string]any{"id": fresh}, &c)
	if c.Node.Name != "Người mới" {
		t.Fatalf("new customer %+v", c)
	}
}

// TestLiveTalkDistribution: a LiveTalk chat is distributed like any
// channel's, by the channel's rule, or to the department or agent the
// visitor chose in the widget.
func TestLiveTalkDistribution(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("LiveTalk Rules")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	agent2, agent2Token, _ := e.createUser(tn.ownerToken, "AGENT")
	for _, tok := range []string{tn.agentToken, agent2Token} {
		e.must(tok, `mutation { setPresence(status: ONLINE) { presence } }`, nil, nil)
	}
	var dep struct{ CreateDepartment struct{ ID string } }
	e.must(tn.adminToken, `mutation($a: ID!) { createDepartment(input: {name: "Bán hàng", agentIds: [$a], method: SEQUENTIAL}) { id } }`,
		map[string]any{"a": agent2}, &dep)
	state := func(vs visitorSession) (string, string) {
		var out struct {
			Node struct {
				DistributionState string
				Assignee          *struct{ ID string }
				OfferedTo         []struct{ ID string }
			}
		}
		e.must(tn.ownerToken, `query($id: ID!) { node(id: $id) { ... on Conversation { distributionState assignee { id } offeredTo { id } } } }`,
			map[string]any{"id": vs.ConversationID}, &out)
		who := ""
		switch n := out.Node; {
		case n.Assignee != nil:
			who = n.Assignee.ID
		case len(n.OfferedTo) > 0:
			who = n.OfferedTo[0].ID
		}
		return out.Node.DistributionState, who
	}

	type choice struct {
		ID     string
		Online bool
	}
	var w struct {
		Widget struct{ Departments, Agents []choice }
	}
	widget := func() {
		t.Helper()
		e.visitorGQL(liveTalkOrigin, "", `query($k: String!) { widget(key: $k) { departments { id online } agents { id online } } }`,
			map[string]any{"k": *ch.WidgetKey}).decode(t, &w)
	}
	settings := func(in map[string]any) {
		t.Helper()
		e.must(tn.adminToken, `mutation($c: ID!, $in: LiveTalkSettingsInput!) { updateLiveTalkSettings(channelId: $c, input: $in) { startBy } }`,
			map[string]any{"c": ch.ID, "in": in}, nil)
	}
	const start = `mutation($in: StartChatInput!) { startChat(input: $in) { token } }`
	refused := func(field string, in map[string]any) {
		t.Helper()
		in["key"], in["name"] = *ch.WidgetKey, "Ba"
		if r := e.visitorGQL(liveTalkOrigin, "", start, map[string]any{"in": in}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != field {
			t.Fatalf("%s: %+v", field, r.Errors)
		}
	}
	// Until the settings list some, the widget offers no choice.
	if widget(); len(w.Widget.Departments)+len(w.Widget.Agents) != 0 {
		t.Fatalf("choices by default %+v", w.Widget)
	}
	// Start by department: the widget offers the departments the settings
	// list (online: an agent of theirs is), and choosing one offers the
	// chat by the department's method.
	settings(map[string]any{"startBy": "DEPARTMENT", "departmentIds": []string{dep.CreateDepartment.ID}})
	if widget(); len(w.Widget.Departments) != 1 || w.Widget.Departments[0].ID != dep.CreateDepartment.ID ||
		!w.Widget.Departments[0].Online || len(w.Widget.Agents) != 0 {
		t.Fatalf("choices by department %+v", w.Widget)
	}
	if s, who := state(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Hai", "departmentId": dep.CreateDepartment.ID})); s != "OFFERED" || who != agent2 {
		t.Fatalf("chosen department: %s %s", s, who)
	}
	refused("input.agentId", map[string]any{"agentId": tn.agentID})
	refused("input.departmentId", map[string]any{"departmentId": "dep_01JD3Q2V5Z8N4M7K1P6R9T0W2X"})
	// Start by agent: choosing one of the agents listed assigns them.
	settings(map[string]any{"startBy": "AGENT", "agentIds": []string{tn.agentID}})
	if widget(); len(w.Widget.Agents) != 1 || w.Widget.Agents[0].ID != tn.agentID || len(w.Widget.Departments) != 0 {
		t.Fatalf("choices by agent %+v", w.Widget)
	}
	if s, who := state(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Một", "agentId": tn.agentID})); s != "ASSIGNED" || who != tn.agentID {
		t.Fatalf("chosen agent: %s %s", s, who)
	}
	other := e.newTenant("LiveTalk Rules Other")
	refused("input.agentId", map[string]any{"agentId": other.agentID})
	refused("input.agentId", map[string]any{"agentId": agent2})
	refused("input.departmentId", map[string]any{"departmentId": dep.CreateDepartment.ID})
	// The channel's rule distributes the chats of visitors who chose no one.
	e.must(tn.adminToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Website", "channelIds": []string{ch.ID}, "agentIds": []string{agent2}, "method": "ROUND_ROBIN",
	}}, nil)
	if s, who := state(e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": "Bốn"})); s != "ASSIGNED" || who != agent2 {
		t.Fatalf("rule: %s %s", s, who)
	}
}
