package inbox

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/webhookevent"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// apply carries out one stored event in tx, as the system of the event's
// organization, and returns the events to append for it. chVersion is the
// version of the event's channel that takeEvent read, "" when there is
// none.
func (in *Inbound) apply(ctx context.Context, tx *ent.Tx, ev *ent.WebhookEvent, chVersion string, now time.Time) ([]event.Entry, error) {
	if ev.OrganizationID == nil || ev.ChannelID == nil || chVersion == "" {
		return nil, nil // nothing to attach it to; kept for diagnosis
	}
	ctx = viewer.SystemContext(ctx, *ev.OrganizationID)
	ch, err := in.channels.get(ctx, tx, *ev.OrganizationID, *ev.ChannelID, chVersion)
	if ch == nil || err != nil {
		return nil, err
	}
	// The channel is the organization's (the cache checks it, or the
	// tenant filter read it), and takeEvent's statement found it in tx.
	ctx = tenancy.WithKnown(ctx, ch.ID)
	p := &processing{tx: tx, ch: ch, now: now, auto: in.svc.automation, router: in.svc.router, calls: in.svc.calls, zns: in.svc.zns, queue: in.svc.QueueMessage}
	payload := stripNUL(ev.Payload)
	switch ev.Provider {
	case webhookevent.ProviderZALO:
		err = p.zalo(ctx, payload)
	case webhookevent.ProviderFACEBOOK:
		err = p.facebook(ctx, payload)
	}
	return p.events, err
}

// processing is the state of one event being applied: its transaction,
// its channel, and the log entries to append once the changes are made
// (appendEvents).
type processing struct {
	tx     *ent.Tx
	ch     *ent.Channel
	now    time.Time
	auto   Automation
	events []event.Entry
	router *distribute.Engine
	calls  Calls
	zns    ZNS
	// queue queues a message for delivery (Service.QueueMessage).
	queue func(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, out Outgoing, now time.Time) (*ent.Message, event.Entry, error)
	// stored are the conversation and the ID of the last message that
	// message stored, for callers that answer with them (ReceiveLiveTalk).
	stored struct {
		conv  *ent.Conversation
		msgID gid.ID
	}
}

// at returns when something the provider reports happened: its timestamp,
// but never later than now (a provider's clock may run ahead of ours) and
// now when the provider gave none.
func (p *processing) at(ts time.Time) time.Time {
	if ts.IsZero() || ts.After(p.now) {
		return p.now
	}
	return ts
}

// emit queues an event about one of the channel's conversations for the
// organization's log. Events of an ONLY_ME channel are for the user who
// connected it alone, like its conversations.
func (p *processing) emit(topic event.Topic, typ string, conversationID, messageID gid.ID) {
	e := event.Entry{
		OrgID:          p.ch.OrganizationID,
		Topic:          topic,
		Type:           typ,
		ChannelID:      p.ch.ID,
		ConversationID: conversationID,
		MessageID:      messageID,
	}
	if p.ch.ChatPermission == channel.ChatPermissionONLY_ME {
		e.AudienceUserID = p.ch.ConnectedByID
	}
	p.events = append(p.events, e)
}

// errEchoBeforeSent retries an echo that may be of a message still being
// delivered.
var errEchoBeforeSent = errors.New("inbox: an echo arrived while a send is in flight on its channel; retrying later")

// incoming is a message a provider reported: one the customer sent, or an
// echo of one the OA or page sent.
type incoming struct {
	userID      string // the customer's ID on the channel
	direction   message.Direction
	kind        message.Kind
	text        string
	attachments []schematype.Attachment
	providerID  string
	at          time.Time
}

