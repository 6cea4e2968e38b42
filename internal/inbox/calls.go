package inbox

import (
	"context"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Calls applies the voice-call webhooks of Zalo OAs inside the inbox's
// processing transaction, so what they change commits with the event's
// processing or not at all, and a retried event is applied again from
// scratch. internal/call implements it.
type Calls interface {
	// ApplyConsent applies oa_send_consent and user_reply_consent of OA
	// ch, which Zalo reported at (never later than now).
	ApplyConsent(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) error
	// ApplyCall applies user_call_oa and oa_call_user of OA ch, reported
	// at, about the call of customer customerID (created by the inbox for
	// an unknown caller). It returns the CALL events to append and the
	// reply to send the caller, or "".
	ApplyCall(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time, customerID gid.ID) ([]event.Entry, string, error)
}

// call applies a call event: the caller becomes a customer as for
// messages, the calls package records the call, and the reply it asks for
// is queued in the caller's open conversation as a consultation message,
// through the delivery queue.
func (p *processing) call(ctx context.Context, e *zalo.Event, at time.Time) error {
	if p.calls == nil || e.UserID() == "" {
		return nil
	}
	idt, err := p.identity(ctx, e.UserID(), "")
	if err != nil {
		return err
	}
	evs, reply, err := p.calls.ApplyCall(ctx, p.tx, p.ch, e, at, idt.CustomerID)
	if err != nil {
		return err
	}
	p.events = append(p.events, evs...)
	if strings.TrimSpace(reply) == "" || p.queue == nil {
		return nil
	}
	conv, created, err := p.conversation(ctx, idt.CustomerID)
	if err != nil {
		return err
	}
	conv.Edges.Channel = p.ch
	_, entry, err := p.queue(ctx, p.tx, conv, Outgoing{Kind: message.KindTEXT, Text: reply}, p.now)
	if refused, ok := apierr.As(err); ok && refused.Code == apierr.FailedPrecondition {
		return nil // the channel cannot send now; a reply later would be stale
	}
	if err != nil {
		return err
	}
	if created {
		p.emit(event.TopicConversation, event.TypeCreated, conv.ID, "")
		if p.router != nil {
			evs, err := p.router.Route(ctx, p.tx, conv, p.ch)
			if err != nil {
				return err
			}
			p.events = append(p.events, evs...)
		}
	}
	p.events = append(p.events, entry)
	return nil
}

// HandleCalls makes c apply the call webhooks. Call it once at start-up,
// before the inbox processes webhooks.
func (s *Service) HandleCalls(c Calls) { s.calls = c }
