package main

import (
	"fmt"
	"testing"
	"time"

	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/internal/call"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// customerCalls returns the calls of the customer as the admin reads them
// through the history, as "providerCallId:result".
func (c *callEnv) customerCalls(customer gid.ID) string {
	c.t.Helper()
	var out struct {
		Calls struct {
			Edges []struct {
				Node struct {
					ID             gid.ID
					ProviderCallID *string
					Result         *string
				}
			}
		}
	}
	c.must(c.tn.adminToken, callsQuery, map[string]any{"first": 50, "where": map[string]any{
		"hasCustomerWith": []map[string]any{{"id": customer}},
	}}, &out)
	var got []string
	for _, e := range out.Calls.Edges {
		id, res := "", ""
		if p := e.Node.ProviderCallID; p != nil {
			id = *p
		}
		if r := e.Node.Result; r != nil {
			res = *r
		}
		got = append(got, id+":"+res)
	}
	return fmt.Sprint(got)
}

// TestCallReportedAfterTicketExpiry: Zalo reports a call when it ends,
// usually after the ticket's two minutes; by then the expiry has ended the
// ticket's call CANCELLED, and the report completes that call instead of
// recording a second one.
func TestCallReportedAfterTicketExpiry(t *testing.T) {
	c := newCallEnv(t)
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": everyDay}).decode(t, nil)
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
	c.grant("84912345678", 0)
	_, seq := c.callEvents(0)
	issued := c.clock.Now()
	var out struct{ StartCall ticketOut }
	c.startCall(c.tn.adminToken, c.customer, "AUDIO").decode(t, &out)
	tk := out.StartCall

	// The customer scans the QR code 30 s in and talks for 3.5 minutes;
	// the ticket expires meanwhile.
	if n := c.runTimers(c.app, call.TicketLifetime+time.Second); n != 1 {
		t.Fatalf("%d timers ran", n)
	}
	if got := c.customerCalls(c.customer); got != "[:CANCELLED]" {
		t.Fatalf("after expiry %s", got)
	}
	c.clock.Advance(3 * time.Minute)
	long := zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-long", Outbound: true, Init: issued.Add(30 * time.Second),
		Duration: 4 * time.Minute, Talk: 210 * time.Second, AgentID: c.tn.adminID}
	c.callEnded(long)
	if got := c.customerCalls(c.customer); got != "[zc-long:ANSWERED]" {
		t.Fatalf("after Zalo's report %s, want the ticket's call only", got)
	}
	got := c.db.Client.Call.GetX(c.sys(), tk.Call.ID)
	if got.Status != entcall.StatusENDED || *got.Result != entcall.ResultANSWERED || *got.DurationSeconds != 210 ||
		!got.StartedAt.Equal(issued) || !got.EndedAt.Equal(issued.Add(270*time.Second)) ||
		!got.AnsweredAt.Equal(issued.Add(60*time.Second)) || *got.OperatorID != gid.ID(c.tn.adminID) {
		t.Fatalf("the ticket's call %+v", got)
	}
	if evs, last := c.callEvents(seq); fmt.Sprint(evs) != "[RINGING ENDED ANSWERED ENDED]" {
		t.Fatalf("events %v", evs)
	} else {
		seq = last
	}

	t.Run("ProviderEndedCallIsNeverReopened", func(t *testing.T) {
		// Zalo's retry changes nothing; another call placed within the
		// same validity (a second scan) is a call of its own.
		c.callEnded(long)
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-again", Outbound: true, Init: issued.Add(100 * time.Second),
			Duration: 20 * time.Second, StatusCode: 1, AgentID: c.tn.adminID})
		if got := c.customerCalls(c.customer); got != "[zc-again:REJECTED zc-long:ANSWERED]" {
			t.Fatalf("calls %s", got)
		}
		if again := c.db.Client.Call.GetX(c.sys(), tk.Call.ID); !again.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("the ENDED call changed: %+v", again)
		}
		if evs, last := c.callEvents(seq); fmt.Sprint(evs) != "[ENDED]" {
			t.Fatalf("events %v", evs)
		} else {
			seq = last
		}
	})
	t.Run("OutsideTheValidityIsACallOfItsOwn", func(t *testing.T) {
		// A second ticket, expired unused; a call placed after its two
		// minutes was not made with it.
		c.clock.Advance(time.Minute)
		var second struct{ StartCall ticketOut }
		c.startCall(c.tn.adminToken, c.customer, "AUDIO").decode(t, &second)
		from := c.clock.Now()
		c.runTimers(c.app, call.TicketLifetime+time.Second)
		c.clock.Advance(time.Minute)
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: "zc-later", Outbound: true, Init: from.Add(call.TicketLifetime + time.Second),
			Duration: 30 * time.Second, Talk: 20 * time.Second, AgentID: c.tn.adminID})
		if got := c.customerCalls(c.customer); got != "[zc-later:ANSWERED :CANCELLED zc-again:REJECTED zc-long:ANSWERED]" {
			t.Fatalf("calls %s", got)
		}
		if r := c.db.Client.Call.GetX(c.sys(), second.StartCall.Call.ID); *r.Result != entcall.ResultCANCELLED || r.ProviderCallID != nil {
			t.Fatalf("the unused ticket's call %+v", r)
		}
	})
}