// message stores m in the open conversation of its customer, creating the
// customer, their identity and the conversation as needed. A message whose
// provider ID the channel already has is a no-op: a retry, or the echo of
// our own send.
//
// A customer's message to a conversation still open costs three
// statements besides taking the event: the conversation, found through the
// identity; the message, inserted unless the channel has its provider ID;
// the conversation's counters. The automation reads the channel's
// auto-messages once per transaction, and the events are appended with
// those of the other events of the transaction (appendEvents).
func (p *processing) message(ctx context.Context, m incoming) error {
	if m.userID == "" {
		return nil
	}
	m.providerID = fitID(m.providerID, maxProviderMessageID)
	inbound := m.direction == message.DirectionINBOUND
	if !inbound && m.providerID != "" {
		// Most echoes are of our own sends, stored already: they must
		// change nothing, not even the automation's timers, which the
		// insert's own check would come too late for.
		dup, err := p.tx.Message.Query().
			Where(message.ChannelID(p.ch.ID), message.ProviderMessageID(m.providerID)).
			Exist(ctx)
		if err != nil || dup {
			return err
		}
		// The echo of our own send can arrive before the delivery worker
		// has recorded the provider's ID. While a send is in flight on
		// this channel, wait for it (the event is retried with backoff)
		// rather than store the same message twice.
		inFlight, err := p.tx.Message.Query().
			Where(
				message.ChannelID(p.ch.ID),
				message.DirectionEQ(message.DirectionOUTBOUND),
				message.StatusEQ(message.StatusQUEUED),
				message.LeaseUntilGT(p.now),
			).
			Exist(ctx)
		if err != nil {
			return err
		}
		if inFlight {
			return errEchoBeforeSent
		}
	}
	conv, created, err := p.openConversation(ctx, m.userID)
	if err != nil {
		return err
	}
	// Read or created in tx under the tenant filter.
	ctx = tenancy.WithKnown(ctx, conv.ID)

	if !inbound {
		// A reply sent from the provider's own app answers the customer
		// too. Before the conversation is written: see Automation.
		if err := p.auto.Replied(ctx, p.tx, conv); err != nil {
			return err
		}
	}
	create := p.tx.Message.Create().
		SetConversationID(conv.ID).
		SetChannelID(p.ch.ID).
		SetDirection(m.direction).
		SetKind(m.kind).
		SetText(m.text).
		SetSentAt(m.at).
		SetCreatedAt(m.at)
	if len(m.attachments) > 0 {
		create.SetAttachments(m.attachments)
	}
	if m.providerID != "" {
		create.SetProviderMessageID(m.providerID)
	}
	if inbound {
		create.SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER)
	} else {
		// Sent by a person from another client of the OA or page: a user,
		// but none of ours.
		create.SetStatus(message.StatusSENT).SetSenderType(message.SenderTypeUSER)
	}
	// The channel's unique provider IDs decide whether the message is new,
	// in the insert itself: a concurrent processor storing the same one
	// makes this insert wait for it and then do nothing, with no error
	// that would need a savepoint.
	msgID, err := create.OnConflict(sql.DoNothing()).ID(ctx)
	if errors.Is(err, stdsql.ErrNoRows) {
		// Stored meanwhile. What this event did before (a customer, a
		// conversation, the automation's timers) is taken back.
		return errStoredMeanwhile
	}
	if err != nil {
		return err
	}
	p.stored.conv, p.stored.msgID = conv, msgID

	// The values are known: no read-back.
	upd := p.tx.Conversation.Update().Where(conversation.ID(conv.ID))
	if conv.LastMessageAt == nil || !m.at.Before(*conv.LastMessageAt) {
		setLastMessageID(upd.SetLastMessageAt(m.at), msgID)
	}
	if inbound {
		if conv.LastInboundAt == nil || m.at.After(*conv.LastInboundAt) {
			upd.SetLastInboundAt(m.at)
		}
		upd.AddUnreadCount(1)
	}
	if err := upd.Exec(ctx); err != nil {
		return err
	}

	if created {
		p.emit(event.TopicConversation, event.TypeCreated, conv.ID, "")
		p.emit(event.TopicMessage, event.TypeCreated, conv.ID, msgID)
		if p.router != nil {
			// A new conversation is distributed in the transaction that
			// opens it, so it is never seen undistributed.
			evs, err := p.router.Route(ctx, p.tx, conv, p.ch)
			if err != nil {
				return err
			}
			p.events = append(p.events, evs...)
		}
	} else {
		p.emit(event.TopicMessage, event.TypeCreated, conv.ID, msgID)
		p.emit(event.TopicConversation, event.TypeUpdated, conv.ID, "")
	}
	if !inbound {
		return nil
	}
	// After the customer's message and its events, so that what the
	// automation queues follows them in the conversation and in the log.
	queued, err := p.auto.CustomerWrote(ctx, p.tx, p.ch, conv, created, p.now)
	if err != nil {
		return err
	}
	p.events = append(p.events, queued...)
	return nil
}

