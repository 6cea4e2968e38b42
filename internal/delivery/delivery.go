// Package delivery is the durable delivery queue: the worker that takes
// queued rows of a table (chat replies, ZNS messages) to a provider, with
// leases, retries and fencing, on one database shared by any number of
// replicas.
//
// The table is the queue. A Queue, which knows the table, claims due rows
// in a short transaction by setting their lease and incrementing their
// attempts; the Worker calls the provider through the Queue outside any
// transaction, then has the Queue record the outcome in another short
// transaction, fenced by the attempts value it claimed with: if the lease
// expired and another worker claimed the row meanwhile, the stale outcome
// is discarded.
//
// Claiming. On PostgreSQL a Queue selects its candidates FOR UPDATE SKIP
// LOCKED, so two replicas claiming at once take disjoint rows without
// waiting for each other; on SQLite every transaction takes the write lock
// at BEGIN (internal/database), so claims are serialized. Either way the
// UPDATE that sets the lease repeats the "still queued, lease free"
// conditions, so a row is claimed by one worker only. A Budget bounds how
// many rows of one key (a channel) are in delivery at once, across workers
// and replicas, so a provider that hangs holds a few of a worker's slots,
// never all of them, and the other channels and organizations go on.
//
// Crashes. A worker renews its lease every RenewEvery while it delivers,
// so a lease outlives a live delivery however slow the provider is, and a
// worker that dies between claim and outcome leaves a lease that expires
// within Lease (15 s); the row is then claimable again, so nothing is lost.
// Delivery is at least once: a crash after the provider accepted a row but
// before its outcome is written sends it again unless the provider takes an
// idempotency key. The window is kept small: the outcome is written right
// after the provider answers, with a context detached from the worker's so
// a shutdown does not abandon it, and a stopping worker lets its in-flight
// deliveries finish.
//
// Retries. Transient failures are retried after RetryDelay: 1 s doubling up
// to a 5 min cap, with equal jitter, so the first retry comes within 2 s
// (1 s at most, plus the worker's 1 s poll). After MaxAttempts attempts,
// about 10–19 minutes after the first, the row is failed. Permanent
// failures are failed at once with a reason people can read.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/requestlog"
)

// Defaults of Config.
const (
	// MaxAttempts is how many times a row is tried before it is failed. A
	// claim that never finished (a crash) counts as one.
	MaxAttempts = 12
	// Poll is how often an idle worker looks for due rows: retries coming
	// due, and rows queued on other replicas, whose nudges do not reach
	// this one.
	Poll = time.Second
	// Slots is how many deliveries one worker runs at once, and the most
	// one claim takes.
	Slots = 16
	// MaxInFlightPerKey is how many rows of one key may be in delivery at
	// once, across workers and replicas (see Budget).
	MaxInFlightPerKey = 4
	// Lease is how long a claim keeps other workers away without being
	// renewed: how soon a crashed worker's rows are claimable again.
	Lease = 15 * time.Second
	// Timeout bounds one delivery: a download, a token refresh and two
	// provider calls at their own 10 s timeouts, with room to spare.
	Timeout = 90 * time.Second
	// outcomeTimeout bounds writing an outcome, which runs detached from
	// the worker's context.
	outcomeTimeout = 15 * time.Second
	// retryBase and retryCap shape the backoff (see RetryDelay).
	retryBase = time.Second
	retryCap  = 5 * time.Minute
	// maxReason bounds the stored failure texts, in bytes.
	maxReason = 500
)

// RetryDelay is how long to wait after the attempt-th failed attempt:
// 1 s doubled per attempt, capped at 5 min, with equal jitter (see
// Backoff).
var RetryDelay = Backoff(retryBase, retryCap)

// Backoff returns a Config.RetryDelay: base doubled per attempt, capped at
// limit, with equal jitter (50–100 % of the nominal delay) so that rows
// failed by one outage do not all come back at once. jitter is in [0, 1).
func Backoff(base, limit time.Duration) func(attempt int, jitter float64) time.Duration {
	return func(attempt int, jitter float64) time.Duration {
		d := limit
		if attempt >= 1 && attempt < 20 {
			d = min(base<<(attempt-1), limit)
		}
		return d/2 + time.Duration(jitter*float64(d/2))
	}
}