// TestInboundCallByPhone: Zalo may name a caller by phone number alone, or
// with a user ID the OA does not know yet; the number finds the customer
// who has it, normalized as customers' numbers are, or a new customer is
// created with it.
func TestInboundCallByPhone(t *testing.T) {
	c := newCallEnv(t)
	const outOfHours = "Ngoài giờ làm việc ạ"
	// Saturday 16:00 in Vietnam is outside weekday windows: every caller
	// who can be written to gets the out-of-hours reply.
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "outOfHoursReply": outOfHours, "windows": []map[string]any{
		{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI"}, "start": "08:00", "end": "17:30"},
	}}).decode(t, nil)
	now := c.clock.Now()
	customers := func() int { return c.db.Client.Customer.Query().CountX(c.sys()) }
	before := customers()
	ended := func(user, phone, id string) {
		c.callEnded(zalofake.CallEnded{UserID: user, Phone: phone, CallID: id, Init: now.Add(-time.Minute),
			Duration: 40 * time.Second, Talk: 30 * time.Second})
	}

	t.Run("PhoneOfAKnownCustomer", func(t *testing.T) {
		ended("", "84912345678", "zc-p1")
		if got := c.customerCalls(c.customer); got != "[zc-p1:ANSWERED]" {
			t.Fatalf("the customer's calls %s", got)
		}
		if customers() != before {
			t.Fatal("a customer was created for a known number")
		}
	})
	t.Run("NewNumberBecomesACustomer", func(t *testing.T) {
		ended("", "0987 000 111", "zc-p2")
		ended("", "+84987000111", "zc-p3") // the same number in another form
		cus := c.db.Client.Customer.Query().Where(customer.Phone("+84987000111")).OnlyX(c.sys())
		if cus.Name != "Khách Zalo 0111" || customers() != before+1 {
			t.Fatalf("new customer %+v, %d customers", cus, customers()-before)
		}
		if got := c.customerCalls(cus.ID); got != "[zc-p3:ANSWERED zc-p2:ANSWERED]" {
			t.Fatalf("the new customer's calls %s", got)
		}
	})
	t.Run("UnknownUserWithAKnownNumber", func(t *testing.T) {
		known := gid.ID(c.createCustomer(c.tn.adminToken, map[string]any{"name": "Lê Văn Tám", "phone": "0903 333 444"}))
		n := customers()
		ended("zu-by-phone", "84903333444", "zc-p4")
		if got := c.customerCalls(known); got != "[zc-p4:ANSWERED]" {
			t.Fatalf("the customer's calls %s", got)
		}
		if idt := c.identityOf(c.oa, "zu-by-phone"); idt == nil || idt.CustomerID != known || customers() != n {
			t.Fatalf("identity %+v, %d new customers", idt, customers()-n)
		}
		// The user can be written to: the reply reaches them.
		c.deliverAll()
		if got := c.sentTo("zu-by-phone"); fmt.Sprint(got) != "["+outOfHours+"]" {
			t.Fatalf("sent %q", got)
		}
		// Their next call, by user ID alone, is the same customer's.
		ended("zu-by-phone", "", "zc-p5")
		if got := c.customerCalls(known); got != "[zc-p5:ANSWERED zc-p4:ANSWERED]" {
			t.Fatalf("the customer's calls %s", got)
		}
	})
	t.Run("NoCallerIsIgnored", func(t *testing.T) {
		n := customers()
		ended("", "12", "zc-p6")
		if k := c.db.Client.Call.Query().Where(entcall.ProviderCallID("zc-p6")).CountX(c.sys()); k != 0 || customers() != n {
			t.Fatalf("%d calls, %d customers for an event naming no caller", k, customers()-n)
		}
	})
	c.deliverAll()
	if n := len(c.zfake.Sent()); n != 2 { // the out-of-hours replies of zu-by-phone's two calls
		t.Fatalf("Zalo sent %d messages: %+v", n, c.zfake.Sent())
	}
}
