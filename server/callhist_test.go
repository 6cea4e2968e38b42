package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// callEnded posts and processes the webhook of a call that ended.
func (c *callEnv) callEnded(ev zalofake.CallEnded) {
	c.t.Helper()
	if ev.OAID == "" {
		ev.OAID = testOAID
	}
	c.sendZalo(ev.Event(testZaloAppID))
	c.process()
}

// deliverAll runs the delivery queue until it is empty.
func (c *callEnv) deliverAll() {
	c.t.Helper()
	for {
		n, err := c.app.inbox.DeliverDue(context.Background())
		if err != nil {
			c.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// sentTo returns the texts the fake OA sent to the Zalo user.
func (c *callEnv) sentTo(user string) []string {
	var out []string
	for _, m := range c.zfake.Sent() {
		if m.UserID == user {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestCallWebhooks(t *testing.T) {
	c := newCallEnv(t)
	const outOfHours, busy = "Ngoài giờ làm việc ạ", "Tư vấn viên đang bận ạ"
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": everyDay,
		"outOfHoursReply": outOfHours, "busyReply": busy}).decode(t, nil)
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	_, seq := c.callEvents(0)
	now := c.clock.Now()

	t.Run("InboundFromAnUnknownCaller", func(t *testing.T) {
		c.callEnded(zalofake.CallEnded{UserID: "zu-new-caller", CallID: "zc-in-1", Init: now.Add(-2 * time.Minute),
			Duration: 90 * time.Second, Talk: 75 * time.Second, Waiting: 15 * time.Second, StatusCode: 0,
			RecordingURL: "https://rec.example/zc-in-1.mp3"})
		idt := c.identityOf(c.oa, "zu-new-caller")
		if idt == nil {
			t.Fatal("the unknown caller did not become a customer")
		}
		got := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-in-1")).OnlyX(c.sys())
		if got.Direction != entcall.DirectionINBOUND || got.Status != entcall.StatusENDED || *got.Result != entcall.ResultANSWERED ||
			got.CustomerID != idt.CustomerID || *got.DurationSeconds != 75 || !got.StartedAt.Equal(now.Add(-2*time.Minute)) ||
			!got.EndedAt.Equal(now.Add(-30*time.Second)) || !got.AnsweredAt.Equal(now.Add(-105*time.Second)) ||
			*got.RecordingURL != "https://rec.example/zc-in-1.mp3" {
			t.Fatalf("call %+v", got)
		}
		var evs []string
		evs, seq = c.callEvents(seq)
		if fmt.Sprint(evs) != "[RINGING ANSWERED ENDED]" {
			t.Fatalf("events %v", evs)
		}
		// Zalo's retry, and a late event with the same call_id that says
		// otherwise, change nothing.
		c.callEnded(zalofake.CallEnded{UserID: "zu-new-caller", CallID: "zc-in-1", Init: now.Add(-2 * time.Minute),
			Duration: 90 * time.Second, Talk: 75 * time.Second})
		c.callEnded(zalofake.CallEnded{UserID: "zu-new-caller", CallID: "zc-in-1", Outbound: true, Init: now.Add(-2 * time.Minute),
			Duration: 10 * time.Second, StatusCode: 1, Timestamp: now})
		if n := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-in-1")).CountX(c.sys()); n != 1 {
			t.Fatalf("%d calls for one call_id", n)
		}
		again := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-in-1")).OnlyX(c.sys())
		if *again.Result != entcall.ResultANSWERED || !again.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("an ENDED call changed: %+v", again)
		}
		if evs, _ := c.callEvents(seq); len(evs) != 0 {
			t.Fatalf("duplicates appended %v", evs)
		}
		if len(c.sentTo("zu-new-caller")) != 0 {
			t.Fatal("an answered call in hours got a reply")
		}
	})

	t.Run("OutOfOrderEvents", func(t *testing.T) {
		// The later call's event arrives first; each keeps its own times.
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-in-3", Init: now.Add(-time.Minute), Duration: 20 * time.Second, Talk: 10 * time.Second})
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-in-2", Init: now.Add(-10 * time.Minute), Duration: 30 * time.Second, StatusCode: 1})
		second := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-in-2")).OnlyX(c.sys())
		third := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-in-3")).OnlyX(c.sys())
		if *second.Result != entcall.ResultREJECTED || !second.StartedAt.Equal(now.Add(-10*time.Minute)) || second.AnsweredAt != nil ||
			*third.Result != entcall.ResultANSWERED || !third.StartedAt.Equal(now.Add(-time.Minute)) {
			t.Fatalf("calls %+v %+v", second, third)
		}
		_, seq = c.callEvents(seq)
	})

	t.Run("OutboundCompletesTheTicket", func(t *testing.T) {
		ticket := c.db.Client.Call.Create().SetChannelID(c.oa.ID).SetCustomerID(c.customer).SetOperatorID(gid.ID(c.tn.adminID)).
			SetDirection(entcall.DirectionOUTBOUND).SetStatus(entcall.StatusRINGING).SetStartedAt(now.Add(-time.Minute)).
			SetTicketExpiresAt(now.Add(time.Minute)).SaveX(c.sys())
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-out-1", Outbound: true, Init: now.Add(-50 * time.Second),
			Duration: 40 * time.Second, Talk: 30 * time.Second, AgentID: c.tn.adminID})
		got := c.db.Client.Call.GetX(c.sys(), ticket.ID)
		if got.Status != entcall.StatusENDED || *got.Result != entcall.ResultANSWERED || *got.ProviderCallID != "zc-out-1" ||
			*got.DurationSeconds != 30 || !got.StartedAt.Equal(ticket.StartedAt) {
			t.Fatalf("ticket's call %+v", got)
		}
		// Without a ticket, an outbound call is recorded on its own, its
		// operator the agent Zalo names; no talk and no known code is NO_ANSWER.
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-out-2", Outbound: true, Init: now.Add(-20 * time.Second),
			Duration: 15 * time.Second, StatusCode: 99, AgentID: c.tn.adminID})
		own := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-out-2")).OnlyX(c.sys())
		if own.ID == ticket.ID || *own.Result != entcall.ResultNO_ANSWER || own.OperatorID == nil || *own.OperatorID != gid.ID(c.tn.adminID) {
			t.Fatalf("call %+v", own)
		}
		var evs []string
		if evs, seq = c.callEvents(seq); fmt.Sprint(evs) != "[ANSWERED ENDED ENDED]" {
			t.Fatalf("events %v", evs)
		}
	})

	t.Run("BusyReply", func(t *testing.T) {
		// The only operator holds a ticket: a missed call gets the busy reply.
		c.db.Client.Call.Create().SetChannelID(c.oa.ID).SetCustomerID(c.customer).SetOperatorID(gid.ID(c.tn.adminID)).
			SetDirection(entcall.DirectionOUTBOUND).SetStatus(entcall.StatusRINGING).SetStartedAt(now).ExecX(c.sys())
		c.callEnded(zalofake.CallEnded{UserID: "zu-busy", CallID: "zc-in-busy", Init: now.Add(-30 * time.Second), Duration: 20 * time.Second})
		c.deliverAll()
		if got := c.sentTo("zu-busy"); fmt.Sprint(got) != "["+busy+"]" {
			t.Fatalf("sent %q", got)
		}
	})

	t.Run("OutOfHoursReply", func(t *testing.T) {
		// Saturday 16:00 in Vietnam is outside weekday windows.
		c.settings(c.tn.adminToken, map[string]any{"windows": []map[string]any{
			{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI"}, "start": "08:00", "end": "17:30"},
		}}).decode(t, nil)
		c.callEnded(zalofake.CallEnded{UserID: "zu-late", CallID: "zc-in-late", Init: now.Add(-30 * time.Second), Duration: 20 * time.Second})
		c.deliverAll()
		if got := c.sentTo("zu-late"); fmt.Sprint(got) != "["+outOfHours+"]" {
			t.Fatalf("sent %q", got)
		}
	})
}

