package event_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
)

// testSink takes up to room deliveries until the test drains them.
type testSink struct {
	mu    sync.Mutex
	got   []event.Delivery
	taken int
	room  int
	ch    chan struct{}
	ended chan error
}

func newTestSink(room int) *testSink {
	return &testSink{room: room, ch: make(chan struct{}, 1), ended: make(chan error, 1)}
}

func (s *testSink) Deliver(d event.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got)-s.taken >= s.room {
		return event.ErrFull
	}
	s.got = append(s.got, d)
	return nil
}

func (s *testSink) Room() <-chan struct{} { return s.ch }

func (s *testSink) End(err error) { s.ended <- err }

// drain marks every delivery so far as consumed and returns their seqs.
func (s *testSink) drain() []int64 {
	s.mu.Lock()
	out := seqs(s.got[s.taken:])
	s.taken = len(s.got)
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return out
}

// seqsSoFar returns the seqs of every delivery.
func (s *testSink) seqsSoFar() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seqs(s.got)
}

// waitFor yields until cond holds; a condition that never holds is caught
// by go test's -timeout.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

func TestSinkStreams(t *testing.T) {
	db := dbtest.Open(t)
	setup := func(t *testing.T) (*fixture, *event.MemoryBus) {
		bus := event.NewMemoryBus()
		t.Cleanup(func() { bus.Close() })
		return newFixture(t, db.Client), bus
	}
	start := func(t *testing.T, f *fixture, bus event.Bus, sink *testSink, opts event.Options) context.CancelFunc {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		opts.Sink = sink
		if _, err := event.Subscribe(ctx, db.Client, bus, f.user(f.owner), opts); err != nil {
			t.Fatal(err)
		}
		return cancel
	}
	parked := event.ParkedStreams()

	t.Run("CaughtUpStreamsParkAndTheDispatcherDelivers", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 2)
		sinks := []*testSink{newTestSink(100), newTestSink(100), newTestSink(100)}
		for _, s := range sinks {
			start(t, f, bus, s, event.Options{After: event.Start, Poll: noPoll})
		}
		waitFor(func() bool { return event.ParkedStreams() == parked+3 })
		f.appendN(t, bus, 5)
		for i, s := range sinks {
			waitFor(func() bool { return len(s.seqsSoFar()) >= 7 })
			if got := s.seqsSoFar(); !slices.Equal(got, span(1, 7)) {
				t.Errorf("sink %d got %v, want 1..7 once each", i, got)
			}
		}
		waitFor(func() bool { return event.ParkedStreams() == parked+3 })
	})

	t.Run("AFullSinkWaitsInItsOwnGoroutineThenParksAgain", func(t *testing.T) {
		f, bus := setup(t)
		sink := newTestSink(1)
		start(t, f, bus, sink, event.Options{Poll: noPoll})
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		f.appendN(t, bus, 3) // the first fills the sink
		waitFor(func() bool { return len(sink.seqsSoFar()) == 1 })
		var got []int64
		for len(got) < 3 {
			got = append(got, sink.drain()...)
			runtime.Gosched()
		}
		if !slices.Equal(got, span(1, 3)) {
			t.Fatalf("got %v, want 1..3 in order", got)
		}
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		f.appendN(t, bus, 1)
		waitFor(func() bool { return len(sink.seqsSoFar()) == 4 })
	})

	t.Run("ASinkTooFarBehindEndsWithResume", func(t *testing.T) {
		f, bus := setup(t)
		sink := newTestSink(1)
		start(t, f, bus, sink, event.Options{Poll: noPoll, Buffer: 2})
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		f.appendN(t, bus, 4)
		if err := <-sink.ended; !errors.Is(err, event.ErrSlowConsumer) {
			t.Fatalf("ended with %v, want ErrSlowConsumer", err)
		}
		if got := sink.seqsSoFar(); !slices.Equal(got, []int64{1}) {
			t.Fatalf("delivered %v before ending, want [1]", got)
		}
	})

	t.Run("CancellingAParkedStreamEndsIt", func(t *testing.T) {
		f, bus := setup(t)
		sink := newTestSink(10)
		cancel := start(t, f, bus, sink, event.Options{Poll: noPoll})
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		cancel()
		if err := <-sink.ended; !errors.Is(err, context.Canceled) {
			t.Fatalf("ended with %v, want context.Canceled", err)
		}
		waitFor(func() bool { return event.ParkedStreams() == parked })
	})

	t.Run("ClosingTheBusInterruptsParkedStreams", func(t *testing.T) {
		f, bus := setup(t)
		sink := newTestSink(10)
		start(t, f, bus, sink, event.Options{Poll: noPoll})
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		bus.Close()
		if err := <-sink.ended; !errors.Is(err, event.ErrInterrupted) {
			t.Fatalf("ended with %v, want ErrInterrupted", err)
		}
	})

	t.Run("ParkedStreamsPoll", func(t *testing.T) {
		f, bus := setup(t)
		sink := newTestSink(10)
		start(t, f, bus, sink, event.Options{Poll: time.Millisecond})
		waitFor(func() bool { return event.ParkedStreams() == parked+1 })
		// Committed without a notice: only the poll finds it.
		f.appendTx(t, nil, f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv))
		waitFor(func() bool { return len(sink.seqsSoFar()) == 1 })
	})
}