// Claim is a row a worker holds: its attempts value after the claim fences
// every write about it.
type Claim struct {
	ID       gid.ID
	OrgID    gid.ID
	Attempts int
}

// Outcome is what one attempt came to, as the Queue saw the provider's
// answer.
type Outcome struct {
	// Retry says the failure is transient: try again later.
	Retry bool
	// Reason explains a failure to people; empty with Retry false means
	// the provider accepted the row. No secrets, no internals.
	Reason string
	// Cause is the underlying error, for the log only.
	Cause error
}

// Sent is the outcome of an accepted row.
func Sent() Outcome { return Outcome{} }

// Failed is the outcome of a permanent failure.
func Failed(reason string, cause error) Outcome { return Outcome{Reason: reason, Cause: cause} }

// Retry is the outcome of a transient failure.
func Retry(reason string, cause error) Outcome {
	return Outcome{Retry: true, Reason: reason, Cause: cause}
}

// State is where a recorded outcome leaves a row.
type State int

// States of a Result.
const (
	// StateSent: the provider accepted the row.
	StateSent State = iota
	// StateQueued: the row stays queued, due again at Result.NextAttemptAt.
	StateQueued
	// StateFailed: the row is given up, with Result.FailureReason.
	StateFailed
)

// Result is the decision a Worker asks its Queue to record for a claim.
type Result struct {
	State State
	// NextAttemptAt is when a StateQueued row is due again.
	NextAttemptAt time.Time
	// FailureReason is a StateFailed row's reason for people.
	FailureReason string
	// LastError is the reason of the latest failed attempt, set for
	// StateQueued and StateFailed.
	LastError string
}

// Queue is the table-specific half of a delivery queue.
//
// T is what an attempt hands to Record beside its Outcome (a provider
// message ID, a token to disconnect): whatever the table stores.
type Queue[T any] interface {
	// Claim leases up to limit due rows until leaseUntil, incrementing
	// their attempts, in one transaction, and returns them with the
	// attempts after the claim. Rows whose key already has MaxInFlight
	// rows leased are left for later (see Budget).
	Claim(ctx context.Context, now, leaseUntil time.Time, limit, maxInFlight int) ([]Claim, error)
	// Renew extends c's lease to leaseUntil if c still holds it (the row
	// is queued with c's attempts); held is false when it does not.
	Renew(ctx context.Context, c Claim, leaseUntil time.Time) (held bool, err error)
	// Attempt delivers c once, without a transaction around the provider
	// call. ctx ends at the delivery's timeout or when the lease is lost.
	Attempt(ctx context.Context, c Claim) (T, Outcome)
	// Record writes r (and whatever v carries) for c in one transaction,
	// fenced by c.Attempts: a row that is no longer queued with those
	// attempts is left alone, and Record returns nil.
	Record(ctx context.Context, c Claim, v T, o Outcome, r Result) error
}

// Config tunes a Worker; zero fields take the package defaults.
type Config struct {
	// Name is what the log calls a row ("message", "ZNS message").
	Name string
	// LogKey is the log attribute that carries a claim's ID.
	LogKey string
	// Slots, MaxInFlightPerKey, Lease, MaxAttempts, Poll and Timeout
	// default to the constants of the same names.
	Slots             int
	MaxInFlightPerKey int
	Lease             time.Duration
	MaxAttempts       int
	Poll              time.Duration
	Timeout           time.Duration
	// RenewEvery is how often a delivery renews its lease: a third of
	// Lease by default, so one slow or failed renewal does not lose it.
	RenewEvery time.Duration
	// RetryDelay is the wait after the attempt-th failed attempt, given a
	// jitter in [0, 1); nil means the package's RetryDelay. A queue whose
	// partners may be down for a day (partner webhooks) spreads its
	// MaxAttempts over longer.
	RetryDelay func(attempt int, jitter float64) time.Duration
	// Now is the clock of leases and retries; nil means time.Now.
	Now func() time.Time
	// Logger receives outcomes (IDs and reasons, never contents); nil
	// discards them.
	Logger *slog.Logger
}

