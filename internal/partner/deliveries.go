package partner

// The webhook_deliveries table as a delivery queue (internal/delivery).
//
// Only the oldest PENDING delivery of an endpoint is claimable, so a
// partner receives its events in the log's order, and at most one of an
// endpoint's deliveries is in flight: a slow or dead partner holds one of
// a worker's slots, and every other endpoint's deliveries go on. Every
// delivery carries its ID as X-Dakenh-Delivery, so the at-least-once
// window (a crash after the partner accepted, before DELIVERED is written)
// shows the partner the same ID twice.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/webhookattempt"
	"github.com/dakenh/dakenh/ent/webhookdelivery"
	"github.com/dakenh/dakenh/ent/webhookendpoint"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/metrics"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The delivery schedule (README.md, "Partner webhooks").
const (
	// MaxAttempts is how many times a delivery is tried before it is
	// FAILED: with RetryDelay, at least 24 hours of retries.
	MaxAttempts = 20
	// FailingFor is how long an endpoint may fail every attempt before
	// the server disables it.
	FailingFor = 72 * time.Hour
	// Retention is how long the delivery log keeps finished deliveries
	// and attempts.
	Retention = 30 * 24 * time.Hour
	// maxResponse is how much of an answer the delivery log keeps.
	maxResponse = 2048
	// retryBase and retryCap shape RetryDelay.
	retryBase = time.Minute
	retryCap  = 4 * time.Hour
)

// DisabledFailing is an endpoint's disabledReason once the server turned
// it off after FailingFor of failures.
const DisabledFailing = "FAILING"

// RetryDelay is the wait after the attempt-th failed attempt: 1 min
// doubled per attempt up to 4 h, with equal jitter (50–100 % of it), so
// MaxAttempts span at least 24 hours (about 48 at most) and the deliveries
// an outage failed do not all come back at once. jitter is in [0, 1).
var RetryDelay = delivery.Backoff(retryBase, retryCap)

// Recorder receives one observation per attempt (internal/metrics).
type Recorder interface {
	WebhookAttempt(endpoint, outcome string, d time.Duration)
}

// DeliveryConfig configures Deliveries.
type DeliveryConfig struct {
	// Render renders events' subjects (see Renderer).
	Render Renderer
	// Metrics receives every attempt; nil records nothing.
	Metrics Recorder
	// Logger receives outcomes; nil discards them.
	Logger *slog.Logger
	// Poll is how often the log is looked at for new events and due
	// retries; 0 means delivery.Poll.
	Poll time.Duration
	// Bus wakes the feed as soon as an organization with enabled
	// endpoints appends to its log; nil leaves it to Poll.
	Bus event.Bus
}

// Deliveries feeds the log's events to the endpoints and delivers them.
type Deliveries struct {
	s      *Service
	client *ent.Client
	http   *Client
	render Renderer
	rec    Recorder
	log    *slog.Logger
	poll   time.Duration
	now    func() time.Time
	worker *delivery.Worker[attempt]
	follow *follower
}

// NewDeliveries returns the deliveries of s's endpoints.
func NewDeliveries(s *Service, cfg DeliveryConfig) *Deliveries {
	d := &Deliveries{
		s: s, client: s.client, http: NewClient(s.insecure), render: cfg.Render,
		rec: cfg.Metrics, log: cfg.Logger, poll: cfg.Poll, now: s.now,
		follow: newFollower(cfg.Bus),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.poll <= 0 {
		d.poll = delivery.Poll
	}
	d.worker = delivery.New(deliveryQueue{d}, delivery.Config{
		Name:   "webhook delivery",
		LogKey: "webhook_delivery_id",
		// One in flight per endpoint comes from the claim's order rule;
		// the budget says so too.
		MaxInFlightPerKey: 1,
		MaxAttempts:       MaxAttempts,
		Poll:              d.poll,
		// One POST at its 10 s, with room for recording.
		Timeout:    2 * AttemptTimeout,
		RetryDelay: RetryDelay,
		Now:        s.now,
		Logger:     d.log,
	})
	s.nudge = d.worker.Nudge
	s.wakeFeed = d.follow.poke
	return d
}

// Run feeds and delivers until ctx is cancelled; deliveries already
// started finish before it returns. The feed runs when the bus says an
// organization with enabled endpoints appended to its log, when an
// endpoint is created or updated here, soon after it skipped an endpoint
// being fed elsewhere or left more than a batch, and otherwise every Poll.
func (d *Deliveries) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.worker.Run(ctx)
	}()
	defer d.follow.stop()
	t := time.NewTicker(d.poll)
	defer t.Stop()
	var retry <-chan time.Time
	for {
		if err := d.follow.refresh(ctx, d); err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "following organizations for webhook deliveries failed", "err", err)
		}
		_, again, err := d.feed(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "feeding webhook deliveries failed", "err", err)
		}
		retry = nil
		if again {
			retry = time.After(min(feedRetry, d.poll))
		}
		select {
		case <-ctx.Done():
			<-done
			return
		case <-d.follow.wake:
		case <-retry:
		case <-t.C:
		}
	}
}

