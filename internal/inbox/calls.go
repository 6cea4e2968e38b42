package inbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/apierr"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
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
// messages (see caller), the calls package records the call, and the reply
// it asks for is queued in the caller's open conversation as a
// consultation message, through the delivery queue. Zalo sends messages to
// a user ID only, so a caller known by phone alone gets no reply.
func (p *processing) call(ctx context.Context, e *zalo.Event, at time.Time) error {
	if p.calls == nil {
		return nil
	}
	customerID, idt, err := p.caller(ctx, e.UserID(), e.Call.Phone)
	if err != nil || customerID == "" {
		return err
	}
	evs, reply, err := p.calls.ApplyCall(ctx, p.tx, p.ch, e, at, customerID)
	if err != nil {
		return err
	}
	p.events = append(p.events, evs...)
	if strings.TrimSpace(reply) == "" || p.queue == nil || idt == nil {
		return nil
	}
	conv, created, err := p.conversation(ctx, customerID)
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

// caller returns the customer a call event is about, and their identity on
// the OA when the event names a Zalo user. A user the OA knows is their
// identity's customer. Otherwise the event's phone number, normalized as
// customers' numbers are (E.164), finds the customer who has it, or a new
// customer is created with it; a new user becomes an identity of that
// customer. An event that names neither a user nor a valid number names
// no caller: "" and nil.
func (p *processing) caller(ctx context.Context, userID, rawPhone string) (gid.ID, *ent.Identity, error) {
	e164, err := crm.NormalizePhone(rawPhone)
	if err != nil {
		e164 = "" // a number Zalo sent that is not one names no one
	}
	if userID == "" {
		if e164 == "" {
			return "", nil, nil
		}
		id, err := p.customerByPhone(ctx, e164, phone.National(e164))
		return id, nil, err
	}
	var idt *ent.Identity
	if e164 == "" {
		idt, err = p.identity(ctx, userID, "")
	} else {
		idt, err = p.identityOf(ctx, userID, func() (gid.ID, error) {
			return p.customerByPhone(ctx, e164, fitID(userID, maxExternalID))
		})
	}
	if err != nil {
		return "", nil, err
	}
	return idt.CustomerID, idt, nil
}

// customerByPhone returns the organization's customer whose number is
// e164, creating one with it (named with a placeholder ending like hint)
// when none has it. Numbers are unique per organization, so when another
// processor creates that customer first, this one is found.
func (p *processing) customerByPhone(ctx context.Context, e164, hint string) (gid.ID, error) {
	find := func() (gid.ID, error) {
		id, err := p.tx.Customer.Query().Where(customer.Phone(e164)).OnlyID(ctx)
		if ent.IsNotFound(err) {
			return "", nil
		}
		return id, err
	}
	if id, err := find(); id != "" || err != nil {
		return id, err
	}
	var id gid.ID
	err := database.Savepoint(ctx, p.tx, "inbound_customer_phone", func() error {
		cus, err := p.tx.Customer.Create().
			SetName(placeholderName(p.ch.Kind, hint)).
			SetPhone(e164).
			SetSourceChannelID(p.ch.ID).
			Save(ctx)
		if err != nil {
			return err
		}
		id = cus.ID
		return nil
	})
	if ent.IsConstraintError(err) {
		if id, err = find(); err == nil && id == "" {
			err = fmt.Errorf("inbox: creating the customer with a phone of channel %s conflicted, yet none has it", p.ch.ID)
		}
	}
	return id, err
}

// ZNS applies the ZNS webhooks of Zalo OAs inside the inbox's processing
// transaction, as Calls does. internal/zns implements it.
type ZNS interface {
	// ApplyEvent applies e of OA ch, reported at, and reports whether
	// it was a ZNS event.
	ApplyEvent(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) (bool, error)
}

// HandleZNS makes z apply the ZNS webhooks. Call it once at start-up,
// before the inbox processes webhooks.
func (s *Service) HandleZNS(z ZNS) { s.zns = z }

// HandleCalls makes c apply the call webhooks. Call it once at start-up,
// before the inbox processes webhooks.
func (s *Service) HandleCalls(c Calls) { s.calls = c }