// Worker runs a Queue's deliveries.
type Worker[T any] struct {
	q   Queue[T]
	cfg Config
	// nudge wakes Run when a row is queued. Capacity 1 and a
	// non-blocking send: a nudge that finds one pending is dropped, since
	// one wake-up claims every due row anyway.
	nudge chan struct{}
}

// New returns a Worker for q.
func New[T any](q Queue[T], cfg Config) *Worker[T] {
	if cfg.Name == "" {
		cfg.Name = "row"
	}
	if cfg.LogKey == "" {
		cfg.LogKey = "id"
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Slots, Slots)
	def(&cfg.MaxInFlightPerKey, MaxInFlightPerKey)
	def(&cfg.MaxAttempts, MaxAttempts)
	defDur(&cfg.Lease, Lease)
	defDur(&cfg.Poll, Poll)
	defDur(&cfg.Timeout, Timeout)
	defDur(&cfg.RenewEvery, cfg.Lease/3)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = RetryDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker[T]{q: q, cfg: cfg, nudge: make(chan struct{}, 1)}
}

// SetRenewEvery changes how often deliveries renew their lease; tests
// shorten it to watch renewals happen.
func (w *Worker[T]) SetRenewEvery(d time.Duration) { w.cfg.RenewEvery = d }

// Nudge wakes Run without waiting: something was queued.
func (w *Worker[T]) Nudge() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Nudged reports whether a nudge is pending, and takes it.
func (w *Worker[T]) Nudged() bool {
	select {
	case <-w.nudge:
		return true
	default:
		return false
	}
}

// Run delivers due rows until ctx is cancelled: at once when nudged, and
// otherwise every Poll. It runs up to Slots deliveries at once and claims
// more as each one finishes, so a slow provider holds only its own slots,
// not a whole batch. Failures are logged and retried at the next round.
// Deliveries already started finish before it returns.
func (w *Worker[T]) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	// done receives one token per finished delivery; its capacity is the
	// slot count, so a delivery never blocks on it.
	done := make(chan struct{}, w.cfg.Slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	running := 0
	for {
		for running < w.cfg.Slots && ctx.Err() == nil {
			claims, err := w.Claim(ctx, w.cfg.Slots-running)
			if err != nil {
				if ctx.Err() == nil {
					w.cfg.Logger.WarnContext(ctx, "claiming deliveries failed", "kind", w.cfg.Name, "err", err)
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
					w.Deliver(ctx, c)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			running--
			// Every delivery finished meanwhile frees its slot too, so
			// the next claim refills them all at once rather than one
			// claim per slot.
			for drained := false; !drained; {
				select {
				case <-done:
					running--
				default:
					drained = true
				}
			}
		case <-w.nudge:
		case <-t.C:
		}
	}
}

// DeliverDue claims the rows that are due, up to Slots, delivers them
// concurrently and records each outcome. It returns how many it claimed; a
// full batch means more may be waiting. Cancelling ctx stops claiming, not
// the deliveries already claimed.
func (w *Worker[T]) DeliverDue(ctx context.Context) (int, error) {
	claims, err := w.Claim(ctx, w.cfg.Slots)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, c := range claims {
		wg.Go(func() { w.Deliver(ctx, c) })
	}
	wg.Wait()
	return len(claims), nil
}

// Claim leases up to limit due rows to this worker.
func (w *Worker[T]) Claim(ctx context.Context, limit int) ([]Claim, error) {
	now := w.cfg.Now()
	return w.q.Claim(ctx, now, now.Add(w.cfg.Lease), limit, w.cfg.MaxInFlightPerKey)
}

// Deliver delivers c within Timeout and records the outcome, on a context
// that ctx's cancellation does not reach: a stopping worker lets the
// deliveries it started finish. It holds c's lease while it delivers.
func (w *Worker[T]) Deliver(ctx context.Context, c Claim) {
	// Every line about this delivery names its row.
	ctx = requestlog.With(context.WithoutCancel(ctx), w.cfg.LogKey, c.ID)
	dctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	renewing := make(chan struct{})
	defer func() { <-renewing }()
	defer cancel()
	go func() {
		defer close(renewing)
		w.holdLease(dctx, c, cancel)
	}()
	var v T
	var o Outcome
	if c.Attempts > w.cfg.MaxAttempts {
		// The previous claim was the last attempt and never finished: the
		// worker died on it. Do not let one row crash workers forever.
		o = Failed("Sending was interrupted too many times.", nil)
	} else {
		v, o = w.q.Attempt(dctx, c)
	}
	if err := w.Record(ctx, c, v, o); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "recording a delivery outcome failed; it will be retried after its lease", "kind", w.cfg.Name, "err", err)
	}
}