// DeliverDue claims the due deliveries, up to one batch, and delivers
// them; see delivery.Worker.DeliverDue.
func (d *Deliveries) DeliverDue(ctx context.Context) (int, error) { return d.worker.DeliverDue(ctx) }

// Close drops the client's idle connections.
func (d *Deliveries) Close() { d.http.Close() }

// attempt is what one POST came to, for the delivery log.
type attempt struct {
	at       time.Time
	resp     Response
	endpoint gid.ID
	// posted is false when nothing was sent (the delivery or its endpoint
	// could not be loaded).
	posted bool
}

// deliveryQueue is the webhook_deliveries table as a delivery.Queue.
type deliveryQueue struct{ d *Deliveries }

// due are the conditions of a claimable delivery at now.
func due(now time.Time) []predicate.WebhookDelivery {
	return []predicate.WebhookDelivery{
		webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING),
		webhookdelivery.NextAttemptAtLTE(now),
		webhookdelivery.Or(webhookdelivery.LeaseUntilIsNil(), webhookdelivery.LeaseUntilLTE(now)),
	}
}

// Claim leases up to limit due deliveries: of each enabled endpoint with
// none in flight, its oldest pending delivery, if that one is due. One
// select and one update: the select looks up each endpoint's oldest
// pending delivery and its deliveries in flight through the two partial
// indexes of webhook_deliveries, so its cost follows the endpoints, not
// the pending rows. maxInFlight is 1 by construction (one delivery per
// endpoint at a time keeps the log's order), whatever the worker passes.
func (q deliveryQueue) Claim(ctx context.Context, now, leaseUntil time.Time, limit, _ int) ([]delivery.Claim, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := q.d.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	sel := tx.WebhookDelivery.Query().
		Where(due(now)...).
		Where(oldestOfIdleEndpoint(now)).
		Order(webhookdelivery.ByNextAttemptAt(), webhookdelivery.ByID()).
		Limit(limit).
		Unique(false)
	// On PostgreSQL two replicas claiming at once take disjoint rows; a
	// row another claim locked is skipped, and one it leased meanwhile no
	// longer passes due when re-read under the lock.
	sel.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	rows, err := sel.All(sys)
	if err != nil {
		return nil, fmt.Errorf("partner: selecting due deliveries: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]gid.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	n, err := tx.WebhookDelivery.Update().
		Where(webhookdelivery.IDIn(ids...)).
		Where(due(now)...).
		SetLeaseUntil(leaseUntil).
		AddTries(1).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("partner: leasing deliveries: %w", err)
	}
	if n != len(rows) {
		// The rows are locked (PostgreSQL) or the claim holds the write
		// lock (SQLite), so this does not happen; should it, claiming
		// nothing this round is always safe.
		return nil, nil
	}
	out := make([]delivery.Claim, len(rows))
	for i, r := range rows {
		out[i] = delivery.Claim{ID: r.ID, OrgID: r.OrganizationID, Attempts: r.Tries + 1}
	}
	return out, tx.Commit()
}

// oldestOfIdleEndpoint keeps the oldest PENDING delivery of each enabled
// endpoint none of whose pending deliveries is leased at now:
//
//	id IN (SELECT (SELECT oldest.id FROM webhook_deliveries oldest
//	               WHERE oldest.endpoint_id = e.id AND oldest.status = 'PENDING'
//	               ORDER BY oldest.event_seq LIMIT 1)
//	       FROM webhook_endpoints e
//	       WHERE e.enabled AND NOT EXISTS (SELECT … leased
//	             WHERE leased.endpoint_id = e.id AND leased.status = 'PENDING'
//	             AND leased.lease_until > now))
//
// The in-flight check is not implied by the oldest one: a redelivered
// delivery becomes its endpoint's oldest pending while a later one may
// still be in flight.
func oldestOfIdleEndpoint(now time.Time) predicate.WebhookDelivery {
	return func(s *sql.Selector) {
		b := sql.Dialect(s.Dialect())
		ep := sql.Table(webhookendpoint.Table).As("e")
		oldest := sql.Table(webhookdelivery.Table).As("oldest")
		leased := sql.Table(webhookdelivery.Table).As("leased")
		first := b.Select(oldest.C(webhookdelivery.FieldID)).From(oldest).
			Where(sql.And(
				sql.ColumnsEQ(oldest.C(webhookdelivery.FieldEndpointID), ep.C(webhookendpoint.FieldID)),
				isPending(oldest),
			)).
			OrderBy(oldest.C(webhookdelivery.FieldEventSeq)).
			Limit(1)
		inFlight := b.Select(leased.C(webhookdelivery.FieldID)).From(leased).
			Where(sql.And(
				sql.ColumnsEQ(leased.C(webhookdelivery.FieldEndpointID), ep.C(webhookendpoint.FieldID)),
				isPending(leased),
				sql.NotNull(leased.C(webhookdelivery.FieldLeaseUntil)),
				sql.GT(leased.C(webhookdelivery.FieldLeaseUntil), now),
			))
		heads := b.Select().From(ep).
			AppendSelectExprAs(first, webhookdelivery.FieldID).
			Where(sql.And(
				sql.EQ(ep.C(webhookendpoint.FieldEnabled), true),
				sql.NotExists(inFlight),
			))
		s.Where(sql.In(s.C(webhookdelivery.FieldID), heads))
	}
}

// isPending is "status = 'PENDING'" with the value written out rather
// than bound: statements are prepared (internal/database), and a generic
// plan may use a partial index only when its predicate is in the text.
func isPending(t *sql.SelectTable) *sql.Predicate {
	return sql.ExprP(t.C(webhookdelivery.FieldStatus) + " = '" + webhookdelivery.StatusPENDING.String() + "'")
}

// Renew extends c's lease if the delivery is still pending with c's tries.
func (q deliveryQueue) Renew(ctx context.Context, c delivery.Claim, leaseUntil time.Time) (bool, error) {
	n, err := q.d.client.WebhookDelivery.Update().
		Where(webhookdelivery.ID(c.ID), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.Tries(c.Attempts)).
		SetLeaseUntil(leaseUntil).
		Save(viewer.SystemContext(ctx, c.OrgID))
	return n == 1, err
}

// Attempt POSTs the delivery once, signed with the endpoint's secrets.
func (q deliveryQueue) Attempt(ctx context.Context, c delivery.Claim) (attempt, delivery.Outcome) {
	sys := viewer.SystemContext(ctx, c.OrgID)
	a := attempt{at: q.d.now()}
	dl, err := q.d.client.WebhookDelivery.Query().Where(webhookdelivery.ID(c.ID)).WithEndpoint().Only(sys)
	if err != nil {
		return a, delivery.Retry("The delivery could not be loaded.", err)
	}
	ep := dl.Edges.Endpoint
	a.endpoint = ep.ID
	if !ep.Enabled {
		return a, delivery.Retry("The endpoint is disabled.", nil)
	}
	secrets, err := q.d.s.Secrets(ep)
	if err != nil {
		return a, delivery.Retry("The endpoint's secret could not be opened.", err)
	}
	h := http.Header{}
	h.Set(HeaderEvent, dl.EventType)
	h.Set(HeaderDelivery, string(dl.ID))
	h.Set(HeaderSignature, Signature(q.d.now(), dl.Payload, secrets...))
	a.resp, a.posted = q.d.http.Post(ctx, ep.URL, h, dl.Payload), true
	return a, outcomeOf(a.resp)
}

// outcomeOf says what an answer means: a 2xx is delivered, anything else
// is retried.
func outcomeOf(r Response) delivery.Outcome {
	switch {
	case r.OK():
		return delivery.Sent()
	case r.Err != nil:
		return delivery.Retry(describe(r), r.Err)
	default:
		return delivery.Retry(describe(r), nil)
	}
}

// describe says why an attempt failed, for the delivery log: no secrets,
// no server internals beyond the address refused.
func describe(r Response) string {
	switch {
	case errors.Is(r.Err, ErrRefusedAddress):
		return "Not sent: the URL leads to an address deliveries may not reach (" + refusal(r.Err) + ")."
	case r.Err != nil && r.StatusCode == 0:
		return "No answer: " + r.Err.Error()
	case r.Err != nil:
		return fmt.Sprintf("The endpoint answered %d, and reading the answer failed: %v", r.StatusCode, r.Err)
	default:
		return fmt.Sprintf("The endpoint answered %d.", r.StatusCode)
	}
}

// refusal is what the dialer said about the refused address.
func refusal(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrRefusedAddress.Error()+": "); i >= 0 {
		return msg[i+len(ErrRefusedAddress.Error())+2:]
	}
	return msg
}

