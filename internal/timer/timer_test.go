package timer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// fixture is a database with two organizations and a clock.
type fixture struct {
	t          *testing.T
	client     *ent.Client
	org, other gid.ID
	clock      *clocktest.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	client := dbtest.Open(t).Client
	ctx := viewer.SystemContext(context.Background(), "")
	f := &fixture{t: t, client: client, clock: clocktest.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))}
	for _, id := range []*gid.ID{&f.org, &f.other} {
		o, err := client.Organization.Create().SetName("Timers").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		*id = o.ID
	}
	return f
}

func (f *fixture) sys(org gid.ID) context.Context {
	return viewer.SystemContext(context.Background(), org)
}

// inTx runs fn in a committed transaction as the system of org.
func (f *fixture) inTx(org gid.ID, fn func(ctx context.Context, tx *ent.Tx) error) {
	f.t.Helper()
	ctx := f.sys(org)
	tx, err := f.client.Tx(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		f.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) schedule(s timer.Spec) {
	f.t.Helper()
	f.inTx(s.OrgID, func(ctx context.Context, tx *ent.Tx) error { return timer.Schedule(ctx, tx, s) })
}

// timers returns every stored timer, oldest due first.
func (f *fixture) timers() []*ent.Timer {
	f.t.Helper()
	ts, err := f.client.Timer.Query().Order(enttimer.ByDueAt(), enttimer.ByKey()).All(f.sys(""))
	if err != nil {
		f.t.Fatal(err)
	}
	return ts
}

func (f *fixture) runDue(w *timer.Worker) int {
	f.t.Helper()
	n, err := w.RunDue(context.Background())
	if err != nil {
		f.t.Fatalf("RunDue: %v", err)
	}
	return n
}

func TestTimerRunsOnceWhenDue(t *testing.T) {
	f := newFixture(t)
	type call struct {
		org, viewerOrg gid.ID
		system         bool
		key            string
		payload        map[string]any
	}
	var calls []call
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	w.Handle("offer", func(ctx context.Context, tx *ent.Tx, tm *ent.Timer) error {
		v := viewer.FromContext(ctx)
		calls = append(calls, call{tm.OrganizationID, v.OrgID, v.System, tm.Key, tm.Payload})
		return nil
	})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: f.clock.Now().Add(10 * time.Second),
		Payload: map[string]any{"agent": "usr_1", "round": 2}})

	if n := f.runDue(w); n != 0 || len(calls) != 0 {
		t.Fatalf("before its due time: ran %d, calls %+v", n, calls)
	}
	f.clock.Advance(10 * time.Second)
	if n := f.runDue(w); n != 1 {
		t.Fatalf("at its due time: ran %d, want 1", n)
	}
	want := call{f.org, f.org, true, "cnv_1", map[string]any{"agent": "usr_1", "round": float64(2)}}
	if len(calls) != 1 || fmt.Sprint(calls[0]) != fmt.Sprint(want) {
		t.Fatalf("calls %+v, want [%+v]", calls, want)
	}
	if left := f.timers(); len(left) != 0 {
		t.Fatalf("the timer is still stored: %+v", left)
	}
	f.clock.Advance(time.Hour)
	if n := f.runDue(w); n != 0 || len(calls) != 1 {
		t.Fatalf("ran again: %d, calls %+v", n, calls)
	}
}