// openConversation returns the unresolved conversation on the channel of
// the user externalID, creating their customer, identity and conversation
// as needed, and whether it created the conversation. A user the channel
// knows, in a conversation still open, costs one statement.
func (p *processing) openConversation(ctx context.Context, externalID string) (*ent.Conversation, bool, error) {
	externalID = fitID(externalID, maxExternalID)
	conv, err := p.tx.Conversation.Query().
		Where(
			conversation.ChannelID(p.ch.ID),
			conversation.StatusNEQ(conversation.StatusRESOLVED),
			func(s *sql.Selector) {
				t := sql.Table(identity.Table)
				s.Where(sql.In(s.C(conversation.FieldCustomerID),
					sql.Select(t.C(identity.FieldCustomerID)).From(t).Where(sql.And(
						sql.EQ(t.C(identity.FieldChannelID), string(p.ch.ID)),
						sql.EQ(t.C(identity.FieldExternalID), externalID),
					))))
			},
		).
		First(ctx)
	if err == nil || !ent.IsNotFound(err) {
		return conv, false, err
	}
	idt, err := p.identity(ctx, externalID, "")
	if err != nil {
		return nil, false, err
	}
	return p.conversation(ctx, idt.CustomerID)
}

// findIdentity returns the identity of externalID on the channel, or nil.
func (p *processing) findIdentity(ctx context.Context, externalID string) (*ent.Identity, error) {
	idt, err := p.tx.Identity.Query().
		Where(identity.ChannelID(p.ch.ID), identity.ExternalID(fitID(externalID, maxExternalID))).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return idt, err
}

// identity returns the identity of externalID on the channel, creating it
// and a new customer for it when the channel does not know the user yet.
// The customer is named name, or a placeholder until the profile is read.
func (p *processing) identity(ctx context.Context, externalID, name string) (*ent.Identity, error) {
	return p.identityOf(ctx, externalID, func() (gid.ID, error) {
		customerName := placeholderName(p.ch.Kind, fitID(externalID, maxExternalID))
		if n, err := crm.NormalizeName(name); err == nil {
			customerName = n
		}
		cus, err := p.tx.Customer.Create().SetName(customerName).SetSourceChannelID(p.ch.ID).Save(ctx)
		if err != nil {
			return "", err
		}
		return cus.ID, nil
	})
}

// identityOf returns the identity of externalID on the channel; when the
// channel does not know the user yet, it creates the identity for the
// customer customerOf returns, which runs in the same savepoint (so a
// customer it creates goes with an identity that conflicts). customerOf
// must return a customer it read or created in tx under the tenant
// filter: the link to it is not counted again (tenancy.WithKnown).
func (p *processing) identityOf(ctx context.Context, externalID string, customerOf func() (gid.ID, error)) (*ent.Identity, error) {
	externalID = fitID(externalID, maxExternalID)
	idt, err := p.findIdentity(ctx, externalID)
	if idt != nil || err != nil {
		return idt, err
	}
	err = database.Savepoint(ctx, p.tx, "inbound_identity", func() error {
		customerID, err := customerOf()
		if err != nil {
			return err
		}
		idt, err = p.tx.Identity.Create().
			SetChannelID(p.ch.ID).
			SetCustomerID(customerID).
			SetExternalID(externalID).
			Save(tenancy.WithKnown(ctx, customerID))
		return err
	})
	if ent.IsConstraintError(err) {
		// Another processor created the identity (and its customer) for an
		// event of the same new user; the savepoint took ours back.
		idt, err = p.findIdentity(ctx, externalID)
		if err == nil && idt == nil {
			err = fmt.Errorf("inbox: creating the identity of a user of channel %s conflicted, yet none exists", p.ch.ID)
		}
	}
	return idt, err
}

