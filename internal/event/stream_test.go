package event_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestStream(t *testing.T) {
	db := dbtest.Open(t)

	// Each case gets its own organization (and so its own log from seq 1)
	// on a shared database.
	setup := func(t *testing.T) (*fixture, *event.MemoryBus) {
		bus := event.NewMemoryBus()
		t.Cleanup(func() { bus.Close() })
		return newFixture(t, db.Client), bus
	}

	t.Run("ReplayThenLive", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 3)
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll})
		if got := seqs(receive(t, s, 3)); !slices.Equal(got, span(1, 3)) {
			t.Fatalf("replay = %v, want 1..3", got)
		}
		f.appendN(t, bus, 2)
		if got := seqs(receive(t, s, 2)); !slices.Equal(got, span(4, 5)) {
			t.Fatalf("live = %v, want 4..5", got)
		}
	})

	t.Run("EmptyAfterStartsFromNow", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 2)
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll})
		f.appendN(t, bus, 1)
		if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{3}) {
			t.Fatalf("got %v, want only the event after subscribing (3)", got)
		}
	})

	t.Run("CursorsResumeAfterTheirEvent", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 3)
		ds := receive(t, subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll}), 3)
		for i, d := range ds {
			c, err := event.ParseCursor(d.Cursor.String())
			if err != nil || c != d.Cursor || c.Seq() != d.Event.Seq {
				t.Errorf("delivery %d: cursor %q parses to %+v (%v), want seq %d", i, d.Cursor, c, err, d.Event.Seq)
			}
		}
	})

	// The seam between replay and live: events are committed while the
	// streams subscribe, and each must arrive exactly once.
	t.Run("NoGapNoDuplicateAtTheSeam", func(t *testing.T) {
		const total = 200
		f, bus := setup(t)
		started := make(chan struct{})
		var once sync.Once
		var writer sync.WaitGroup
		var werr error
		writer.Go(func() {
			defer once.Do(func() { close(started) })
			for i := range total {
				if _, err := appendCommit(db.Client, bus, f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv)); err != nil {
					werr = err
					return
				}
				if i == 20 {
					once.Do(func() { close(started) })
				}
			}
		})
		<-started
		fromStart := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll})
		fromNow := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll})
		writer.Wait()
		if werr != nil {
			t.Fatal(werr)
		}
		if got := seqs(receiveThrough(t, fromStart, total)); !slices.Equal(got, span(1, total)) {
			t.Errorf("from start: %v, want 1..%d", got, total)
		}
		got := seqs(receiveThrough(t, fromNow, total))
		if len(got) == 0 || !slices.Equal(got, span(got[0], total)) {
			t.Errorf("from now: %v, want consecutive through %d", got, total)
		}
	})

	// Caught-up streams share their reads of the log; a shared read may
	// have begun before the event a stream was told about, and the stream
	// must still deliver it, without a poll.
	t.Run("ManyStreamsWithConcurrentWriters", func(t *testing.T) {
		const streams, writers, perWriter = 40, 4, 25
		f, bus := setup(t)
		var ss []*event.Stream
		for range streams {
			ss = append(ss, subscribe(t, db.Client, bus, f.user(f.alice), event.Options{Poll: noPoll}))
		}
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range perWriter {
					if _, err := appendCommit(db.Client, bus, f.entry(event.TopicMessage, event.TypeCreated, f.privateConv)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for i, s := range ss {
			wg.Go(func() {
				var got []int64
				for d := range s.C() {
					if got = append(got, d.Event.Seq); len(got) == writers*perWriter {
						break
					}
				}
				if !slices.Equal(got, span(1, writers*perWriter)) {
					t.Errorf("stream %d: %v (err %v), want 1..%d", i, got, s.Err(), writers*perWriter)
				}
			})
		}
		wg.Wait()
	})

	t.Run("ResumeAfterCancel", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 5)
		ctx, cancel := context.WithCancel(context.Background())
		first, err := event.Subscribe(ctx, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll})
		if err != nil {
			t.Fatal(err)
		}
		last := receive(t, first, 3)[2].Cursor
		cancel()
		<-first.Done()
		if !errors.Is(first.Err(), context.Canceled) {
			t.Errorf("cancelled stream's Err = %v, want context.Canceled", first.Err())
		}
		f.appendN(t, bus, 3)

		after, err := event.ParseCursor(last.String())
		if err != nil {
			t.Fatal(err)
		}
		second := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: after, Poll: noPoll})
		if got := seqs(receive(t, second, 5)); !slices.Equal(got, span(4, 8)) {
			t.Fatalf("resumed = %v, want 4..8", got)
		}
		// The next delivery is the next event: nothing was repeated or
		// left out between the two streams.
		f.appendN(t, bus, 1)
		if got := seqs(receive(t, second, 1)); !slices.Equal(got, []int64{9}) {
			t.Fatalf("then %v, want 9", got)
		}
	})

	t.Run("RollbackLeavesNoGap", func(t *testing.T) {
		f, bus := setup(t)
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll})
		ctx := event.WithBus(context.Background(), bus)
		for _, commit := range []bool{true, false, true, false, false, true} {
			tx, err := db.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := event.Append(ctx, tx, f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv)); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := seqs(receive(t, s, 3)); !slices.Equal(got, span(1, 3)) {
			t.Fatalf("got %v, want 1..3", got)
		}
	})

	// A replay longer than the buffer is paced by the consumer, not
	// treated as falling behind.
	t.Run("LongReplayWithSmallBuffer", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 30)
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Buffer: 2, Poll: noPoll})
		if got := seqs(receive(t, s, 30)); !slices.Equal(got, span(1, 30)) {
			t.Fatalf("got %v, want 1..30", got)
		}
		f.appendN(t, bus, 1)
		if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{31}) {
			t.Fatalf("then %v, want 31", got)
		}
	})

	t.Run("SlowConsumerEndsAlone", func(t *testing.T) {
		const total = 10
		f, bus := setup(t)
		slow := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Buffer: 2, Poll: noPoll})
		// The fast one's default buffer is far beyond this test's events, so
		// however the scheduler runs its reader it cannot fall behind.
		fast := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll})

		// The fast consumer reads while the events are written; the slow
		// one reads nothing until its stream has ended.
		var reader sync.WaitGroup
		var got []int64
		reader.Go(func() {
			for d := range fast.C() {
				got = append(got, d.Event.Seq)
				if d.Event.Seq == total {
					return
				}
			}
		})
		f.appendN(t, bus, total)
		reader.Wait()
		if !slices.Equal(got, span(1, total)) {
			t.Errorf("fast consumer got %v (err %v), want 1..%d", got, fast.Err(), total)
		}

		<-slow.Done()
		err := slow.Err()
		if !errors.Is(err, event.ErrSlowConsumer) {
			t.Fatalf("slow stream's Err = %v, want ErrSlowConsumer", err)
		}
		if e, ok := apierr.As(err); !ok || e.Code != apierr.FailedPrecondition || e.Reason != event.ReasonResumeFromCursor {
			t.Errorf("error = %#v, want FAILED_PRECONDITION with reason RESUME_FROM_CURSOR", err)
		}
		var buffered []event.Delivery
		for d := range slow.C() {
			buffered = append(buffered, d)
		}
		if got := seqs(buffered); !slices.Equal(got, span(1, 2)) {
			t.Fatalf("slow consumer's buffer held %v, want 1..2", got)
		}
		// What the error tells the client to do works.
		resumed := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: buffered[1].Cursor, Poll: noPoll})
		if got := seqs(receive(t, resumed, total-2)); !slices.Equal(got, span(3, total)) {
			t.Fatalf("resumed = %v, want 3..%d", got, total)
		}
	})

	t.Run("BusCloseInterrupts", func(t *testing.T) {
		f, bus := setup(t)
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll})
		bus.Close()
		<-s.Done()
		if _, ok := <-s.C(); ok {
			t.Error("C delivered after the bus closed")
		}
		if err := s.Err(); !errors.Is(err, event.ErrInterrupted) || apierr.CodeOf(err) != apierr.FailedPrecondition {
			t.Errorf("Err = %v, want ErrInterrupted", err)
		}
	})

	t.Run("PollFindsEventsWithoutNotices", func(t *testing.T) {
		f, bus := setup(t)
		// A tiny poll, so the test is quick; nothing publishes.
		s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: time.Millisecond})
		f.appendN(t, nil, 2)
		if got := seqs(receive(t, s, 2)); !slices.Equal(got, span(1, 2)) {
			t.Fatalf("got %v, want 1..2", got)
		}
	})

	t.Run("ErrAfterPastTheLog", func(t *testing.T) {
		f, bus := setup(t)
		f.appendN(t, bus, 1)
		ahead := receive(t, subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll}), 1)[0].Cursor
		other := newFixture(t, db.Client) // a fresh log, at seq 0
		_, err := event.Subscribe(context.Background(), db.Client, bus, other.user(other.owner), event.Options{After: ahead})
		if e, ok := apierr.As(err); !ok || e.Code != apierr.BadUserInput || e.Field != "after" {
			t.Fatalf("err = %v, want BAD_USER_INPUT on after", err)
		}
	})
}

