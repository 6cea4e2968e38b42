package inbox

// The delivery worker sends QUEUED outbound messages to Zalo and Messenger.
//
// The message table is the queue. A worker claims due messages in a short
// transaction by setting lease_until and incrementing attempts, then calls
// the provider outside any transaction, then records the outcome in another
// short transaction, fenced by the attempts value it claimed with: if the
// lease expired and another worker claimed the message meanwhile, the stale
// outcome is discarded.
//
// Claiming. On PostgreSQL the candidates are selected FOR UPDATE SKIP LOCKED,
// so two replicas claiming at once take disjoint rows without waiting for
// each other; on SQLite every transaction takes the write lock at BEGIN
// (database/sqlite.go), so claims are serialized. Either way the UPDATE that
// sets the lease repeats the "still QUEUED, lease free" conditions, so a
// row is claimed by one worker only. Only the oldest QUEUED message of a
// conversation is claimable: a reply never overtakes an earlier one that is
// being retried.
//
// Crashes. A worker renews its lease every leaseRenewal while it delivers,
// so a lease outlives a live delivery however slow the provider is, and a
// worker that dies between claim and outcome leaves a lease that expires
// within deliveryLease (15 s); the message is then claimable again, so
// nothing is lost and a crashed replica's replies go out seconds later. Delivery is at least once: a crash (or a stall longer
// than the lease) after the provider accepted a message but before SENT is
// written sends it again, because neither Zalo's nor Messenger's send API
// takes an idempotency key. The window is kept small: the outcome is written
// right after the provider answers, with a context detached from the
// worker's so a shutdown does not abandon it, and a stopping worker lets its
// in-flight deliveries finish.
//
// Retries. Transient failures (5xx, timeouts, network errors, rate limits)
// are retried after deliveryRetryDelay: 1 s doubling up to a 5 min cap, with equal
// jitter (50–100 % of the nominal delay), so the first retry comes within
// 2 s (1 s at most, plus the worker's 1 s poll). After MaxDeliveryAttempts
// attempts, about 10–19 minutes after the first, the message is FAILED.
// Permanent failures are FAILED at once with a reason agents can read.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Delivery tuning.
const (
	// MaxDeliveryAttempts is how many times a message is tried before it
	// is FAILED. A claim that never finished (a crash) counts as one.
	MaxDeliveryAttempts = 12
	// DeliveryPoll is how often an idle worker looks for due messages:
	// retries coming due, and messages queued on other replicas, whose
	// nudges do not reach this one.
	DeliveryPoll = time.Second
	// deliveryBatch is how many deliveries one worker runs at once, and
	// the most one claim takes.
	deliveryBatch = 16
	// maxInFlightPerChannel is how many of one channel's messages may be
	// in delivery at once, across workers and replicas: a channel whose
	// provider hangs holds that many of a worker's slots, never all of
	// them, so other channels' (and other organizations') replies go on.
	maxInFlightPerChannel = 4
	// deliveryLease is how long a claim keeps other workers away without
	// being renewed: how soon a crashed worker's messages are claimable
	// again.
	deliveryLease = 15 * time.Second
	// leaseRenewal is how often a delivering worker extends its lease to
	// deliveryLease from then: three renewals fit in one lease, so one
	// slow or failed renewal does not lose it.
	leaseRenewal = deliveryLease / 3
	// deliveryTimeout bounds one delivery: download, upload, a token
	// refresh and two provider calls at their own 10 s timeouts, with room
	// to spare.
	deliveryTimeout = 90 * time.Second
	// outcomeTimeout bounds writing an outcome, which runs detached from
	// the worker's context.
	outcomeTimeout = 15 * time.Second
	// deliveryRetryBase and deliveryRetryCap shape the backoff (see
	// deliveryRetryDelay).
	deliveryRetryBase = time.Second
	deliveryRetryCap  = 5 * time.Minute
)

// deliveryRetryDelay is how long to wait after the attempt-th failed
// attempt: deliveryRetryBase doubled per attempt, capped at deliveryRetryCap, with equal jitter so
// that messages failed by one outage do not all come back at once. jitter
// is in [0, 1).
func deliveryRetryDelay(attempt int, jitter float64) time.Duration {
	d := deliveryRetryCap
	if attempt >= 1 && attempt < 20 {
		d = min(deliveryRetryBase<<(attempt-1), deliveryRetryCap)
	}
	return d/2 + time.Duration(jitter*float64(d/2))
}

