package inbox

// An agent's hands on the delivery queue: send a FAILED reply again, or
// take back a QUEUED one before it goes out.

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Reasons of the FAILED_PRECONDITION errors of RetryMessage and
// CancelMessage.
const (
	// ReasonMessageNotFailed: only a FAILED outbound message can be sent
	// again.
	ReasonMessageNotFailed = "MESSAGE_NOT_FAILED"
	// ReasonMessageNotQueued: only a QUEUED outbound message can be
	// cancelled; one already sent, failed or cancelled cannot.
	ReasonMessageNotQueued = "MESSAGE_NOT_QUEUED"
	// ReasonDeliveryInProgress: a worker is sending the message right now,
	// so cancelling could not stop the provider from receiving it.
	ReasonDeliveryInProgress = "DELIVERY_IN_PROGRESS"
)

// RetryMessage puts a FAILED outbound message back in the queue, due now,
// with its attempts counted from zero, and returns it QUEUED. Its channel
// must still be able to send (as SendMessage checks). A message the viewer
// may not see is NOT_FOUND.
//
// Counting attempts from zero is safe although attempts fence outcomes
// (delivery.go): a FAILED message has no live claim, because a worker
// renews its lease while it delivers and writes its outcome before it lets
// the lease go.
func (s *Service) RetryMessage(ctx context.Context, id gid.ID) (*ent.Message, error) {
	return s.changeQueued(ctx, id, func(tx *ent.Tx, m *ent.Message) error {
		if m.Direction != message.DirectionOUTBOUND || m.Status != message.StatusFAILED {
			return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonMessageNotFailed,
				Message: "only a failed reply can be sent again; this message is " + string(m.Status)}
		}
		if err := checkChannelCanSend(m.Edges.Channel, m.Text, m.Attachments); err != nil {
			return err
		}
		n, err := tx.Message.Update().
			Where(message.ID(m.ID), message.StatusEQ(message.StatusFAILED)).
			SetStatus(message.StatusQUEUED).
			SetAttempts(0).
			SetNextAttemptAt(s.now()).
			ClearFailureReason().
			Save(ctx)
		if err == nil && n == 0 {
			err = &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonMessageNotFailed,
				Message: "the message changed meanwhile; reload it"}
		}
		if err == nil {
			s.out.worker.NudgeOnCommit(tx)
		}
		return err
	})
}

// CancelMessage takes back a QUEUED outbound message that no worker is
// sending at the moment and returns it CANCELLED; it is never sent. A
// message being sent right now is FAILED_PRECONDITION with reason
// DELIVERY_IN_PROGRESS: cancelling it could not stop the provider.
func (s *Service) CancelMessage(ctx context.Context, id gid.ID) (*ent.Message, error) {
	return s.changeQueued(ctx, id, func(tx *ent.Tx, m *ent.Message) error {
		if m.Direction != message.DirectionOUTBOUND || m.Status != message.StatusQUEUED {
			return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonMessageNotQueued,
				Message: "only a queued reply can be cancelled; this message is " + string(m.Status)}
		}
		now := s.now()
		// The same conditions a claim checks, so a claim and a cancel
		// cannot both win.
		n, err := tx.Message.Update().
			Where(message.ID(m.ID), message.StatusEQ(message.StatusQUEUED),
				message.Or(message.LeaseUntilIsNil(), message.LeaseUntilLTE(now))).
			SetStatus(message.StatusCANCELLED).
			ClearNextAttemptAt().
			ClearLeaseUntil().
			Save(ctx)
		if err == nil && n == 0 {
			err = &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonDeliveryInProgress,
				Message: "the reply is being sent right now and can no longer be cancelled"}
		}
		return err
	})
}

// changeQueued loads message id as the viewer sees it, with its channel,
// lets change update it in one transaction with its MESSAGE UPDATED event,
// and returns the message as committed.
func (s *Service) changeQueued(ctx context.Context, id gid.ID, change func(*ent.Tx, *ent.Message) error) (*ent.Message, error) {
	if v := viewer.FromContext(ctx); v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	m, err := tx.Message.Query().Where(message.ID(id)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "message not found")
	}
	if err != nil {
		return nil, err
	}
	if err := change(tx, m); err != nil {
		return nil, err
	}
	m, err = tx.Message.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := appendUpdated(ctx, tx, m); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return m.Unwrap(), nil
}

// appendUpdated appends m's MESSAGE UPDATED event in tx.
func appendUpdated(ctx context.Context, tx *ent.Tx, m *ent.Message) error {
	_, err := event.Append(ctx, tx, event.Entry{
		OrgID: m.OrganizationID, Topic: event.TopicMessage, Type: event.TypeUpdated,
		ChannelID: m.ChannelID, ConversationID: m.ConversationID, MessageID: m.ID,
	})
	return err
}