// placeholderName names a customer whose real name is not known yet, e.g.
// "Khách Zalo 1234" after the end of their Zalo user ID. Reading the
// profile replaces it, and only it.
func placeholderName(kind channel.Kind, externalID string) string {
	provider := "Khách"
	switch kind {
	case channel.KindZALO_OA:
		provider = "Khách Zalo"
	case channel.KindFACEBOOK_PAGE:
		provider = "Khách Facebook"
	case channel.KindLIVETALK:
		provider = "Khách LiveTalk"
	}
	tail := externalID
	if r := []rune(tail); len(r) > 4 {
		tail = string(r[len(r)-4:])
	}
	return provider + " " + tail
}

// conversation returns the unresolved conversation of the customer on the
// channel, creating it when there is none, and whether it was created.
func (p *processing) conversation(ctx context.Context, customerID gid.ID) (*ent.Conversation, bool, error) {
	find := func() (*ent.Conversation, error) {
		return p.tx.Conversation.Query().
			Where(
				conversation.ChannelID(p.ch.ID),
				conversation.CustomerID(customerID),
				conversation.StatusNEQ(conversation.StatusRESOLVED),
			).
			First(ctx)
	}
	conv, err := find()
	if err == nil || !ent.IsNotFound(err) {
		return conv, false, err
	}
	// The partial unique index allows one unresolved conversation per
	// channel and customer. Should another processor open it first, the
	// insert waits for it and then does nothing, with no error that would
	// need a savepoint; the conversation is then theirs.
	create := p.tx.Conversation.Create().
		SetChannelID(p.ch.ID).
		SetCustomerID(customerID)
	id, err := create.OnConflict(sql.DoNothing()).ID(tenancy.WithKnown(ctx, customerID))
	if errors.Is(err, stdsql.ErrNoRows) {
		conv, err = find()
		return conv, false, err
	}
	if err != nil {
		return nil, false, err
	}
	// With its defaults, for the distribution and the automation.
	conv, err = p.tx.Conversation.Get(ctx, id)
	return conv, err == nil, err
}

// lowerStatuses returns the statuses a receipt of status may move a
// message from: delivery statuses only go forward, so a late delivery
// receipt never turns a SEEN message back into DELIVERED.
func lowerStatuses(status message.Status) []message.Status {
	switch status {
	case message.StatusDELIVERED:
		return []message.Status{message.StatusSENT}
	case message.StatusSEEN:
		return []message.Status{message.StatusSENT, message.StatusDELIVERED}
	}
	return nil
}