// RunDelivery delivers queued messages until ctx is cancelled: at once when
// SendMessage nudges it, and otherwise every DeliveryPoll. It runs up to
// deliveryBatch deliveries at once and claims more as each one finishes,
// so a slow provider holds only its own slots, not a whole batch.
// Failures are logged and retried at the next round. Deliveries already
// started finish before it returns.
func (s *Service) RunDelivery(ctx context.Context) {
	t := time.NewTicker(DeliveryPoll)
	defer t.Stop()
	// done receives one token per finished delivery; its capacity is the
	// slot count, so a delivery never blocks on it.
	done := make(chan struct{}, deliveryBatch)
	var wg sync.WaitGroup
	defer wg.Wait()
	running := 0
	for {
		for running < deliveryBatch && ctx.Err() == nil {
			claims, err := s.claim(ctx, deliveryBatch-running)
			if err != nil {
				if ctx.Err() == nil {
					s.out.logger.WarnContext(ctx, "claiming messages to deliver failed", "err", err)
				}
				break
			}
			if len(claims) == 0 {
				break
			}
			running += len(claims)
			for _, c := range claims {
				wg.Go(func() {
					defer func() { done <- struct{}{} }()
					s.deliverDetached(ctx, c)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			running--
		case <-s.out.nudge:
		case <-t.C:
		}
	}
}

// deliverDetached delivers c within deliveryTimeout, on a context that
// ctx's cancellation does not reach: a stopping worker lets the
// deliveries it started finish. It holds c's lease while it delivers.
func (s *Service) deliverDetached(ctx context.Context, c deliveryClaim) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryTimeout)
	renewing := make(chan struct{})
	defer func() { <-renewing }()
	defer cancel()
	go func() {
		defer close(renewing)
		s.holdLease(dctx, c, cancel)
	}()
	s.deliver(dctx, c)
}

// holdLease renews c's lease every leaseRenewal (renewEvery) until ctx ends. A renewal
// that finds the claim gone (its lease ran out during an outage and
// another worker claimed the message) calls lost, which stops this
// delivery: the other worker's is the live one, and this outcome would be
// discarded anyway. A renewal that fails is logged and tried again at the
// next tick; the lease outlasts two of them.
func (s *Service) holdLease(ctx context.Context, c deliveryClaim, lost func()) {
	t := time.NewTicker(s.out.renewEvery)
	defer t.Stop()
	sys := viewer.SystemContext(ctx, c.orgID)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.client.Message.Update().
			Where(message.ID(c.id), message.StatusEQ(message.StatusQUEUED), message.Attempts(c.attempts)).
			SetLeaseUntil(s.now().Add(deliveryLease)).
			Save(sys)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.out.logger.WarnContext(ctx, "renewing a delivery lease failed", "message_id", c.id, "err", err)
		case n == 0:
			s.out.logger.WarnContext(ctx, "delivery stopped: the message's lease was taken over", "message_id", c.id, "attempt", c.attempts)
			lost()
			return
		}
	}
}

// DeliverDue claims the messages that are due, up to one batch, delivers
// them concurrently and records each outcome. It returns how many it
// claimed; a full batch means more may be waiting. Cancelling ctx stops
// claiming, not the deliveries already claimed.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	claims, err := s.claim(ctx, deliveryBatch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, c := range claims {
		wg.Go(func() { s.deliverDetached(ctx, c) })
	}
	wg.Wait()
	return len(claims), nil
}

// deliveryClaim is a message a worker holds: its attempts value after the claim
// fences the outcome.
type deliveryClaim struct {
	id       gid.ID
	orgID    gid.ID
	attempts int
}

