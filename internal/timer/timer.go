// Package timer implements durable timers: rows with a due time, run once by
// whichever replica claims them.
//
// A timer is scheduled in the caller's transaction, so it exists exactly
// when the change that needs it committed. A Worker runs every replica's
// due timers: it claims one in a transaction (FOR UPDATE SKIP LOCKED on
// PostgreSQL, so replicas pass over each other's rows; SQLite transactions
// take the write lock at BEGIN, so claims are serial there), deletes it,
// calls its handler with that same transaction and commits. A crash or a
// lost connection rolls all of it back and the timer is still there for the
// next claim, so no step is lost; the delete commits together with the
// handler's changes, so none is done twice.
//
// A handler that fails is rolled back (a savepoint keeps the row locked)
// and the timer is retried later with backoff. Time is injected: tests move
// their clock and call RunDue instead of sleeping.
package timer

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Worker schedule.
const (
	// PollInterval is how often Run looks for due timers unprompted:
	// timers come due, and other replicas schedule timers whose nudges
	// do not reach this process.
	PollInterval = time.Second
	// retryBase and retryCap shape the backoff of a failing handler: the
	// first retry after retryBase, doubling, at most retryCap apart.
	retryBase = 5 * time.Second
	retryCap  = 15 * time.Minute
	// maxLastError bounds the stored error text.
	maxLastError = 1000
)

// Spec is a timer to schedule.
type Spec struct {
	// OrgID is the organization the timer belongs to; its handler runs as
	// that organization's system.
	OrgID gid.ID
	// Kind selects the handler (see Worker.Handle).
	Kind string
	// Key tells apart the timers of one kind; scheduling the same OrgID,
	// Kind and Key again replaces the pending timer.
	Key string
	// Due is when the timer should run.
	Due time.Time
	// Payload is data for the handler, stored as JSON: numbers come back
	// as float64.
	Payload map[string]any
}

// Handler runs a due timer in tx, the transaction that deletes the timer.
// Its ctx carries the system viewer of the timer's organization and the
// worker's event bus. Returning an error rolls back everything the handler
// did and retries the timer later.
type Handler func(ctx context.Context, tx *ent.Tx, t *ent.Timer) error

// Schedule creates a timer in tx, or replaces the pending timer with the
// same (OrgID, Kind, Key): its due time and payload become the new ones and
// its failure count starts over. A handler may schedule its own timer's
// kind and key again: the row it runs has already been deleted.
func Schedule(ctx context.Context, tx *ent.Tx, s Spec) error {
	sys, err := systemOf(ctx, s.OrgID)
	if err != nil {
		return err
	}
	switch {
	case s.Kind == "":
		return errors.New("timer: Schedule needs a kind")
	case s.Due.IsZero():
		return errors.New("timer: Schedule needs a due time")
	}
	create := tx.Timer.Create().
		SetOrganizationID(s.OrgID).
		SetKind(s.Kind).
		SetKey(s.Key).
		SetDueAt(s.Due).
		SetAttempts(0)
	if s.Payload != nil {
		create.SetPayload(s.Payload)
	}
	err = create.
		OnConflictColumns(enttimer.FieldOrganizationID, enttimer.FieldKind, enttimer.FieldKey).
		Update(func(u *ent.TimerUpsert) {
			u.UpdateDueAt().UpdateAttempts().UpdateUpdatedAt().ClearLastError()
			if s.Payload != nil {
				u.UpdatePayload()
			} else {
				u.ClearPayload()
			}
		}).
		Exec(sys)
	if err != nil {
		return fmt.Errorf("timer: scheduling %s %q: %w", s.Kind, s.Key, err)
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			wakeWorkers()
			return nil
		})
	})
	return nil
}

// ScheduleIfAbsent creates the timer s in tx unless (OrgID, Kind, Key)
// already has a pending one, which it leaves as it is: for timers that
// every replica makes sure of, where replacing would keep postponing one.
func ScheduleIfAbsent(ctx context.Context, tx *ent.Tx, s Spec) error {
	sys, err := systemOf(ctx, s.OrgID)
	if err != nil {
		return err
	}
	if s.Kind == "" || s.Due.IsZero() {
		return errors.New("timer: ScheduleIfAbsent needs a kind and a due time")
	}
	create := tx.Timer.Create().
		SetOrganizationID(s.OrgID).
		SetKind(s.Kind).
		SetKey(s.Key).
		SetDueAt(s.Due).
		SetAttempts(0)
	if s.Payload != nil {
		create.SetPayload(s.Payload)
	}
	err = create.
		OnConflictColumns(enttimer.FieldOrganizationID, enttimer.FieldKind, enttimer.FieldKey).
		DoNothing().
		Exec(sys)
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) {
		return fmt.Errorf("timer: scheduling %s %q: %w", s.Kind, s.Key, err)
	}
	return nil
}