func TestStreamVisibility(t *testing.T) {
	db := dbtest.Open(t)
	f := newFixture(t, db.Client)
	bus := event.NewMemoryBus()
	defer bus.Close()

	// An event addressed to a user reaches that user even about a
	// conversation they cannot see (an offer that expired, a claim lost).
	offerToBob := f.entry(event.TopicConversation, event.TypeOffered, f.privateConv)
	offerToBob.AudienceUserID = f.bob.ID
	for _, e := range []event.Entry{
		f.entry(event.TopicConversation, event.TypeCreated, f.privateConv), // 1
		f.entry(event.TopicConversation, event.TypeCreated, f.sharedConv),  // 2
		f.entry(event.TopicMessage, event.TypeCreated, f.privateConv),      // 3
		offerToBob, // 4
		{OrgID: f.org.ID, Topic: event.TopicChannel, Type: event.TypeDisconnected, ChannelID: f.shared.ID}, // 5
		f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv),                                       // 6
	} {
		f.appendTx(t, bus, e)
	}
	// Every stream below ends its expectations with this event, visible to
	// all, so reading through it shows everything the stream delivers.
	const sentinel = 7
	f.appendTx(t, bus, event.Entry{OrgID: f.org.ID, Topic: event.TopicCall, Type: "RINGING"})

	for _, tc := range []struct {
		name string
		v    *viewer.Viewer
		opts event.Options
		want []int64
	}{
		{"ChannelOwnerSeesHerPrivateConversation", f.user(f.alice), event.Options{}, []int64{1, 2, 3, 5, 6, 7}},
		{"AudienceReachesOnlyItsUser", f.user(f.bob), event.Options{}, []int64{2, 4, 5, 6, 7}},
		{"OwnerDoesNotSeeOnlyMeChannels", f.user(f.owner), event.Options{}, []int64{2, 5, 6, 7}},
		{"APIKeyWithEventsOnly", f.apiKey(viewer.ScopeEvents), event.Options{}, []int64{2, 5, 6, 7}},
		{"APIKeyWithEventsAndRead", f.apiKey(viewer.ScopeRead, viewer.ScopeEvents), event.Options{}, []int64{2, 5, 6, 7}},
		{"TopicFilter", f.user(f.alice), event.Options{Topics: []event.Topic{event.TopicMessage, event.TopicCall}}, []int64{3, 6, 7}},
		{"ConversationFilter", f.user(f.alice), event.Options{ConversationID: f.privateConv.ID}, []int64{1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.After, tc.opts.Poll = event.Start, noPoll
			s := subscribe(t, db.Client, bus, tc.v, tc.opts)
			var got []int64
			if tc.opts.ConversationID != "" {
				// The sentinel is not in the conversation; read exactly
				// what is expected, then prove nothing else follows by a
				// later event in it.
				got = seqs(receive(t, s, len(tc.want)))
				e := f.appendTx(t, bus, f.entry(event.TopicMessage, event.TypeUpdated, f.privateConv))
				if next := receive(t, s, 1)[0].Event.Seq; next != e.Seq {
					t.Errorf("after %v came %d, want %d", got, next, e.Seq)
				}
			} else {
				got = seqs(receiveThrough(t, s, sentinel))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("delivered %v, want %v", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name string
		v    *viewer.Viewer
		opts event.Options
		code apierr.Code
	}{
		{"ErrAPIKeyWithoutEvents", f.apiKey(viewer.ScopeRead, viewer.ScopeWrite), event.Options{}, apierr.Forbidden},
		{"ErrNoViewer", nil, event.Options{}, apierr.Unauthenticated},
		{"ErrInvisibleConversation", f.user(f.bob), event.Options{ConversationID: f.privateConv.ID}, apierr.NotFound},
		{"ErrOtherOrganizationsConversation", f.user(f.alice), event.Options{ConversationID: gid.New("Conversation")}, apierr.NotFound},
		{"ErrUnknownTopic", f.user(f.alice), event.Options{Topics: []event.Topic{"SMOKE"}}, apierr.BadUserInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := event.Subscribe(context.Background(), db.Client, bus, tc.v, tc.opts)
			if err == nil {
				t.Fatalf("Subscribe succeeded: %+v", s)
			}
			if got := apierr.CodeOf(err); got != tc.code {
				t.Errorf("code = %s (%v), want %s", got, err, tc.code)
			}
		})
	}

	// Streams cache who may see a conversation. Whoever changes that
	// appends an event: about the channel, or about the conversation.
	for _, tc := range []struct {
		name    string
		refresh func(f *fixture) event.Entry
	}{
		{"ChannelEventRefreshesVisibility", func(f *fixture) event.Entry {
			return event.Entry{OrgID: f.org.ID, Topic: event.TopicChannel, Type: event.TypeUpdated, ChannelID: f.private.ID}
		}},
		{"ConversationEventRefreshesItsVisibility", func(f *fixture) event.Entry {
			return f.entry(event.TopicConversation, event.TypeAssigned, f.privateConv)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, db.Client)
			s := subscribe(t, db.Client, bus, f.user(f.bob), event.Options{Poll: noPoll})
			hidden := f.appendTx(t, bus, f.entry(event.TopicMessage, event.TypeCreated, f.privateConv))
			// Receiving a later event proves the stream has judged (and
			// cached) the hidden one before the permission changes.
			marker := f.appendTx(t, bus, f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv))
			if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{marker.Seq}) {
				t.Fatalf("got %v, want %d and not %d", got, marker.Seq, hidden.Seq)
			}
			if _, err := db.Client.Channel.UpdateOne(f.private).SetChatPermission(channel.ChatPermissionSHARED).Save(f.sys()); err != nil {
				t.Fatal(err)
			}
			changed := f.appendTx(t, bus, tc.refresh(f))
			shown := f.appendTx(t, bus, f.entry(event.TopicMessage, event.TypeCreated, f.privateConv))
			if got := seqs(receive(t, s, 2)); !slices.Equal(got, []int64{changed.Seq, shown.Seq}) {
				t.Errorf("got %v, want %d and %d", got, changed.Seq, shown.Seq)
			}
		})
	}
}