// metricOutcome is an attempt's outcome label.
func metricOutcome(a attempt) string {
	switch r := a.resp; {
	case r.OK():
		return metrics.WebhookDelivered
	case errors.Is(r.Err, ErrRefusedAddress):
		return metrics.WebhookRefused
	case r.StatusCode != 0:
		return metrics.WebhookRejected
	default:
		return metrics.WebhookUnreachable
	}
}

// Record writes the outcome of the attempt c holds, its line of the
// delivery log and the endpoint's failing state, in one transaction.
func (q deliveryQueue) Record(ctx context.Context, c delivery.Claim, a attempt, o delivery.Outcome, r delivery.Result) error {
	sys := viewer.SystemContext(ctx, c.OrgID)
	now := q.d.now()
	tx, err := q.d.client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	upd := tx.WebhookDelivery.Update().
		Where(webhookdelivery.ID(c.ID), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.Tries(c.Attempts)).
		ClearLeaseUntil()
	switch r.State {
	case delivery.StateSent:
		upd.SetStatus(webhookdelivery.StatusDELIVERED).SetDeliveredAt(now).ClearNextAttemptAt().ClearLastError()
	case delivery.StateQueued:
		upd.SetNextAttemptAt(r.NextAttemptAt).SetLastError(r.LastError)
	default:
		upd.SetStatus(webhookdelivery.StatusFAILED).SetLastError(r.FailureReason).ClearNextAttemptAt()
	}
	n, err := upd.Save(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		q.d.log.WarnContext(ctx, "webhook delivery outcome discarded: its lease was taken over", "attempt", c.Attempts)
		return nil
	}
	if a.posted {
		create := tx.WebhookAttempt.Create().
			SetOrganizationID(c.OrgID).
			SetDeliveryID(c.ID).
			SetAt(a.at).
			SetDurationMs(int(a.resp.Duration.Milliseconds())).
			SetResponse(fitText(a.resp.Body, maxResponse))
		if a.resp.StatusCode != 0 {
			create.SetStatusCode(a.resp.StatusCode)
		}
		if !a.resp.OK() {
			create.SetError(delivery.Truncate(o.Reason, 500))
		}
		if err := create.Exec(sys); err != nil {
			return err
		}
		if err := q.endpointState(sys, tx, a.endpoint, r.State == delivery.StateSent, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if a.posted && q.d.rec != nil {
		q.d.rec.WebhookAttempt(string(a.endpoint), metricOutcome(a), a.resp.Duration)
	}
	return nil
}

// endpointState moves the endpoint's failing state on an attempt's
// outcome: a success ends it; the first failure starts it; a failure
// FailingFor after it started disables the endpoint, with an activity
// entry (no actor: the server did it) that admins see. Each step is an
// update conditioned on the state it leaves, without reading or locking
// the endpoint first: in the usual case (a success of an endpoint that
// was not failing) it matches no row and locks nothing, so the deliveries
// of one endpoint and its feed never queue behind each other here.
func (q deliveryQueue) endpointState(ctx context.Context, tx *ent.Tx, id gid.ID, ok bool, now time.Time) error {
	if ok {
		return tx.WebhookEndpoint.Update().
			Where(webhookendpoint.ID(id), webhookendpoint.FailingSinceNotNil()).
			ClearFailingSince().
			Exec(ctx)
	}
	started, err := tx.WebhookEndpoint.Update().
		Where(webhookendpoint.ID(id), webhookendpoint.FailingSinceIsNil()).
		SetFailingSince(now).
		Save(ctx)
	if err != nil || started == 1 {
		return err
	}
	disabled, err := tx.WebhookEndpoint.Update().
		Where(webhookendpoint.ID(id), webhookendpoint.Enabled(true), webhookendpoint.FailingSinceLTE(now.Add(-FailingFor))).
		SetEnabled(false).
		SetDisabledReason(DisabledFailing).
		Save(ctx)
	if err != nil || disabled == 0 {
		return err
	}
	// This transaction disabled it, so it alone writes the entry.
	ep, err := tx.WebhookEndpoint.Get(ctx, id)
	if err != nil {
		return err
	}
	q.d.log.WarnContext(ctx, "webhook endpoint disabled: every delivery failed for three days", "endpoint", ep.ID)
	return activity.Record(ctx, tx, activity.Entry{
		Action: EndpointDisabled, SubjectID: ep.ID,
		Details: map[string]any{"url": ep.URL, "automatic": true, "reason": DisabledFailing, "failingSince": ep.FailingSince},
	})
}

// fitText returns the start of b as text, at most n bytes on a rune
// boundary, with invalid UTF-8 replaced.
func fitText(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), n+utf8.UTFMax)]), "\uFFFD")
	return delivery.Truncate(s, n)
}

