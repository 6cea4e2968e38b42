package main

import (
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// TestMergeMovesCalls: merging a customer gives the survivor their calls,
// their call permissions and their open ticket, so the history, the
// interactions and the next call go on with the survivor.
func TestMergeMovesCalls(t *testing.T) {
	c := newCallEnv(t)
	admin := c.tn.adminToken
	c.settings(admin, map[string]any{"enabled": true, "windows": everyDay}).decode(t, nil)
	c.addOperator(admin, c.tn.adminID, "ADMIN").decode(t, nil)
	source := c.customer
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-before", Init: c.clock.Now().Add(-time.Hour), Duration: time.Minute, Talk: 40 * time.Second})
	c.requestPermission(admin, source).decode(t, nil)
	c.grant("84912345678", 0)
	issued := c.clock.Now()
	var tk struct{ StartCall ticketOut }
	c.startCall(admin, source, "AUDIO").decode(t, &tk)

	target := gid.ID(c.createCustomer(admin, map[string]any{"name": "Nguyễn Thị Hoa", "email": "hoa@example.com"}))
	c.must(admin, `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { id } }`,
		map[string]any{"s": source, "t": target}, nil)

	if got := c.customerCalls(target); got != "[: zc-before:ANSWERED]" {
		t.Fatalf("the survivor's calls %s", got)
	}
	if p := c.permission(target); p == nil || p.Status != "GRANTED" {
		t.Fatalf("the survivor's permission %+v", p)
	}
	c.customer = target
	if p := c.interactions(admin, map[string]any{"first": 10}); p.items != "[c: m:Cho tôi hỏi c:zc-before]" {
		t.Fatalf("the survivor's interactions %+v", p)
	}
	// Zalo reports the ticket's call after the merge: it completes the
	// survivor's call, found through the identity that moved with it.
	c.runTimers(c.app, 3*time.Minute)
	c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-ticket", Outbound: true, Init: issued.Add(20 * time.Second),
		Duration: 2 * time.Minute, Talk: 100 * time.Second, AgentID: c.tn.adminID})
	if got := c.customerCalls(target); got != "[zc-ticket:ANSWERED zc-before:ANSWERED]" {
		t.Fatalf("after the ticket's report %s", got)
	}
	// The grant moved too: the survivor can be called again.
	var again struct{ StartCall ticketOut }
	c.startCall(admin, target, "AUDIO").decode(t, &again)
	if again.StartCall.Call.Customer.ID != target {
		t.Fatalf("ticket %+v", again.StartCall)
	}
}