func TestScheduleReplacesThePendingTimer(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: now.Add(time.Minute), Payload: map[string]any{"agent": "a"}})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: now.Add(2 * time.Minute), Payload: map[string]any{"agent": "b"}})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_2", Due: now.Add(3 * time.Minute)})
	f.schedule(timer.Spec{OrgID: f.other, Kind: "offer", Key: "cnv_1", Due: now.Add(4 * time.Minute)})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_2", Due: now.Add(5 * time.Minute)})

	got := f.timers()
	if len(got) != 3 {
		t.Fatalf("%d timers, want 3: %+v", len(got), got)
	}
	first := got[0]
	if first.OrganizationID != f.org || first.Key != "cnv_1" || !first.DueAt.Equal(now.Add(2*time.Minute)) || first.Payload["agent"] != "b" {
		t.Fatalf("the replaced timer is %+v", first)
	}
	if got[1].OrganizationID != f.other || got[2].Key != "cnv_2" || got[2].Payload != nil || !got[2].DueAt.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("timers %+v", got)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: f.clock.Now()})
	f.schedule(timer.Spec{OrgID: f.other, Kind: "offer", Key: "cnv_1", Due: f.clock.Now()})
	f.inTx(f.org, func(ctx context.Context, tx *ent.Tx) error {
		if err := timer.Cancel(ctx, tx, f.org, "offer", "cnv_1"); err != nil {
			return err
		}
		// Cancelling what is not there is not an error.
		return timer.Cancel(ctx, tx, f.org, "offer", "cnv_missing")
	})
	got := f.timers()
	if len(got) != 1 || got[0].OrganizationID != f.other {
		t.Fatalf("after cancelling, timers %+v", got)
	}

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		tx, err := f.client.Tx(f.sys(f.org))
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := timer.Cancel(f.sys(f.org), tx, f.other, "offer", "cnv_1"); err == nil {
			t.Fatal("cancelled another organization's timer")
		}
		if err := timer.Schedule(f.sys(f.org), tx, timer.Spec{OrgID: f.other, Kind: "offer", Due: f.clock.Now()}); err == nil {
			t.Fatal("scheduled a timer for another organization")
		}
	})
}

// TestFailingHandlerIsRolledBackAndRetried: what a failing (or panicking)
// handler wrote is undone, and its timer comes back after a backoff.
func TestFailingHandlerIsRolledBackAndRetried(t *testing.T) {
	f := newFixture(t)
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	fail := []string{"error", "panic"}
	calls := 0
	w.Handle("flaky", func(ctx context.Context, tx *ent.Tx, tm *ent.Timer) error {
		calls++
		// A side effect that must not survive a failure.
		if err := timer.Schedule(ctx, tx, timer.Spec{OrgID: tm.OrganizationID, Kind: "side", Key: fmt.Sprint(calls), Due: f.clock.Now()}); err != nil {
			return err
		}
		if len(fail) == 0 {
			return nil
		}
		how := fail[0]
		fail = fail[1:]
		if how == "panic" {
			panic("handler bug")
		}
		return errors.New("provider down")
	})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "flaky", Key: "k", Due: f.clock.Now()})

	if n := f.runDue(w); n != 0 || calls != 1 {
		t.Fatalf("first round: %d ran, %d calls", n, calls)
	}
	got := f.timers()
	if len(got) != 1 || got[0].Kind != "flaky" || got[0].Attempts != 1 || got[0].LastError != "provider down" ||
		!got[0].DueAt.Equal(f.clock.Now().Add(5*time.Second)) {
		t.Fatalf("after a failure, timers %+v", got)
	}
	if n := f.runDue(w); n != 0 || calls != 1 {
		t.Fatalf("retried before the backoff: %d ran, %d calls", n, calls)
	}
	f.clock.Advance(5 * time.Second)
	if n := f.runDue(w); n != 0 || calls != 2 {
		t.Fatalf("second round: %d ran, %d calls", n, calls)
	}
	got = f.timers()
	if len(got) != 1 || got[0].Attempts != 2 || !got[0].DueAt.Equal(f.clock.Now().Add(10*time.Second)) {
		t.Fatalf("after a panic, timers %+v", got)
	}
	f.clock.Advance(10 * time.Second)
	if n := f.runDue(w); n != 1 || calls != 3 {
		t.Fatalf("third round: %d ran, %d calls", n, calls)
	}
	got = f.timers()
	if len(got) != 1 || got[0].Kind != "side" || got[0].Key != "3" {
		t.Fatalf("only the successful run's side effect must remain: %+v", got)
	}
}

