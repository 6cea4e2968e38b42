package inbox

import (
	"context"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/apierr"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The LiveTalk intake: a website visitor's chat (internal/livetalk) goes
// through the same steps as a Zalo or Messenger user's first message: the
// customer, the identity on the channel, the conversation, its
// distribution, its events and the auto-messages. There is no webhook to
// store first: the visitor API calls these in its own transaction.

// LiveTalkVisitor is who opens a LiveTalk chat: their ID on the channel
// (the identity's external ID) and what they typed in the widget, as they
// typed it (OpenLiveTalk normalizes it like any customer's).
type LiveTalkVisitor struct {
	VisitorID          string
	Name, Phone, Email string
	// DepartmentID or AgentID is whom the visitor chose to talk to, if
	// anyone (distribute.Engine.RouteChoice); the caller checked it.
	DepartmentID, AgentID gid.ID
}

// ReasonChatEnded is the FAILED_PRECONDITION reason of a visitor's message
// to a conversation agents have resolved: the visitor starts a new chat.
const ReasonChatEnded = "CHAT_ENDED"

// livetalk returns the processing of a LiveTalk event on ch in tx.
func (s *Service) livetalk(tx *ent.Tx, ch *ent.Channel, now time.Time) *processing {
	return &processing{tx: tx, ch: ch, now: now, auto: s.automation, router: s.router, calls: s.calls, zns: s.zns, queue: s.QueueMessage}
}

// OpenLiveTalk opens the visitor's chat on the LIVETALK channel ch in tx:
// it finds the customer with the visitor's phone, else their email, or
// creates one, gives them the identity v.VisitorID on ch, and returns
// their unresolved conversation there, opening it if need be. A new
// conversation is distributed (the channel's rule) and triggers the
// auto-messages of an opened conversation (START, a resent GREETING) in
// tx. ctx is the system of ch's organization. It returns the events to
// append before the commit.
func (s *Service) OpenLiveTalk(ctx context.Context, tx *ent.Tx, ch *ent.Channel, v LiveTalkVisitor, now time.Time) (*ent.Conversation, []event.Entry, error) {
	if ch.Kind != channel.KindLIVETALK {
		return nil, nil, apierr.New(apierr.NotFound, "channel not found")
	}
	ctx = tenancy.WithKnown(ctx, ch.ID)
	// A visitor need not give a name (the widget's settings say): the
	// customer then has the placeholder.
	var name string
	if strings.TrimSpace(v.Name) != "" {
		n, err := crm.NormalizeName(v.Name)
		if err != nil {
			return nil, nil, err
		}
		name = n
	}
	phone, err := crm.NormalizePhone(v.Phone)
	if err != nil {
		return nil, nil, err
	}
	email, err := crm.NormalizeEmail(v.Email)
	if err != nil {
		return nil, nil, err
	}
	p := s.livetalk(tx, ch, now)
	idt, err := p.identityOf(ctx, v.VisitorID, func() (gid.ID, error) {
		return liveTalkCustomer(ctx, tx, ch, v.VisitorID, name, phone, email)
	})
	if err != nil {
		return nil, nil, err
	}
	conv, created, err := p.conversation(ctx, idt.CustomerID)
	if err != nil || !created {
		return conv, nil, err
	}
	ctx = tenancy.WithKnown(ctx, conv.ID)
	p.emit(event.TopicConversation, event.TypeCreated, conv.ID, "")
	if p.router != nil {
		evs, err := p.router.RouteChoice(ctx, tx, conv, ch, v.DepartmentID, v.AgentID)
		if err != nil {
			return nil, nil, err
		}
		p.events = append(p.events, evs...)
	}
	queued, err := p.auto.CustomerWrote(ctx, tx, ch, conv, true, now)
	if err != nil {
		return nil, nil, err
	}
	p.events = append(p.events, queued...)
	// Distribution may have assigned it: read back for the caller.
	conv, err = tx.Conversation.Get(ctx, conv.ID)
	return conv, p.events, err
}

// liveTalkCustomer returns the customer a new visitor is: the one with
// their phone, else the one with their email, else a new one, in tx. The
// name and contact details are normalized already; an empty name gets the
// placeholder.
func liveTalkCustomer(ctx context.Context, tx *ent.Tx, ch *ent.Channel, visitorID, name, phone, email string) (gid.ID, error) {
	for _, find := range []struct {
		ok bool
		p  func() *ent.CustomerQuery
	}{
		{phone != "", func() *ent.CustomerQuery { return tx.Customer.Query().Where(customer.Phone(phone)) }},
		{email != "", func() *ent.CustomerQuery { return tx.Customer.Query().Where(customer.Email(email)) }},
	} {
		if !find.ok {
			continue
		}
		id, err := find.p().FirstID(ctx)
		if err == nil {
			return id, nil
		}
		if !ent.IsNotFound(err) {
			return "", err
		}
	}
	if name == "" {
		name = placeholderName(ch.Kind, fitID(visitorID, maxExternalID))
	}
	create := tx.Customer.Create().SetName(name).SetSourceChannelID(ch.ID)
	if phone != "" {
		create.SetPhone(phone)
	}
	if email != "" {
		create.SetEmail(email)
	}
	cus, err := create.Save(ctx)
	if err != nil {
		return "", err
	}
	return cus.ID, nil
}

// ReceiveLiveTalk stores a visitor's message, text and attachments already
// checked, in their conversation conversationID on ch, in tx, as a
// customer's message from Zalo or Messenger is stored: the conversation's
// counters, its events, and the auto-messages a customer's message
// triggers. A conversation resolved meanwhile is FAILED_PRECONDITION with
// reason CHAT_ENDED and changes nothing. ctx is the system of ch's
// organization. It returns the message and the events to append.
func (s *Service) ReceiveLiveTalk(ctx context.Context, tx *ent.Tx, ch *ent.Channel, visitorID string, conversationID gid.ID,
	text string, atts []schematype.Attachment, now time.Time) (*ent.Message, []event.Entry, error) {
	ended := &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonChatEnded,
		Message: "this chat has ended; start a new one"}
	open, err := tx.Conversation.Query().
		Where(conversation.ID(conversationID), conversation.ChannelID(ch.ID), conversation.StatusNEQ(conversation.StatusRESOLVED)).
		Exist(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !open {
		return nil, nil, ended
	}
	ctx = tenancy.WithKnown(ctx, ch.ID)
	p := s.livetalk(tx, ch, now)
	kind := message.KindTEXT
	if len(atts) > 0 {
		kind = kindOfAttachment(atts[0].Type)
	}
	if err := p.message(ctx, incoming{
		userID: visitorID, direction: message.DirectionINBOUND, kind: kind,
		text: text, attachments: atts, at: now,
	}); err != nil {
		return nil, nil, err
	}
	if p.stored.conv == nil || p.stored.conv.ID != conversationID {
		// Resolved between the check and the message: the message would
		// have opened another conversation, which the caller rolls back.
		return nil, nil, ended
	}
	m, err := tx.Message.Get(ctx, p.stored.msgID)
	return m, p.events, err
}

// kindOfAttachment is the message kind of an attachment type
// (checkOutgoing's).
func kindOfAttachment(typ string) message.Kind {
	switch typ {
	case AttachmentImage:
		return message.KindIMAGE
	case AttachmentAudio:
		return message.KindAUDIO
	case AttachmentVideo:
		return message.KindVIDEO
	}
	return message.KindFILE
}

// CheckVisitorMessage validates a visitor's message as sendMessage
// validates a reply (at most MaxTextLength characters, one attachment of
// type image, file, audio or video with an http(s) URL) and returns it
// normalized.
func CheckVisitorMessage(text string, atts []schematype.Attachment) ([]schematype.Attachment, error) {
	_, out, err := checkOutgoing(SendMessageInput{Text: text, Attachments: atts})
	return out, err
}

// AppendLiveTalkEvents appends the events OpenLiveTalk and ReceiveLiveTalk
// returned to orgID's log in tx, last, as every writer does.
func AppendLiveTalkEvents(ctx context.Context, tx *ent.Tx, orgID gid.ID, entries []event.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := event.AppendAll(viewer.SystemContext(ctx, orgID), tx, entries...)
	return err
}