// EnsureAll makes sure each of specs has a pending timer, creating those
// that have none (as ScheduleIfAbsent) in one transaction: for the timers
// every replica makes sure of at start-up and now and again, one per
// channel or organization.
func EnsureAll(ctx context.Context, client *ent.Client, specs []Spec) error {
	if len(specs) == 0 {
		return nil
	}
	tx, err := client.Tx(viewer.SystemContext(ctx, ""))
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range specs {
		if err := ScheduleIfAbsent(ctx, tx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Cancel deletes the pending timer of (orgID, kind, key) in tx; there is no
// error when there is none. A worker running that timer at this moment
// holds its row: on PostgreSQL Cancel waits for it and then finds nothing,
// so handlers must check that what they act on is still current.
func Cancel(ctx context.Context, tx *ent.Tx, orgID gid.ID, kind, key string) error {
	sys, err := systemOf(ctx, orgID)
	if err != nil {
		return err
	}
	_, err = tx.Timer.Delete().
		Where(enttimer.OrganizationID(orgID), enttimer.Kind(kind), enttimer.Key(key)).
		Exec(sys)
	if err != nil {
		return fmt.Errorf("timer: cancelling %s %q: %w", kind, key, err)
	}
	return nil
}

// Hold locks the pending timer of (orgID, kind, key), if there is one,
// until tx ends: workers pass it over meanwhile, and Hold waits while a
// worker runs it. A transaction that changes what a timer's handler works
// on, and may cancel or replace that timer, calls Hold first: it then takes
// its locks in the order a worker does (the timer, then what the handler
// touches) and cannot deadlock with a running handler. On SQLite, whose
// transactions exclude each other, there is nothing to lock.
func Hold(ctx context.Context, tx *ent.Tx, orgID gid.ID, kind, key string) error {
	sys, err := systemOf(ctx, orgID)
	if err != nil {
		return err
	}
	q := tx.Timer.Query().
		Where(enttimer.OrganizationID(orgID), enttimer.Kind(kind), enttimer.Key(key)).
		Unique(false)
	q.Modify(database.LockRows())
	if _, err := q.IDs(sys); err != nil {
		return fmt.Errorf("timer: holding %s %q: %w", kind, key, err)
	}
	return nil
}

// systemOf returns the system context of orgID, refusing another
// organization than the caller's: the Timer policy admits only the system,
// and the tenant filter then confines it to orgID.
func systemOf(ctx context.Context, orgID gid.ID) (context.Context, error) {
	if orgID == "" {
		return nil, errors.New("timer: needs an organization")
	}
	if v := viewer.FromContext(ctx); v != nil && v.OrgID != "" && v.OrgID != orgID {
		return nil, errors.New("timer: cannot schedule for another organization")
	}
	return viewer.SystemContext(ctx, orgID), nil
}

// Worker runs due timers with the handlers registered for their kinds. Any
// number of workers, in one process or in several replicas, may run over the
// same database: each timer runs once.
type Worker struct {
	client *ent.Client
	log    *slog.Logger
	now    func() time.Time

	mu       sync.RWMutex
	handlers map[string]Handler

	// nudge wakes Run. Its capacity is 1 and senders never block: one
	// pending wake-up covers any number of new timers, since a round runs
	// everything that is due.
	nudge chan struct{}
}

// NewWorker returns a worker over client that logs failures to logger (nil
// discards them) and tells time with now (nil means time.Now).
func NewWorker(client *ent.Client, logger *slog.Logger, now func() time.Time) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Worker{
		client:   client,
		log:      logger,
		now:      now,
		handlers: map[string]Handler{},
		nudge:    make(chan struct{}, 1),
	}
}

// Handle registers the handler of a kind of timer; register before Run.
// Timers of kinds this worker has no handler for are left to workers that
// have one.
func (w *Worker) Handle(kind string, h Handler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handlers[kind] = h
}

// kinds returns the registered kinds and a copy of their handlers.
func (w *Worker) kinds() ([]string, map[string]Handler) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	kinds := slices.Sorted(maps.Keys(w.handlers))
	return kinds, maps.Clone(w.handlers)
}

// RunDue runs every timer due at now(), one transaction each, and returns
// how many ran successfully. A failing handler does not stop the others: its
// timer is rescheduled. An error is returned only when the database fails.
// Tests call it after moving the clock.
func (w *Worker) RunDue(ctx context.Context) (int, error) {
	kinds, handlers := w.kinds()
	if len(kinds) == 0 {
		return 0, nil
	}
	// A round runs the timers due at its start that existed before it
	// began: one that a handler schedules, even due at once, waits for the
	// next round instead of keeping this one going for ever. began is the
	// wall clock, like the rows' updated_at; now is the injected clock of
	// due times.
	r := round{now: w.now(), began: time.Now()}
	done := 0
	for ctx.Err() == nil {
		ran, ok, err := w.runOne(ctx, kinds, handlers, r)
		if err != nil {
			return done, err
		}
		if !ran {
			return done, nil
		}
		if ok {
			done++
		}
	}
	return done, ctx.Err()
}

// round is when a RunDue round runs.
type round struct {
	now, began time.Time
}

// runOne claims one due timer and runs it. ran says a timer was claimed; ok
// says its handler succeeded.
func (w *Worker) runOne(ctx context.Context, kinds []string, handlers map[string]Handler, r round) (ran, ok bool, err error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := w.client.Tx(sys)
	if err != nil {
		return false, false, err
	}
	defer func() { _ = tx.Rollback() }()
	q := tx.Timer.Query().
		Where(enttimer.DueAtLTE(r.now), enttimer.UpdatedAtLT(r.began), enttimer.KindIn(kinds...)).
		Order(enttimer.ByDueAt(), enttimer.ByID()).
		Unique(false)
	q.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	t, err := q.First(sys)
	if ent.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("timer: claiming a due timer: %w", err)
	}

	hctx := viewer.SystemContext(ctx, t.OrganizationID)
	herr := database.Savepoint(hctx, tx, "timer_run", func() error {
		if err := tx.Timer.DeleteOneID(t.ID).Exec(hctx); err != nil {
			return err
		}
		return handlers[t.Kind](hctx, tx, t)
	})
	if herr != nil {
		if ctx.Err() != nil || errors.Is(herr, database.ErrSavepoint) {
			// Stopping, or the transaction is unusable: roll everything
			// back and leave the timer as it was for the next claim.
			return true, false, errors.Join(herr, ctx.Err())
		}
		attempts := t.Attempts + 1
		next := r.now.Add(retryDelay(attempts))
		if err := tx.Timer.UpdateOneID(t.ID).
			SetAttempts(attempts).
			SetDueAt(next).
			SetLastError(clip(herr.Error(), maxLastError)).
			Exec(hctx); err != nil {
			return true, false, fmt.Errorf("timer: recording the failure of %s: %w", t.ID, err)
		}
		if err := tx.Commit(); err != nil {
			return true, false, err
		}
		w.log.WarnContext(ctx, "timer failed; will retry",
			"timer", t.ID, "kind", t.Kind, "key", t.Key, "attempts", attempts, "next", next, "err", herr)
		return true, false, nil
	}
	if err := tx.Commit(); err != nil {
		return true, false, fmt.Errorf("timer: committing %s: %w", t.ID, err)
	}
	return true, true, nil
}