// TestHandlerMayRescheduleItsOwnTimer: the row being run is deleted before
// the handler runs, so scheduling the same key again keeps the new timer.
func TestHandlerMayRescheduleItsOwnTimer(t *testing.T) {
	f := newFixture(t)
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	w.Handle("offer", func(ctx context.Context, tx *ent.Tx, tm *ent.Timer) error {
		return timer.Schedule(ctx, tx, timer.Spec{OrgID: tm.OrganizationID, Kind: tm.Kind, Key: tm.Key,
			Due: tm.DueAt.Add(30 * time.Second), Payload: map[string]any{"step": "next"}})
	})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: f.clock.Now()})
	if n := f.runDue(w); n != 1 {
		t.Fatalf("ran %d, want 1 (the rescheduled timer is not due yet)", n)
	}
	got := f.timers()
	if len(got) != 1 || !got[0].DueAt.Equal(f.clock.Now().Add(30*time.Second)) || got[0].Payload["step"] != "next" {
		t.Fatalf("timers %+v", got)
	}
}

// TestTimerSurvivesADeadWorker: a worker that dies while running a timer
// (its context ends, its transaction is rolled back) leaves the timer as
// it was, and another worker runs it once.
func TestTimerSurvivesADeadWorker(t *testing.T) {
	f := newFixture(t)
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: f.clock.Now()})

	ctx, die := context.WithCancel(context.Background())
	dying := timer.NewWorker(f.client, nil, f.clock.Now)
	dying.Handle("offer", func(hctx context.Context, tx *ent.Tx, tm *ent.Timer) error {
		if err := timer.Schedule(hctx, tx, timer.Spec{OrgID: tm.OrganizationID, Kind: "side", Key: "dead", Due: f.clock.Now()}); err != nil {
			return err
		}
		die()
		return hctx.Err()
	})
	if _, err := dying.RunDue(ctx); err == nil {
		t.Fatal("RunDue of a dying worker returned no error")
	}
	got := f.timers()
	if len(got) != 1 || got[0].Kind != "offer" || got[0].Attempts != 0 {
		t.Fatalf("after the worker died, timers %+v", got)
	}

	calls := 0
	alive := timer.NewWorker(f.client, nil, f.clock.Now)
	alive.Handle("offer", func(context.Context, *ent.Tx, *ent.Timer) error { calls++; return nil })
	if n := f.runDue(alive); n != 1 || calls != 1 {
		t.Fatalf("the surviving worker ran %d (%d calls), want 1", n, calls)
	}
	if n := f.runDue(alive); n != 0 || len(f.timers()) != 0 {
		t.Fatalf("ran again or left timers: %d, %+v", n, f.timers())
	}
}

