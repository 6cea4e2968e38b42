package inbox

// The message table as a delivery queue (internal/delivery): the delivery
// worker sends QUEUED outbound messages to Zalo and Messenger.
//
// Only the oldest QUEUED message of a conversation is claimable, so a reply
// never overtakes an earlier one that is being retried, and at most
// delivery.MaxInFlightPerKey messages of one channel are in delivery at
// once. Neither Zalo's nor Messenger's send API takes an idempotency key,
// so a crash after the provider accepted a message but before SENT is
// written sends it again.

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// MaxDeliveryAttempts is how many times a message is tried before it is
// FAILED. A claim that never finished (a crash) counts as one.
const MaxDeliveryAttempts = delivery.MaxAttempts

// RunDelivery delivers queued messages until ctx is cancelled (see
// delivery.Worker.Run): at once when SendMessage nudges it, and otherwise
// every delivery.Poll. Deliveries already started finish before it
// returns.
func (s *Service) RunDelivery(ctx context.Context) { s.out.worker.Run(ctx) }

// DeliverDue claims the messages that are due, up to one batch, delivers
// them concurrently and records each outcome. It returns how many it
// claimed; a full batch means more may be waiting.
func (s *Service) DeliverDue(ctx context.Context) (int, error) { return s.out.worker.DeliverDue(ctx) }

// messageQueue is the message table as a delivery.Queue.
type messageQueue struct{ s *Service }

// deliveryOutcome is what one attempt to send a message came to.
type deliveryOutcome struct {
	// providerID is set when the provider accepted the message.
	providerID string
	// retry says the failure is transient: try again later.
	retry bool
	// reason explains a failure to agents; no secrets, no internals.
	reason string
	// cause is the underlying error, for the log only.
	cause error
	// lost, when set, is a token the provider refused for good: the
	// channel's connection is lost unless it was reconnected with another
	// token meanwhile.
	lost *lostToken
}

// lostToken names the token a send used on a channel, and why the
// provider's refusal of it loses the connection.
type lostToken struct {
	channelID     gid.ID
	token, reason string
}

// connectionLostReason is the lastError of a reply waiting on a channel
// whose connection is lost.
const connectionLostReason = "The channel lost its connection; the message is sent when an admin reconnects it."

func outcomeSent(id string) deliveryOutcome { return deliveryOutcome{providerID: id} }

func outcomeFailed(reason string, cause error) deliveryOutcome {
	return deliveryOutcome{reason: reason, cause: cause}
}

func outcomeRetry(reason string, cause error) deliveryOutcome {
	return deliveryOutcome{retry: true, reason: reason, cause: cause}
}

// outcome is what the delivery worker decides on.
func (o deliveryOutcome) outcome() delivery.Outcome {
	return delivery.Outcome{Retry: o.retry, Reason: o.reason, Cause: o.cause}
}