// receipt marks the channel's outbound messages with the given provider IDs
// as delivered or seen at at.
func (p *processing) receipt(ctx context.Context, providerIDs []string, status message.Status, at time.Time) error {
	var ids []string
	for _, id := range providerIDs {
		if id != "" {
			ids = append(ids, fitID(id, maxProviderMessageID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	msgs, err := p.tx.Message.Query().
		Where(
			message.ChannelID(p.ch.ID),
			message.ProviderMessageIDIn(ids...),
			message.DirectionEQ(message.DirectionOUTBOUND),
			message.StatusIn(lowerStatuses(status)...),
		).
		Order(message.ByCreatedAt(), message.ByID()).
		All(ctx)
	if err != nil {
		return err
	}
	return p.mark(ctx, msgs, status, at)
}

// receiptUpTo marks the outbound messages sent to the user on the channel
// up to watermark as delivered or seen at at (Messenger's receipts name a
// time, not messages).
func (p *processing) receiptUpTo(ctx context.Context, userID string, watermark time.Time, status message.Status, at time.Time) error {
	if userID == "" || watermark.IsZero() {
		return nil
	}
	idt, err := p.findIdentity(ctx, userID)
	if idt == nil || err != nil {
		return err
	}
	msgs, err := p.tx.Message.Query().
		Where(
			message.ChannelID(p.ch.ID),
			message.DirectionEQ(message.DirectionOUTBOUND),
			message.StatusIn(lowerStatuses(status)...),
			message.HasConversationWith(conversation.CustomerID(idt.CustomerID)),
			message.Or(
				message.SentAtLTE(watermark),
				message.And(message.SentAtIsNil(), message.CreatedAtLTE(watermark)),
			),
		).
		Order(message.ByCreatedAt(), message.ByID()).
		All(ctx)
	if err != nil {
		return err
	}
	return p.mark(ctx, msgs, status, at)
}

// mark moves each message to status, unless it has meanwhile reached it or
// gone past it, and queues a MESSAGE UPDATED event for each one changed.
func (p *processing) mark(ctx context.Context, msgs []*ent.Message, status message.Status, at time.Time) error {
	for _, m := range msgs {
		upd := p.tx.Message.Update().
			Where(message.ID(m.ID), message.StatusIn(lowerStatuses(status)...)).
			SetStatus(status)
		switch status {
		case message.StatusDELIVERED:
			upd.SetDeliveredAt(at)
		case message.StatusSEEN:
			upd.SetSeenAt(at)
			if m.DeliveredAt == nil {
				// Seen implies delivered, even when the delivery receipt
				// never came.
				upd.SetDeliveredAt(at)
			}
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			p.emit(event.TopicMessage, event.TypeUpdated, m.ConversationID, m.ID)
		}
	}
	return nil
}

// follow records that the user follows the OA, or no longer does. A
// follower new to the channel becomes a customer; an unfollow from a user
// we never knew changes nothing.
func (p *processing) follow(ctx context.Context, userID string, following bool) error {
	if userID == "" {
		return nil
	}
	var idt *ent.Identity
	var err error
	if following {
		idt, err = p.identity(ctx, userID, "")
	} else {
		idt, err = p.findIdentity(ctx, userID)
	}
	if idt == nil || err != nil {
		return err
	}
	return p.tx.Identity.Update().Where(identity.ID(idt.ID)).SetFollower(following).Exec(ctx)
}

// submittedInfo is a contact form a user filled in.
type submittedInfo struct {
	name, phone, address string
}

// submitInfo fills the customer's name, phone and address from a form the
// user submitted; blank fields leave the customer's alone. A phone that is
// not a valid number, or that is another customer's, is left out rather
// than failing the event: the form's other fields are still worth keeping,
// and merging customers is a person's decision.
func (p *processing) submitInfo(ctx context.Context, userID string, info submittedInfo) error {
	if userID == "" {
		return nil
	}
	idt, err := p.identity(ctx, userID, info.name)
	if err != nil {
		return err
	}
	upd := p.tx.Customer.UpdateOneID(idt.CustomerID)
	changed := false
	if n, err := crm.NormalizeName(info.name); err == nil {
		upd.SetName(n)
		changed = true
	}
	if e164, err := crm.NormalizePhone(info.phone); err == nil && e164 != "" {
		taken, err := p.tx.Customer.Query().
			Where(customer.Phone(e164), customer.IDNEQ(idt.CustomerID)).
			Exist(ctx)
		if err != nil {
			return err
		}
		if !taken {
			// Set as sent: the customer hooks normalize it like any other.
			upd.SetPhone(info.phone)
			changed = true
		}
	}
	if a, err := crm.NormalizeAddress(info.address); err == nil && a != "" {
		upd.SetAddress(a)
		changed = true
	}
	if !changed {
		return nil
	}
	return upd.Exec(ctx)
}

// joinNonEmpty joins the non-blank parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, s := range parts {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}