// holdLease renews c's lease every RenewEvery until ctx ends. A renewal
// that finds the claim gone (its lease ran out during an outage and
// another worker claimed the row) calls lost, which stops this delivery:
// the other worker's is the live one, and this outcome would be discarded
// anyway. A renewal that fails is logged and tried again at the next tick;
// the lease outlasts two of them.
func (w *Worker[T]) holdLease(ctx context.Context, c Claim, lost func()) {
	t := time.NewTicker(w.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := w.q.Renew(ctx, c, w.cfg.Now().Add(w.cfg.Lease))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			w.cfg.Logger.WarnContext(ctx, "renewing a delivery lease failed", "kind", w.cfg.Name, "err", err)
		case !held:
			w.cfg.Logger.WarnContext(ctx, "delivery stopped: its lease was taken over", "kind", w.cfg.Name, "attempt", c.Attempts)
			lost()
			return
		}
	}
}

// Record decides what o means for c (sent, retried later or failed) and
// has the Queue write it, trying a failing write a few times: a lost
// outcome means sending again after the lease.
func (w *Worker[T]) Record(ctx context.Context, c Claim, v T, o Outcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	r := w.decide(c, o)
	var err error
	for try := range 3 {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 250 * time.Millisecond):
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			}
		}
		if err = w.q.Record(ctx, c, v, o, r); err == nil {
			w.log(ctx, c, r, o)
			return nil
		}
	}
	return err
}

func (w *Worker[T]) decide(c Claim, o Outcome) Result {
	switch {
	case o.Reason == "" && !o.Retry:
		return Result{State: StateSent}
	case o.Retry && c.Attempts < w.cfg.MaxAttempts:
		return Result{State: StateQueued, LastError: Truncate(o.Reason, maxReason),
			NextAttemptAt: w.cfg.Now().Add(w.cfg.RetryDelay(c.Attempts, rand.Float64()))}
	default:
		reason := o.Reason
		if o.Retry {
			reason = fmt.Sprintf("Gave up after %d attempts. %s", c.Attempts, reason)
		}
		return Result{State: StateFailed, FailureReason: Truncate(reason, maxReason), LastError: Truncate(o.Reason, maxReason)}
	}
}

func (w *Worker[T]) log(ctx context.Context, c Claim, r Result, o Outcome) {
	log := w.cfg.Logger.With("kind", w.cfg.Name, "attempt", c.Attempts)
	switch r.State {
	case StateSent:
		log.InfoContext(ctx, "delivered")
	case StateFailed:
		log.WarnContext(ctx, "delivery failed", "reason", o.Reason, "err", o.Cause)
	default:
		log.InfoContext(ctx, "delivery failed; will retry", "reason", o.Reason, "err", o.Cause)
	}
}

// NudgeOnCommit wakes this process's worker once tx, which queued a row,
// has committed. Other replicas find the row at their next poll.
func (w *Worker[T]) NudgeOnCommit(tx *ent.Tx) {
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			w.Nudge()
			return nil
		})
	})
}