// Claim leases up to limit due messages, at most maxInFlight of a channel
// counting those already leased to any worker.
func (q messageQueue) Claim(ctx context.Context, now, leaseUntil time.Time, limit, maxInFlight int) ([]delivery.Claim, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := q.s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	due := []predicate.Message{
		message.StatusEQ(message.StatusQUEUED),
		message.DirectionEQ(message.DirectionOUTBOUND),
		message.NextAttemptAtLTE(now),
		message.Or(message.LeaseUntilIsNil(), message.LeaseUntilLTE(now)),
	}
	var leased []struct {
		ChannelID gid.ID `json:"channel_id"`
		Count     int    `json:"count"`
	}
	if err := tx.Message.Query().
		Where(message.StatusEQ(message.StatusQUEUED), message.LeaseUntilGT(now)).
		GroupBy(message.FieldChannelID).
		Aggregate(ent.Count()).
		Scan(sys, &leased); err != nil {
		return nil, fmt.Errorf("inbox: counting deliveries in flight: %w", err)
	}
	inFlight := make(map[gid.ID]int, len(leased))
	for _, l := range leased {
		inFlight[l.ChannelID] = l.Count
	}
	budget := delivery.NewBudget(maxInFlight, inFlight)
	q2 := tx.Message.Query().
		Where(due...).
		Where(message.ChannelIDNotIn(budget.Full()...)).
		Where(oldestQueuedOfConversation()).
		Order(message.ByNextAttemptAt(), message.ByID()).
		Limit(limit).
		Unique(false)
	q2.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	rows, err := q2.All(sys)
	if err != nil {
		return nil, fmt.Errorf("inbox: selecting due messages: %w", err)
	}
	out := make([]delivery.Claim, 0, len(rows))
	for _, m := range rows {
		if !budget.Take(m.ChannelID) {
			continue // left for a later claim, once the channel has a free slot
		}
		n, err := tx.Message.Update().
			Where(message.ID(m.ID), message.Attempts(m.Attempts)).
			Where(due...).
			SetLeaseUntil(leaseUntil).
			SetAttempts(m.Attempts + 1).
			Save(sys)
		if err != nil {
			return nil, fmt.Errorf("inbox: leasing message %s: %w", m.ID, err)
		}
		if n == 1 {
			out = append(out, delivery.Claim{ID: m.ID, OrgID: m.OrganizationID, Attempts: m.Attempts + 1})
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// oldestQueuedOfConversation keeps messages that no earlier QUEUED message
// of their conversation precedes, so a conversation's replies go out in
// the order they were written. IDs are ULIDs, ordered by creation time.
func oldestQueuedOfConversation() predicate.Message {
	return func(s *sql.Selector) {
		earlier := sql.Table(message.Table).As("earlier")
		s.Where(sql.NotExists(
			sql.Dialect(s.Dialect()).
				Select(earlier.C(message.FieldID)).
				From(earlier).
				Where(sql.And(
					sql.ColumnsEQ(earlier.C(message.FieldConversationID), s.C(message.FieldConversationID)),
					sql.EQ(earlier.C(message.FieldStatus), message.StatusQUEUED.String()),
					sql.ColumnsLT(earlier.C(message.FieldID), s.C(message.FieldID)),
				)),
		))
	}
}

// Renew extends c's lease if the message is still queued with c's attempts.
func (q messageQueue) Renew(ctx context.Context, c delivery.Claim, leaseUntil time.Time) (bool, error) {
	n, err := q.s.client.Message.Update().
		Where(message.ID(c.ID), message.StatusEQ(message.StatusQUEUED), message.Attempts(c.Attempts)).
		SetLeaseUntil(leaseUntil).
		Save(viewer.SystemContext(ctx, c.OrgID))
	return n == 1, err
}

// Attempt sends the message once.
func (q messageQueue) Attempt(ctx context.Context, c delivery.Claim) (deliveryOutcome, delivery.Outcome) {
	o := q.s.attempt(viewer.SystemContext(ctx, c.OrgID), c)
	return o, o.outcome()
}

// attempt loads the message and its channel and calls the provider.
func (s *Service) attempt(ctx context.Context, c delivery.Claim) deliveryOutcome {
	m, err := s.client.Message.Query().
		Where(message.ID(c.ID)).
		WithConversation().
		WithChannel().
		Only(ctx)
	if err != nil {
		return outcomeRetry("The message could not be loaded.", err)
	}
	ch := m.Edges.Channel
	if ch.Status != channel.StatusCONNECTED && ch.ConnectionLostAt != nil {
		// Kept for when an admin reconnects the channel; the retry
		// budget still bounds how long.
		return outcomeRetry(connectionLostReason, ErrConnectionLost)
	}
	if ch.Status != channel.StatusCONNECTED {
		return outcomeFailed("The channel is disconnected; reconnect it and send the message again.", ErrChannelDisconnected)
	}
	switch ch.Kind {
	case channel.KindZALO_OA:
		return s.sendZalo(ctx, m, ch)
	case channel.KindFACEBOOK_PAGE:
		return s.sendFacebook(ctx, m, ch)
	case channel.KindLIVETALK:
		// No provider: the visitor's stream reads the message from the
		// table (internal/livetalk), which marks it DELIVERED once it
		// has handed it to the visitor. SENT says it is there to read.
		return outcomeSent("")
	default:
		return outcomeFailed(fmt.Sprintf("Sending messages is not supported on %s channels.", ch.Kind), nil)
	}
}

// Record writes the outcome of the attempt c holds, with its events, in
// one transaction.
func (q messageQueue) Record(ctx context.Context, c delivery.Claim, v deliveryOutcome, _ delivery.Outcome, r delivery.Result) error {
	err := q.s.recordOnce(ctx, c, v, r)
	if ent.IsConstraintError(err) && v.providerID != "" {
		// Another row already holds this provider ID: an echo webhook
		// stored our own message before we could. The message was sent;
		// record that without the ID rather than send it again.
		q.s.out.logger.WarnContext(ctx, "provider message ID already stored by another row; recording SENT without it")
		v.providerID = ""
		err = q.s.recordOnce(ctx, c, v, r)
	}
	return err
}

func (s *Service) recordOnce(ctx context.Context, c delivery.Claim, v deliveryOutcome, r delivery.Result) error {
	sys := viewer.SystemContext(ctx, c.OrgID)
	now := s.now()
	tx, err := s.client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	upd := tx.Message.Update().
		Where(message.ID(c.ID), message.StatusEQ(message.StatusQUEUED), message.Attempts(c.Attempts)).
		ClearLeaseUntil()
	switch r.State {
	case delivery.StateSent:
		upd.SetStatus(message.StatusSENT).SetSentAt(now).ClearNextAttemptAt().ClearFailureReason().ClearLastError()
		if v.providerID != "" {
			upd.SetProviderMessageID(fitID(v.providerID, maxProviderMessageID))
		}
	case delivery.StateQueued:
		upd.SetNextAttemptAt(r.NextAttemptAt).SetLastError(r.LastError)
	default:
		upd.SetStatus(message.StatusFAILED).SetFailureReason(r.FailureReason).
			SetLastError(r.LastError).ClearNextAttemptAt()
	}
	n, err := upd.Save(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		s.out.logger.WarnContext(ctx, "delivery outcome discarded: the message's lease was taken over", "attempt", c.Attempts)
		return nil
	}
	// The channel comes before the message event: Append locks the
	// organization's event counter, which is always taken last so that
	// this and a token refresh (channel, then counter) cannot deadlock.
	if v.lost != nil {
		if err := s.loseIfToken(sys, tx, *v.lost); err != nil {
			return err
		}
	}
	// Every outcome is an UPDATED event, a failed attempt that will be
	// retried too: an agent sees attempts and lastError move while the
	// reply is still QUEUED.
	m, err := tx.Message.Get(sys, c.ID)
	if err != nil {
		return err
	}
	if err := appendUpdated(sys, tx, m); err != nil {
		return err
	}
	return tx.Commit()
}

// loseIfToken marks the channel's connection lost (markConnectionLost) if
// it is still connected with the token that was refused; a channel
// reconnected meanwhile keeps working.
func (s *Service) loseIfToken(ctx context.Context, tx *ent.Tx, lt lostToken) error {
	q := tx.Channel.Query().Where(channel.ID(lt.channelID))
	q.Modify(database.LockRows())
	ch, err := q.Only(ctx)
	if err != nil {
		return err
	}
	if ch.Status != channel.StatusCONNECTED {
		return nil
	}
	creds, err := s.Open(ch)
	if err != nil {
		return err
	}
	if creds.AccessToken != lt.token {
		return nil
	}
	return markConnectionLost(ctx, tx, ch, lt.reason, s.now())
}

// markConnectionLost marks ch DISCONNECTED with reason and its connection
// lost at now, in tx, and appends its CHANNEL DISCONNECTED event and its
// CHANNEL_CONNECTION_LOST activity entry, which has no actor: the provider
// refused the channel's tokens. Its dead tokens are erased; the app and
// webhook secrets stay so that late webhooks still verify. The replies
// queued on it stay queued (attempt) until a reconnect or their retry
// budget's end.
func markConnectionLost(ctx context.Context, tx *ent.Tx, ch *ent.Channel, reason string, now time.Time) error {
	reason = delivery.Truncate(reason, 500)
	if err := tx.Channel.UpdateOneID(ch.ID).
		SetStatus(channel.StatusDISCONNECTED).
		SetStatusReason(reason).
		SetConnectionLostAt(now).
		ClearAccessToken().
		ClearRefreshToken().
		ClearAccessTokenExpiresAt().
		Exec(ctx); err != nil {
		return err
	}
	if _, err := event.Append(ctx, tx, event.Entry{
		OrgID: ch.OrganizationID, Topic: event.TopicChannel, Type: event.TypeDisconnected, ChannelID: ch.ID,
	}); err != nil {
		return err
	}
	return activity.Record(viewer.SystemContext(ctx, ch.OrganizationID), tx, activity.Entry{
		Action: activity.ChannelConnectionLost, ChannelID: ch.ID, SubjectID: ch.ID,
		Details: map[string]any{
			"kind": ch.Kind, "name": ch.Name, "automatic": true,
			"changes": activity.Changes(
				map[string]any{"status": ch.Status, "statusReason": ch.StatusReason},
				map[string]any{"status": channel.StatusDISCONNECTED, "statusReason": reason}),
		},
	})
}

// LoseConnection marks the channel's connection lost for reason, with its
// CHANNEL DISCONNECTED event and CHANNEL_CONNECTION_LOST activity entry,
// if it is still connected with token: a channel reconnected meanwhile
// keeps working.
func (s *Service) LoseConnection(ctx context.Context, channelID gid.ID, token, reason string) error {
	_, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (struct{}, error) {
		return struct{}{}, s.loseIfToken(ctx, tx, lostToken{channelID: channelID, token: token, reason: reason})
	})
	return err
}