const callsQuery = `query($first: Int, $where: CallWhereInput, $search: String) {
	calls(first: $first, where: $where, search: $search) {
		totalCount edges { node { id providerCallId direction kind result operator { id } customer { id name } channel { id } } } } }`

// historyIDs returns the providerCallIds calls answers with, in order.
func (c *callEnv) historyIDs(token string, where map[string]any, search string) string {
	c.t.Helper()
	var out struct {
		Calls struct {
			Edges []struct {
				Node struct{ ProviderCallID string }
			}
		}
	}
	vars := map[string]any{"first": 50, "search": search}
	if where != nil {
		vars["where"] = where
	}
	c.must(token, callsQuery, vars, &out)
	var ids []string
	for _, e := range out.Calls.Edges {
		ids = append(ids, e.Node.ProviderCallID)
	}
	return fmt.Sprint(ids)
}

func TestCallHistory(t *testing.T) {
	c := newCallEnv(t)
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": everyDay}).decode(t, nil)
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	c.must(c.tn.adminToken, `mutation($id: ID!) { updateCustomer(id: $id, input: {name: "Nguyễn Thị Hoa"}) { id } }`,
		map[string]any{"id": c.customer}, nil)
	c.db.Client.User.UpdateOneID(gid.ID(c.tn.adminID)).SetName("Trần Văn Đức").ExecX(c.sys())
	now := c.clock.Now()
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "h1", Init: now.Add(-10 * time.Minute), Duration: time.Minute, Talk: 50 * time.Second})
	c.callEnded(zalofake.CallEnded{UserID: "zu-other", CallID: "h2", Init: now.Add(-5 * time.Minute), Duration: 20 * time.Second})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "h3", Outbound: true, Video: true, Init: now.Add(-time.Minute),
		Duration: 30 * time.Second, AgentID: c.tn.adminID})

	admin := c.tn.adminToken
	for _, tc := range []struct {
		name   string
		where  map[string]any
		search string
		want   string
	}{
		{"NewestFirst", nil, "", "[h3 h2 h1]"},
		{"SearchCustomerWithoutDiacritics", nil, "nguyen THI hoa", "[h3 h1]"},
		{"SearchCustomerPhone", nil, "0912 345 678", "[h3 h1]"},
		{"SearchOperator", nil, "tran van duc", "[h3]"},
		{"SearchNothing", nil, "không ai", "[]"},
		{"Result", map[string]any{"result": "MISSED"}, "", "[h2]"},
		{"ResultIn", map[string]any{"resultIn": []string{"ANSWERED", "NO_ANSWER"}}, "", "[h3 h1]"},
		{"Direction", map[string]any{"direction": "OUTBOUND"}, "", "[h3]"},
		{"Kind", map[string]any{"kind": "VIDEO"}, "", "[h3]"},
		{"Operator", map[string]any{"hasOperatorWith": []map[string]any{{"id": c.tn.adminID}}}, "", "[h3]"},
		{"Channel", map[string]any{"hasChannelWith": []map[string]any{{"id": c.oa.ID}}}, "", "[h3 h2 h1]"},
		{"StartedAtRange", map[string]any{"startedAtGTE": now.Add(-6 * time.Minute), "startedAtLT": now.Add(-2 * time.Minute)}, "", "[h2]"},
		{"SearchAndFilter", map[string]any{"direction": "INBOUND"}, "hoa", "[h1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.historyIDs(admin, tc.where, tc.search); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}

	// An agent sees the calls of customers whose conversations they may
	// see, and every call of an OA they operate.
	t.Run("AgentSeesWhatTheyMayFollow", func(t *testing.T) {
		hidden := c.db.Client.Customer.Query().Where(customer.Name("Khách Zalo ther")).OnlyX(c.sys())
		if n := c.db.Client.Conversation.Query().Where(conversation.CustomerID(hidden.ID)).CountX(c.sys()); n != 0 {
			t.Fatalf("the other caller has %d conversations", n)
		}
		// The OA is ONLY_ME, its admin's: its conversations are hidden from
		// the agent, and so are its calls.
		if got := c.historyIDs(c.tn.agentToken, nil, ""); got != "[]" {
			t.Fatalf("an agent sees %s of an ONLY_ME OA's calls", got)
		}
		c.must(c.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
			map[string]any{"id": c.oa.ID}, nil)
		if got := c.historyIDs(c.tn.agentToken, nil, ""); got != "[h3 h1]" {
			t.Fatalf("a non-operator agent sees %s, want the calls of the customer with a conversation", got)
		}
		c.addOperator(c.tn.adminToken, c.tn.agentID, "CUSTOMER_CARE").decode(t, nil)
		if got := c.historyIDs(c.tn.agentToken, nil, ""); got != "[h3 h2 h1]" {
			t.Fatalf("an operator agent sees %s, want every call of the OA", got)
		}
	})

	// A search matching more customers than the calls query takes as a
	// list still finds their calls (through a subquery).
	t.Run("SearchMatchingThousandsOfCustomers", func(t *testing.T) {
		var bulk []*ent.CustomerCreate
		for i := range 1001 {
			name := fmt.Sprintf("Lý Thường Kiệt %d", i)
			bulk = append(bulk, c.db.Client.Customer.Create().SetName(name).SetSearchText(crm.SearchText(name, "", "")))
		}
		many := c.db.Client.Customer.CreateBulk(bulk...).SaveX(c.sys())
		for i, cu := range []*ent.Customer{many[0], many[1000]} {
			c.db.Client.Call.Create().SetChannelID(c.oa.ID).SetCustomerID(cu.ID).SetDirection(entcall.DirectionINBOUND).
				SetStatus(entcall.StatusENDED).SetResult(entcall.ResultMISSED).SetStartedAt(now.Add(-time.Duration(20+i) * time.Minute)).
				SetProviderCallID(fmt.Sprint("many-", i)).ExecX(c.sys())
		}
		if got := c.historyIDs(admin, nil, "ly thuong kiet"); got != "[many-0 many-1]" {
			t.Fatalf("got %s", got)
		}
		if got := c.historyIDs(admin, nil, "ly thuong kiet 1000"); got != "[many-1]" {
			t.Fatalf("got %s", got)
		}
	})
}

const callEventsSubscription = `subscription($after: Cursor) { callEvents(after: $after) {
	cursor type call { providerCallId direction result } permission { id status } } }`

type callEventOut struct {
	CallEvents struct {
		Cursor string
		Type   string
		Call   *struct{ ProviderCallID, Direction string }
	}
}

// nextCallEvents reads n events of s as "type:providerCallId".
func nextCallEvents(s *subscriber, n int) ([]string, []string) {
	var got, cursors []string
	for range n {
		var ev callEventOut
		s.next(&ev)
		id := ""
		if ev.CallEvents.Call != nil {
			id = ev.CallEvents.Call.ProviderCallID
		}
		got = append(got, ev.CallEvents.Type+":"+id)
		cursors = append(cursors, ev.CallEvents.Cursor)
	}
	return got, cursors
}

func TestCallEventsReplayAndVisibility(t *testing.T) {
	c := newCallEnv(t)
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": everyDay}).decode(t, nil)
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	// A SHARED OA in no rule: the agent sees every conversation of it, so
	// the calls of customers who wrote, and not those of a mere caller.
	c.must(c.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": c.oa.ID}, nil)
	now := c.clock.Now()

	// From the start of the log, not from "now": a stream without a cursor
	// starts wherever the log is when the server takes it up, which may be
	// after the call below (the test has made no call event before it).
	live := subscribe(t, c.env, c.tn.adminToken, callEventsSubscription, map[string]any{"after": event.Start.String()})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "e1", Init: now.Add(-3 * time.Minute), Duration: time.Minute, Talk: 30 * time.Second})
	got, cursors := nextCallEvents(live, 3)
	if fmt.Sprint(got) != "[RINGING:e1 ANSWERED:e1 ENDED:e1]" {
		t.Fatalf("live %v", got)
	}
	c.callEnded(zalofake.CallEnded{UserID: "zu-stranger", CallID: "e2", Init: now.Add(-2 * time.Minute), Duration: 20 * time.Second})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "e3", Init: now.Add(-time.Minute), Duration: 20 * time.Second})
	c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)

	from := map[string]any{"after": cursors[0]}
	admin := subscribe(t, c.env, c.tn.adminToken, callEventsSubscription, from)
	if got, _ := nextCallEvents(admin, 6); fmt.Sprint(got) != "[ANSWERED:e1 ENDED:e1 RINGING:e2 ENDED:e2 RINGING:e3 ENDED:e3]" {
		t.Fatalf("admin replay %v", got)
	}
	var perm callEventOut
	admin.next(&perm)
	if perm.CallEvents.Type != "PERMISSION_REQUESTED" || perm.CallEvents.Call != nil {
		t.Fatalf("permission event %+v", perm)
	}
	// The agent operates no OA: the stranger's call (no conversation) is
	// skipped; the permission of a customer they see is not.
	agent := subscribe(t, c.env, c.tn.agentToken, callEventsSubscription, from)
	if got, _ := nextCallEvents(agent, 5); fmt.Sprint(got) != "[ANSWERED:e1 ENDED:e1 RINGING:e3 ENDED:e3 PERMISSION_REQUESTED:]" {
		t.Fatalf("agent replay %v", got)
	}
	key := subscribe(t, c.env, c.tn.apiKey, callEventsSubscription, from)
	if got, _ := nextCallEvents(key, 6); fmt.Sprint(got) != "[ANSWERED:e1 ENDED:e1 RINGING:e2 ENDED:e2 RINGING:e3 ENDED:e3]" {
		t.Fatalf("API key replay %v", got)
	}
}