// claim leases up to limit due messages to this worker, at most
// maxInFlightPerChannel of a channel counting those already leased to any
// worker. Channels at their limit are left out of the selection, so that
// their backlog cannot fill it and starve the others.
func (s *Service) claim(ctx context.Context, limit int) ([]deliveryClaim, error) {
	sys := viewer.SystemContext(ctx, "")
	now := s.now()
	tx, err := s.client.Tx(sys)
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
	budget := map[gid.ID]int{}
	var full []gid.ID
	for _, l := range leased {
		budget[l.ChannelID] = maxInFlightPerChannel - l.Count
		if l.Count >= maxInFlightPerChannel {
			full = append(full, l.ChannelID)
		}
	}
	q := tx.Message.Query().
		Where(due...).
		Where(message.ChannelIDNotIn(full...)).
		Where(oldestQueuedOfConversation()).
		Order(message.ByNextAttemptAt(), message.ByID()).
		Limit(limit).
		Unique(false)
	q.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	rows, err := q.All(sys)
	if err != nil {
		return nil, fmt.Errorf("inbox: selecting due messages: %w", err)
	}
	out := make([]deliveryClaim, 0, len(rows))
	lease := now.Add(deliveryLease)
	for _, m := range rows {
		left, seen := budget[m.ChannelID]
		if !seen {
			left = maxInFlightPerChannel
		}
		if left <= 0 {
			continue // left for a later claim, once the channel has a free slot
		}
		budget[m.ChannelID] = left - 1
		n, err := tx.Message.Update().
			Where(message.ID(m.ID), message.Attempts(m.Attempts)).
			Where(due...).
			SetLeaseUntil(lease).
			SetAttempts(m.Attempts + 1).
			Save(sys)
		if err != nil {
			return nil, fmt.Errorf("inbox: leasing message %s: %w", m.ID, err)
		}
		if n == 1 {
			out = append(out, deliveryClaim{id: m.ID, orgID: m.OrganizationID, attempts: m.Attempts + 1})
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

// deliveryOutcome is what one delivery attempt came to.
type deliveryOutcome struct {
	// providerID is set when the provider accepted the message.
	providerID string
	// retry says the failure is transient: try again later.
	retry bool
	// reason explains a failure to agents; no secrets, no internals.
	reason string
	// cause is the underlying error, for the log only.
	cause error
	// disconnect, when set, is a Facebook page token the Graph API called
	// invalid: the channel becomes DISCONNECTED unless it was reconnected
	// with another token meanwhile.
	disconnect *pageToken
}

// pageToken names the token a send used on a channel.
type pageToken struct {
	channelID gid.ID
	token     string
}

func outcomeSent(id string) deliveryOutcome { return deliveryOutcome{providerID: id} }

func outcomeFailed(reason string, cause error) deliveryOutcome {
	return deliveryOutcome{reason: reason, cause: cause}
}

func outcomeRetry(reason string, cause error) deliveryOutcome {
	return deliveryOutcome{retry: true, reason: reason, cause: cause}
}

// deliver sends one claimed message and records the outcome.
func (s *Service) deliver(ctx context.Context, c deliveryClaim) {
	// Every line about this delivery names its message.
	ctx = requestlog.With(ctx, "message_id", c.id)
	var o deliveryOutcome
	if c.attempts > MaxDeliveryAttempts {
		// The previous claim was the last attempt and never finished: the
		// worker died on it. Do not let one message crash workers forever.
		o = outcomeFailed("Sending was interrupted too many times.", nil)
	} else {
		o = s.attempt(viewer.SystemContext(ctx, c.orgID), c)
	}
	if err := s.record(ctx, c, o); err != nil {
		s.out.logger.ErrorContext(ctx, "recording a delivery outcome failed; the message will be retried after its lease", "err", err)
	}
}

// attempt loads the message and its channel and calls the provider.
func (s *Service) attempt(ctx context.Context, c deliveryClaim) deliveryOutcome {
	m, err := s.client.Message.Query().
		Where(message.ID(c.id)).
		WithConversation().
		WithChannel().
		Only(ctx)
	if err != nil {
		return outcomeRetry("The message could not be loaded.", err)
	}
	ch := m.Edges.Channel
	if ch.Status != channel.StatusCONNECTED {
		return outcomeFailed("The channel is disconnected; reconnect it and send the message again.", ErrChannelDisconnected)
	}
	switch ch.Kind {
	case channel.KindZALO_OA:
		return s.sendZalo(ctx, m, ch)
	case channel.KindFACEBOOK_PAGE:
		return s.sendFacebook(ctx, m, ch)
	default:
		return outcomeFailed(fmt.Sprintf("Sending messages is not supported on %s channels.", ch.Kind), nil)
	}
}

// record writes the outcome of the attempt c holds, with its events, in one
// transaction. An outcome whose claim was overtaken (the lease expired and
// another worker claimed the message) is discarded.
func (s *Service) record(ctx context.Context, c deliveryClaim, o deliveryOutcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	var err error
	// A lost outcome means sending again after the lease, so a failing
	// write is tried a few times before giving up on it.
	for try := range 3 {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 250 * time.Millisecond):
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			}
		}
		err = s.recordOnce(ctx, c, o)
		if ent.IsConstraintError(err) && o.providerID != "" {
			// Another row already holds this provider ID: an echo webhook
			// stored our own message before we could. The message was
			// sent; record that without the ID rather than send it again.
			s.out.logger.WarnContext(ctx, "provider message ID already stored by another row; recording SENT without it")
			o.providerID = ""
			err = s.recordOnce(ctx, c, o)
		}
		if err == nil {
			return nil
		}
	}
	return err
}