// TestRacingWorkersRunEachTimerOnce runs workers over the same due timers
// at once, as replicas do: every timer is handled exactly once. On
// PostgreSQL they really run concurrently (SKIP LOCKED); on SQLite they
// serialize on the write lock.
func TestRacingWorkersRunEachTimerOnce(t *testing.T) {
	const timers, workers = 120, 4
	f := newFixture(t)
	f.inTx(f.org, func(ctx context.Context, tx *ent.Tx) error {
		for i := range timers {
			if err := timer.Schedule(ctx, tx, timer.Spec{OrgID: f.org, Kind: "offer", Key: fmt.Sprint(i), Due: f.clock.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	handled := map[string]int{}
	var wg sync.WaitGroup
	total := make([]int, workers)
	errs := make([]error, workers)
	for i := range workers {
		w := timer.NewWorker(f.client, nil, f.clock.Now)
		w.Handle("offer", func(_ context.Context, _ *ent.Tx, tm *ent.Timer) error {
			mu.Lock()
			handled[tm.Key]++
			mu.Unlock()
			return nil
		})
		wg.Go(func() { total[i], errs[i] = w.RunDue(context.Background()) })
	}
	wg.Wait()
	sum := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		sum += total[i]
	}
	if sum != timers || len(handled) != timers {
		t.Fatalf("workers ran %d timers, %d distinct; want %d", sum, len(handled), timers)
	}
	for k, n := range handled {
		if n != 1 {
			t.Errorf("timer %s handled %d times", k, n)
		}
	}
	if left := f.timers(); len(left) != 0 {
		t.Fatalf("%d timers left", len(left))
	}
}

// TestUnknownKindsAreLeftAlone: a worker runs only the kinds it handles,
// so replicas of an older version leave newer kinds to the others.
func TestUnknownKindsAreLeftAlone(t *testing.T) {
	f := newFixture(t)
	f.schedule(timer.Spec{OrgID: f.org, Kind: "automessage", Key: "x", Due: f.clock.Now()})
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	w.Handle("offer", func(context.Context, *ent.Tx, *ent.Timer) error { return nil })
	if n := f.runDue(w); n != 0 || len(f.timers()) != 1 {
		t.Fatalf("ran %d; timers %+v", n, f.timers())
	}
}

// TestRunIsWokenBySchedule: a running worker runs a timer scheduled in its
// process as soon as the scheduling transaction commits.
func TestRunIsWokenBySchedule(t *testing.T) {
	f := newFixture(t)
	ran := make(chan string, 1)
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	w.Handle("offer", func(_ context.Context, _ *ent.Tx, tm *ent.Timer) error { ran <- tm.Key; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "now", Due: f.clock.Now()})
	if got := <-ran; got != "now" {
		t.Fatalf("ran %q", got)
	}
}

// TestRoundRunsOnlyTimersThatExistedBeforeIt: a handler that schedules a
// timer due at once does not keep its round going; the next round runs it.
func TestRoundRunsOnlyTimersThatExistedBeforeIt(t *testing.T) {
	f := newFixture(t)
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	calls := 0
	w.Handle("again", func(ctx context.Context, tx *ent.Tx, tm *ent.Timer) error {
		calls++
		return timer.Schedule(ctx, tx, timer.Spec{OrgID: tm.OrganizationID, Kind: tm.Kind, Key: tm.Key, Due: tm.DueAt})
	})
	f.schedule(timer.Spec{OrgID: f.org, Kind: "again", Key: "k", Due: f.clock.Now()})
	for round := 1; round <= 3; round++ {
		if n := f.runDue(w); n != 1 || calls != round {
			t.Fatalf("round %d ran %d timers, %d calls in all", round, n, calls)
		}
	}
}

// TestHoldKeepsWorkersAway: while a transaction holds a timer, workers pass
// it over; once the transaction ends, they run it. (On SQLite a
// transaction already excludes every other writer.)
func TestHoldKeepsWorkersAway(t *testing.T) {
	if dbtest.Dialect() != dialect.Postgres {
		t.Skip("SQLite transactions exclude each other; there is no row to hold")
	}
	f := newFixture(t)
	f.schedule(timer.Spec{OrgID: f.org, Kind: "offer", Key: "cnv_1", Due: f.clock.Now()})
	w := timer.NewWorker(f.client, nil, f.clock.Now)
	w.Handle("offer", func(context.Context, *ent.Tx, *ent.Timer) error { return nil })
	tx, err := f.client.Tx(f.sys(f.org))
	if err != nil {
		t.Fatal(err)
	}
	if err := timer.Hold(f.sys(f.org), tx, f.org, "offer", "cnv_1"); err != nil {
		t.Fatal(err)
	}
	if n := f.runDue(w); n != 0 {
		t.Fatalf("a worker ran a held timer (%d)", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := f.runDue(w); n != 1 {
		t.Fatalf("after the hold ended, %d timers ran", n)
	}
}