// Run runs due timers until ctx ends: every PollInterval, and at once when
// a timer scheduled in this process commits.
func (w *Worker) Run(ctx context.Context) {
	register(w)
	defer unregister(w)
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		if _, err := w.RunDue(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "running timers failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.nudge:
		case <-t.C:
		}
	}
}

// wake wakes Run without waiting; a wake-up already pending absorbs it.
func (w *Worker) wake() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// running holds the workers whose Run is under way in this process, so a
// committed Schedule can wake them without its caller knowing them.
var running struct {
	sync.Mutex
	set map[*Worker]struct{}
}

func register(w *Worker) {
	running.Lock()
	defer running.Unlock()
	if running.set == nil {
		running.set = map[*Worker]struct{}{}
	}
	running.set[w] = struct{}{}
}

func unregister(w *Worker) {
	running.Lock()
	defer running.Unlock()
	delete(running.set, w)
}

// wakeWorkers wakes every running worker of this process.
func wakeWorkers() {
	running.Lock()
	defer running.Unlock()
	for w := range running.set {
		w.wake()
	}
}

// retryDelay is the wait after the n-th consecutive failure: retryBase,
// doubling, at most retryCap.
func retryDelay(failures int) time.Duration {
	d := retryBase
	for i := 1; i < failures && d < retryCap; i++ {
		d *= 2
	}
	return min(d, retryCap)
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