const callReportQuery = `query($from: Time!, $to: Time!, $c: ID, $by: CallReportGrouping!) {
	callReport(from: $from, to: $to, channelId: $c, groupBy: $by) {
		key operator { id } day total answered missed talkSeconds averageSeconds } }`

func TestCallReport(t *testing.T) {
	c := newCallEnv(t)
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": []map[string]any{
		{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}, "start": "00:00", "end": "24:00"}}}).decode(t, nil)
	now := c.clock.Now() // 2026-11-21 16:00 in Vietnam
	// 17:30 UTC on the 20th is 00:30 on the 21st in Vietnam.
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "r0", Init: time.Date(2026, 11, 20, 17, 30, 0, 0, time.UTC), Duration: 20 * time.Second, Talk: 10 * time.Second})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "r1", Init: time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC), Duration: 20 * time.Second})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "r2", Outbound: true, Init: now.Add(-time.Hour), Duration: 70 * time.Second,
		Talk: 60 * time.Second, AgentID: c.tn.adminID})
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "r3", Outbound: true, Init: now.Add(-30 * time.Minute), Duration: 10 * time.Second,
		StatusCode: 2, AgentID: c.tn.adminID})

	report := func(by string, channel any) string {
		t.Helper()
		var out struct {
			CallReport []struct {
				Key                                  string
				Operator                             *struct{ ID string }
				Day                                  *string
				Total, Answered, Missed, TalkSeconds int
				AverageSeconds                       float64
			}
		}
		c.must(c.tn.adminToken, callReportQuery, map[string]any{"from": now.Add(-48 * time.Hour), "to": now, "c": channel, "by": by}, &out)
		var b []string
		for _, r := range out.CallReport {
			who := ""
			if r.Operator != nil {
				who = "op"
			}
			if r.Day != nil {
				who = *r.Day
			}
			b = append(b, fmt.Sprintf("%s(%s) %d/%d/%d %ds avg %.1f", r.Key, who, r.Total, r.Answered, r.Missed, r.TalkSeconds, r.AverageSeconds))
		}
		return fmt.Sprint(b)
	}
	if got, want := report("DAY", c.oa.ID), "[2026-11-20(2026-11-20) 1/0/1 0s avg 0.0 2026-11-21(2026-11-21) 3/2/0 70s avg 35.0]"; got != want {
		t.Fatalf("by day\n got %s\nwant %s", got, want)
	}
	if got, want := report("OPERATOR", nil), "[NONE() 2/1/1 10s avg 10.0 "+c.tn.adminID+"(op) 2/1/0 60s avg 60.0]"; got != want {
		t.Fatalf("by operator\n got %s\nwant %s", got, want)
	}
	r := c.gql(c.tn.adminToken, callReportQuery, map[string]any{"from": now, "to": now, "by": "DAY"})
	if r.code() != "BAD_USER_INPUT" {
		t.Fatalf("an empty range: %s", r.code())
	}
}