// DeliveryConnection lists an endpoint's deliveries, newest first.
func (s *Service) DeliveryConnection(ctx context.Context, endpointID gid.ID, after *entgql.Cursor[gid.ID], first *int) (*ent.WebhookDeliveryConnection, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	if _, err := s.client.WebhookEndpoint.Get(ctx, endpointID); err != nil {
		return nil, err
	}
	return s.client.WebhookDelivery.Query().
		Where(webhookdelivery.EndpointID(endpointID)).
		Paginate(ctx, after, first, nil, nil, ent.WithWebhookDeliveryOrder(&ent.WebhookDeliveryOrder{
			Direction: entgql.OrderDirectionDesc, Field: ent.WebhookDeliveryOrderFieldCreatedAt,
		}))
}

// Redeliver sends a delivery again, with the same ID (the partner's
// idempotency key): it is PENDING and due now, its tries counted afresh.
// Until it is delivered it is its endpoint's oldest pending delivery, so
// the endpoint's later events wait behind it, in order.
//
// Counting tries from zero reuses fencing values of its earlier claims;
// none of them can still be alive, since a delivery that is not PENDING
// has no lease and a stale worker's outcome is bounded by the worker's
// timeouts, far shorter than the backoff of as many new tries.
func (s *Service) Redeliver(ctx context.Context, id gid.ID) (*ent.WebhookDelivery, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	dl, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.WebhookDelivery, error) {
		sys := viewer.SystemContext(ctx, viewer.FromContext(ctx).OrgID)
		sel := tx.WebhookDelivery.Query().Where(webhookdelivery.ID(id))
		sel.Modify(database.LockRows())
		dl, err := sel.Only(sys)
		if ent.IsNotFound(err) {
			return nil, apierr.New(apierr.NotFound, "webhook delivery not found")
		}
		if err != nil {
			return nil, err
		}
		if dl.Status == webhookdelivery.StatusPENDING {
			// Already on its way: due now, its tries left alone, since a
			// worker may hold it.
			return tx.WebhookDelivery.UpdateOne(dl).SetNextAttemptAt(s.now()).Save(ctx)
		}
		return tx.WebhookDelivery.UpdateOne(dl).
			SetStatus(webhookdelivery.StatusPENDING).
			SetTries(0).
			SetNextAttemptAt(s.now()).
			ClearLeaseUntil().
			ClearLastError().
			ClearDeliveredAt().
			Save(ctx)
	})
	if err != nil {
		return nil, err
	}
	if s.nudge != nil {
		s.nudge()
	}
	return dl, nil
}

// Prune deletes the delivery log older than Retention: attempts, and
// deliveries that finished (delivered or given up) before then. Pending
// deliveries stay whatever their age.
func (d *Deliveries) Prune(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx, "")
	before := d.now().Add(-Retention)
	a, err := d.client.WebhookAttempt.Delete().Where(webhookattempt.AtLT(before)).Exec(sys)
	if err != nil {
		return a, err
	}
	n, err := d.client.WebhookDelivery.Delete().
		Where(webhookdelivery.StatusNEQ(webhookdelivery.StatusPENDING), webhookdelivery.UpdatedAtLT(before)).
		Exec(sys)
	return a + n, err
}
