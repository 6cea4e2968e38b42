package inbox

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/event"
)

// Automation reacts to what happens in conversations, inside the inbox's
// own transactions, so that what it schedules, cancels or queues commits
// or rolls back with what caused it. The auto-messages implement it.
//
// Lock order: a timer worker holds the row of the timer it runs, then
// writes the conversation, then appends events. An Automation that touches
// a timer another transaction may be running must do so before the
// conversation row is written, or the two can deadlock; Replied is called
// at that point. CustomerWrote runs after the conversation was written, so
// it must not write a timer that may be running.
type Automation interface {
	// CustomerWrote runs in the transaction that stored a customer's
	// message in conv, on channel ch, at now; opened says the message
	// opened the conversation. It returns the MESSAGE CREATED events of
	// the messages it queued (with QueueMessage), which the caller appends
	// after its own.
	CustomerWrote(ctx context.Context, tx *ent.Tx, ch *ent.Channel, conv *ent.Conversation, opened bool, now time.Time) ([]event.Entry, error)
	// Replied runs in the transaction that stores a reply in conv, sent
	// with sendMessage or from the provider's own app, before the reply
	// is written.
	Replied(ctx context.Context, tx *ent.Tx, conv *ent.Conversation) error
}

// Automate makes a react to the inbox's conversations. Call it once at
// start-up, before the inbox serves requests or processes webhooks.
func (s *Service) Automate(a Automation) { s.automation = a }

// noAutomation is the Automation of an inbox that has none.
type noAutomation struct{}

func (noAutomation) CustomerWrote(context.Context, *ent.Tx, *ent.Channel, *ent.Conversation, bool, time.Time) ([]event.Entry, error) {
	return nil, nil
}

func (noAutomation) Replied(context.Context, *ent.Tx, *ent.Conversation) error { return nil }