// TestStreamVisibilitySharing pins the process-wide visibility cache: the
// streams of one viewer ask once per conversation, and a non-MESSAGE event
// naming a conversation makes every viewer ask again about it.
func TestStreamVisibilitySharing(t *testing.T) {
	db, count := dbtest.OpenCounting(t)
	f := newFixture(t, db.Client)
	bus := event.NewMemoryBus()
	defer bus.Close()
	const conversations = "conversations" // the table, however the dialect quotes it

	t.Run("OneQueryPerViewerAndConversation", func(t *testing.T) {
		var streams []*event.Stream
		for range 10 {
			streams = append(streams,
				subscribe(t, db.Client, bus, f.user(f.bob), event.Options{Poll: noPoll}),
				subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll}))
		}
		deliver := func(e event.Entry) {
			t.Helper()
			ev := f.appendTx(t, bus, e)
			for _, s := range streams {
				if got := receive(t, s, 1)[0].Event.Seq; got != ev.Seq {
					t.Fatalf("received %d, want %d", got, ev.Seq)
				}
			}
		}
		count.Reset()
		deliver(f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv))
		if n := count.CountContaining(conversations); n != 2 {
			t.Errorf("20 streams of 2 viewers asked %d times about a new conversation, want 2", n)
		}
		count.Reset()
		deliver(f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv))
		if n := count.CountContaining(conversations); n != 0 {
			t.Errorf("a second message asked %d times, want 0", n)
		}
		count.Reset()
		deliver(f.entry(event.TopicConversation, event.TypeAssigned, f.sharedConv))
		if n := count.CountContaining(conversations); n != 2 {
			t.Errorf("an assignment made 2 viewers ask %d times, want 2", n)
		}
	})

}
