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
}

// NewDeliveries returns the deliveries of s's endpoints.
func NewDeliveries(s *Service, cfg DeliveryConfig) *Deliveries {
	d := &Deliveries{
		s: s, client: s.client, http: NewClient(s.insecure), render: cfg.Render,
		rec: cfg.Metrics, log: cfg.Logger, poll: cfg.Poll, now: s.now,
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
	return d
}

// Run feeds and delivers until ctx is cancelled; deliveries already
// started finish before it returns.
func (d *Deliveries) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.worker.Run(ctx)
	}()
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		if _, err := d.Feed(ctx); err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "feeding webhook deliveries failed", "err", err)
		}
		select {
		case <-ctx.Done():
			<-done
			return
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

// Claim leases up to limit due deliveries, the oldest pending of each
// enabled endpoint that has none in flight.
func (q deliveryQueue) Claim(ctx context.Context, now, leaseUntil time.Time, limit, maxInFlight int) ([]delivery.Claim, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := q.d.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var leased []struct {
		EndpointID gid.ID `json:"endpoint_id"`
		Count      int    `json:"count"`
	}
	if err := tx.WebhookDelivery.Query().
		Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.LeaseUntilGT(now)).
		GroupBy(webhookdelivery.FieldEndpointID).
		Aggregate(ent.Count()).
		Scan(sys, &leased); err != nil {
		return nil, fmt.Errorf("partner: counting deliveries in flight: %w", err)
	}
	inFlight := make(map[gid.ID]int, len(leased))
	for _, l := range leased {
		inFlight[l.EndpointID] = l.Count
	}
	budget := delivery.NewBudget(maxInFlight, inFlight)
	sel := tx.WebhookDelivery.Query().
		Where(due(now)...).
		Where(webhookdelivery.EndpointIDNotIn(budget.Full()...)).
		Where(webhookdelivery.HasEndpointWith(webhookendpoint.Enabled(true))).
		Where(oldestPendingOfEndpoint()).
		Order(webhookdelivery.ByNextAttemptAt(), webhookdelivery.ByID()).
		Limit(limit).
		Unique(false)
	sel.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	rows, err := sel.All(sys)
	if err != nil {
		return nil, fmt.Errorf("partner: selecting due deliveries: %w", err)
	}
	out := make([]delivery.Claim, 0, len(rows))
	for _, r := range rows {
		if !budget.Take(r.EndpointID) {
			continue
		}
		n, err := tx.WebhookDelivery.Update().
			Where(webhookdelivery.ID(r.ID), webhookdelivery.Tries(r.Tries)).
			Where(due(now)...).
			SetLeaseUntil(leaseUntil).
			SetTries(r.Tries + 1).
			Save(sys)
		if err != nil {
			return nil, fmt.Errorf("partner: leasing delivery %s: %w", r.ID, err)
		}
		if n == 1 {
			out = append(out, delivery.Claim{ID: r.ID, OrgID: r.OrganizationID, Attempts: r.Tries + 1})
		}
	}
	return out, tx.Commit()
}

// oldestPendingOfEndpoint keeps deliveries that no PENDING delivery of an
// earlier event of their endpoint precedes.
func oldestPendingOfEndpoint() predicate.WebhookDelivery {
	return func(s *sql.Selector) {
		earlier := sql.Table(webhookdelivery.Table).As("earlier")
		s.Where(sql.NotExists(
			sql.Dialect(s.Dialect()).
				Select(earlier.C(webhookdelivery.FieldID)).
				From(earlier).
				Where(sql.And(
					sql.ColumnsEQ(earlier.C(webhookdelivery.FieldEndpointID), s.C(webhookdelivery.FieldEndpointID)),
					sql.EQ(earlier.C(webhookdelivery.FieldStatus), webhookdelivery.StatusPENDING.String()),
					sql.ColumnsLT(earlier.C(webhookdelivery.FieldEventSeq), s.C(webhookdelivery.FieldEventSeq)),
				)),
		))
	}
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
// entry (no actor: the server did it) that admins see.
func (q deliveryQueue) endpointState(ctx context.Context, tx *ent.Tx, id gid.ID, ok bool, now time.Time) error {
	sel := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id))
	sel.Modify(database.LockRows())
	ep, err := sel.Only(ctx)
	if err != nil {
		return err
	}
	switch {
	case ok:
		if ep.FailingSince == nil {
			return nil
		}
		return tx.WebhookEndpoint.UpdateOne(ep).ClearFailingSince().Exec(ctx)
	case ep.FailingSince == nil:
		return tx.WebhookEndpoint.UpdateOne(ep).SetFailingSince(now).Exec(ctx)
	case ep.Enabled && now.Sub(*ep.FailingSince) >= FailingFor:
		if err := tx.WebhookEndpoint.UpdateOne(ep).SetEnabled(false).SetDisabledReason(DisabledFailing).Exec(ctx); err != nil {
			return err
		}
		q.d.log.WarnContext(ctx, "webhook endpoint disabled: every delivery failed for three days", "endpoint", ep.ID)
		return activity.Record(ctx, tx, activity.Entry{
			Action: EndpointDisabled, SubjectID: ep.ID,
			Details: map[string]any{"url": ep.URL, "automatic": true, "reason": DisabledFailing, "failingSince": ep.FailingSince},
		})
	}
	return nil
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
