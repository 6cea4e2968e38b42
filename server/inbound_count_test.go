package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
)

// Statements of inbound processing that TestInboundStatementCount pins.
const (
	// claimStatements are those of one claim of a batch of webhook events:
	// the due events, locked, and their lease.
	claimStatements = 2
	// openConversationStatements are those of a customer's message to a
	// conversation still open: the event, taken and marked processed; the
	// conversation, found through the identity; the message; the
	// conversation's counters.
	openConversationStatements = 4
	// autoMessageStatements are those of reading a channel's auto-messages,
	// once per transaction.
	autoMessageStatements = 1
	// appendStatements are those of appending the events of a
	// transaction's messages: their numbers of the log, and the events.
	appendStatements = 2
	// newCustomerStatements bounds those of a message from a user the
	// channel does not know yet, which creates their customer, identity
	// and conversation, its events included.
	newCustomerStatements = 17
)

// TestInboundStatementCount pins the SQL statements of processing Zalo
// messages, so that they cannot creep back: a batch of messages from
// customers whose conversations are open, processed in one transaction,
// costs one claim, openConversationStatements each, one read of the
// channel's auto-messages and one append of their events (two statements,
// however many events), whatever the batch size: a message alone costs 7,
// and each one more in its transaction 4; a new user's first message at
// most newCustomerStatements.
func TestInboundStatementCount(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	w := newWebhookEnvOn(t, db)
	const users = 5
	send := func(user int, text string) string {
		id := w.msgID("count")
		w.sendZalo(w.userEvent("user_send_text", fmt.Sprint("u-count-", user), map[string]any{"msg_id": id, "text": text}))
		return id
	}
	report := func() string { return strings.Join(counter.Queries(), "\n") }

	// First messages: each opens a customer, an identity and a
	// conversation.
	send(0, "Xin chào")
	counter.Reset()
	if n := w.process(); n != 1 {
		t.Fatalf("processed %d events, want 1", n)
	}
	if got := counter.Count() - claimStatements; got > newCustomerStatements {
		t.Errorf("a new user's first message: %d statements, want at most %d:\n%s", got, newCustomerStatements, report())
	}
	for u := 1; u < users; u++ {
		send(u, "Xin chào")
	}
	w.process()

	for _, batch := range []int{1, users} {
		ids := make([]string, batch)
		for i := range batch {
			ids[i] = send(i, fmt.Sprint("Còn hàng không? ", batch))
		}
		before := w.lastSeq()
		counter.Reset()
		if n := w.process(); n != batch {
			t.Fatalf("processed %d events, want %d", n, batch)
		}
		want := claimStatements + batch*openConversationStatements + autoMessageStatements + appendStatements
		if got := counter.Count(); got != want {
			t.Errorf("%d messages to open conversations: %d statements, want %d:\n%s", batch, got, want, report())
		}
		if got := counter.CountContaining("event_seq"); got != 1 {
			t.Errorf("%d messages: %d statements take numbers of the log, want one for their transaction", batch, got)
		}
		for _, id := range ids {
			if n := w.countMessages(w.oa, id); n != 1 {
				t.Errorf("message %s stored %d times", id, n)
			}
		}
		// Each message's two events, in order and numbered without gaps.
		evs, last := w.eventsAfter(before)
		if len(evs) != 2*batch || last != before+int64(2*batch) {
			t.Fatalf("%d events up to seq %d after %d, want %d", len(evs), last, before, 2*batch)
		}
		for i := 0; i < len(evs); i += 2 {
			m, c := evs[i], evs[i+1]
			if m.Topic != string(event.TopicMessage) || m.Type != event.TypeCreated || m.MessageID == "" ||
				c.Topic != string(event.TopicConversation) || c.Type != event.TypeUpdated || c.ConversationID != m.ConversationID {
				t.Errorf("events %d and %d: %+v, %+v, want a MESSAGE CREATED and its CONVERSATION UPDATED", i, i+1, m, c)
			}
			msg := w.db.Client.Message.GetX(w.sys(), m.MessageID)
			if msg.Direction != message.DirectionINBOUND || msg.ConversationID != m.ConversationID {
				t.Errorf("event %d names %+v", i, msg)
			}
		}
	}
}