func (s *Service) recordOnce(ctx context.Context, c deliveryClaim, o deliveryOutcome) error {
	sys := viewer.SystemContext(ctx, c.orgID)
	now := s.now()
	tx, err := s.client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	upd := tx.Message.Update().
		Where(message.ID(c.id), message.StatusEQ(message.StatusQUEUED), message.Attempts(c.attempts)).
		ClearLeaseUntil()
	status := message.StatusQUEUED
	switch {
	case o.reason == "" && !o.retry:
		status = message.StatusSENT
		upd.SetStatus(status).SetSentAt(now).ClearNextAttemptAt().ClearFailureReason().ClearLastError()
		if o.providerID != "" {
			upd.SetProviderMessageID(fitID(o.providerID, maxProviderMessageID))
		}
	case o.retry && c.attempts < MaxDeliveryAttempts:
		upd.SetNextAttemptAt(now.Add(deliveryRetryDelay(c.attempts, rand.Float64()))).
			SetLastError(truncateReason(o.reason, 500))
	default:
		reason := o.reason
		if o.retry {
			reason = fmt.Sprintf("Gave up after %d attempts. %s", c.attempts, reason)
		}
		status = message.StatusFAILED
		upd.SetStatus(status).SetFailureReason(truncateReason(reason, 500)).
			SetLastError(truncateReason(o.reason, 500)).ClearNextAttemptAt()
	}
	n, err := upd.Save(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		s.out.logger.WarnContext(ctx, "delivery outcome discarded: the message's lease was taken over", "attempt", c.attempts)
		return nil
	}
	// The channel comes before the message event: Append locks the
	// organization's event counter, which is always taken last so that
	// this and a token refresh (channel, then counter) cannot deadlock.
	if o.disconnect != nil {
		if err := s.disconnectIfToken(sys, tx, *o.disconnect,
			"Facebook no longer accepts the page's access token; reconnect the page."); err != nil {
			return err
		}
	}
	// Every outcome is an UPDATED event, a failed attempt that will be
	// retried too: an agent sees attempts and lastError move while the
	// reply is still QUEUED.
	m, err := tx.Message.Get(sys, c.id)
	if err != nil {
		return err
	}
	if err := appendUpdated(sys, tx, m); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.logOutcome(ctx, c, status, o)
	return nil
}

func (s *Service) logOutcome(ctx context.Context, c deliveryClaim, status message.Status, o deliveryOutcome) {
	log := s.out.logger.With("attempt", c.attempts)
	switch status {
	case message.StatusSENT:
		log.InfoContext(ctx, "message sent")
	case message.StatusFAILED:
		log.WarnContext(ctx, "message failed", "reason", o.reason, "err", o.cause)
	default:
		log.InfoContext(ctx, "message delivery failed; will retry", "reason", o.reason, "err", o.cause)
	}
}

// disconnectIfToken marks the channel DISCONNECTED, with its CHANNEL
// DISCONNECTED event, if it is still connected with the token that was
// refused; a channel reconnected meanwhile keeps working.
func (s *Service) disconnectIfToken(ctx context.Context, tx *ent.Tx, pt pageToken, reason string) error {
	q := tx.Channel.Query().Where(channel.ID(pt.channelID))
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
	if creds.AccessToken != pt.token {
		return nil
	}
	return markDisconnected(ctx, tx, ch, reason)
}

// markDisconnected marks ch DISCONNECTED with reason in tx and appends its
// CHANNEL DISCONNECTED event and its activity entry, which has no actor:
// the provider refused the channel's tokens. Its dead tokens are erased;
// the app and webhook secrets stay so that late webhooks still verify.
func markDisconnected(ctx context.Context, tx *ent.Tx, ch *ent.Channel, reason string) error {
	reason = truncateReason(reason, 500)
	if err := tx.Channel.UpdateOneID(ch.ID).
		SetStatus(channel.StatusDISCONNECTED).
		SetStatusReason(reason).
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
		Action: activity.ChannelDisconnected, ChannelID: ch.ID, SubjectID: ch.ID,
		Details: map[string]any{
			"kind": ch.Kind, "name": ch.Name, "automatic": true,
			"changes": activity.Changes(
				map[string]any{"status": ch.Status, "statusReason": ch.StatusReason},
				map[string]any{"status": channel.StatusDISCONNECTED, "statusReason": reason}),
		},
	})
}

// truncateReason shortens s to at most n bytes on a rune boundary.
func truncateReason(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
