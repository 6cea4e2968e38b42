package event_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestAppend(t *testing.T) {
	db := dbtest.Open(t)
	f := newFixture(t, db.Client)

	t.Run("OK", func(t *testing.T) {
		e := f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv)
		e.MessageID = gid.New("Message")
		e.AudienceUserID = f.bob.ID
		first := f.appendTx(t, nil, e)
		second := f.appendTx(t, nil, f.entry(event.TopicChannel, event.TypeDisconnected, nil))

		got, err := db.Client.Event.Get(f.sys(), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != 1 || got.Topic != event.TopicMessage || got.Type != event.TypeCreated ||
			got.ConversationID != f.sharedConv.ID || got.ChannelID != f.shared.ID ||
			got.MessageID != e.MessageID || got.AudienceUserID != f.bob.ID ||
			got.OrganizationID != f.org.ID || got.CreatedAt.IsZero() {
			t.Errorf("stored %+v, want seq 1 with every field of %+v", got, e)
		}
		if second.Seq != 2 {
			t.Errorf("second seq = %d, want 2", second.Seq)
		}
		// Empty references are NULL, not "": a filter on them must not
		// match every event.
		n, err := db.Client.Event.Query().Where(entevent.ConversationIDIsNil(), entevent.SeqEQ(2)).Count(f.sys())
		if err != nil || n != 1 {
			t.Errorf("events with a NULL conversation = %d (%v), want 1", n, err)
		}
		org, err := db.Client.Organization.Get(f.sys(), f.org.ID)
		if err != nil || org.EventSeq != 2 {
			t.Errorf("event_seq = %d (%v), want 2", org.EventSeq, err)
		}
	})

	for _, tc := range []struct {
		name  string
		ctx   context.Context
		entry event.Entry
	}{
		{"ErrNoOrganization", context.Background(), event.Entry{Topic: event.TopicCall, Type: "RINGING"}},
		{"ErrUnknownTopic", context.Background(), event.Entry{OrgID: f.org.ID, Topic: "SMOKE", Type: "SIGNAL"}},
		{"ErrMessageWithoutConversation", context.Background(), event.Entry{OrgID: f.org.ID, Topic: event.TopicMessage, Type: event.TypeCreated}},
		{"ErrConversationWithoutConversation", context.Background(), event.Entry{OrgID: f.org.ID, Topic: event.TopicConversation, Type: event.TypeCreated}},
		{"ErrEmptyType", context.Background(), event.Entry{OrgID: f.org.ID, Topic: event.TopicCall}},
		{"ErrAnotherOrganization", viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: gid.New("Organization"), UserID: gid.New("User")}),
			event.Entry{OrgID: f.org.ID, Topic: event.TopicCall, Type: "RINGING"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Client.Event.Query().CountX(f.sys())
			tx, err := db.Client.Tx(tc.ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if ev, err := event.Append(tc.ctx, tx, tc.entry); err == nil {
				t.Fatalf("Append succeeded: %+v", ev)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if after := db.Client.Event.Query().CountX(f.sys()); after != before {
				t.Errorf("events = %d, want %d", after, before)
			}
		})
	}
}

// TestAppendPublishesOnlyAfterCommit relies on Publish being synchronous in
// the commit hook: after Commit or Rollback returns, the mailbox already
// holds whatever will ever be published for that transaction.
func TestAppendPublishesOnlyAfterCommit(t *testing.T) {
	db := dbtest.Open(t)
	f := newFixture(t, db.Client)
	bus := event.NewMemoryBus()
	defer bus.Close()
	notices, cancel := bus.Subscribe(f.org.ID)
	defer cancel()
	ctx := event.WithBus(context.Background(), bus)
	empty := func(t *testing.T, when string) {
		t.Helper()
		select {
		case n := <-notices:
			t.Fatalf("%s: got %+v, want no notice", when, n)
		default:
		}
	}

	t.Run("RollbackPublishesNothing", func(t *testing.T) {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Append(ctx, tx, f.entry(event.TopicConversation, event.TypeCreated, f.sharedConv))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != 1 {
			t.Errorf("seq = %d, want 1", ev.Seq)
		}
		empty(t, "before rollback")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		empty(t, "after rollback")
	})

	t.Run("CommitPublishesOnce", func(t *testing.T) {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Append(ctx, tx, f.entry(event.TopicConversation, event.TypeCreated, f.sharedConv))
		if err != nil {
			t.Fatal(err)
		}
		// The rolled-back transaction gave its number back.
		if ev.Seq != 1 {
			t.Errorf("seq = %d, want 1", ev.Seq)
		}
		empty(t, "before commit")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := <-notices; !reflect.DeepEqual(n, event.Notice{OrgID: f.org.ID, Seq: 1}) {
			t.Errorf("notice = %+v, want seq 1 of %s", n, f.org.ID)
		}
		empty(t, "after the commit's notice")
	})
}

// TestAppendConcurrentWriters checks the property replay relies on: however
// many transactions append at once, a reader never sees seq N+1 before N,
// and the numbers have no holes.
func TestAppendConcurrentWriters(t *testing.T) {
	const writers = 50
	db := dbtest.Open(t)
	f := newFixture(t, db.Client)
	bus := event.NewMemoryBus()
	defer bus.Close()
	s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{After: event.Start, Poll: noPoll})

	// The observer reads the raw log as often as it can while the writers
	// run and records any snapshot with a hole in it.
	stop := make(chan struct{})
	var holes []string
	var observer sync.WaitGroup
	observer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			evs, err := db.Client.Event.Query().Order(entevent.BySeq()).All(f.sys())
			if err != nil {
				holes = append(holes, err.Error())
				return
			}
			got := eventSeqs(evs)
			if !slices.Equal(got, span(1, int64(len(got)))) {
				holes = append(holes, fmt.Sprint(got))
			}
		}
	})

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			if _, err := appendCommit(db.Client, bus, f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(stop)
	observer.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, h := range holes {
		t.Errorf("a reader saw a hole: %s", h)
	}

	all, err := db.Client.Event.Query().Order(entevent.BySeq()).All(f.sys())
	if err != nil {
		t.Fatal(err)
	}
	if got := eventSeqs(all); !slices.Equal(got, span(1, writers)) {
		t.Errorf("seqs = %v, want 1..%d", got, writers)
	}
	if got := seqs(receive(t, s, writers)); !slices.Equal(got, span(1, writers)) {
		t.Errorf("stream delivered %v, want 1..%d in order", got, writers)
	}
}

func eventSeqs(evs []*ent.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// TestAppendStatementCount pins what appending costs: two statements for
// any number of events of a transaction, one taking their numbers in the
// UPDATE that bumps the counter and one inserting them, numbered in order
// without gaps.
func TestAppendStatementCount(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	f := newFixture(t, db.Client)
	for _, n := range []int{1, 3, 10} {
		entries := make([]event.Entry, n)
		for i := range entries {
			entries[i] = f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv)
		}
		tx, err := db.Client.Tx(f.sys())
		if err != nil {
			t.Fatal(err)
		}
		counter.Reset()
		evs, err := event.AppendAll(f.sys(), tx, entries...)
		if err != nil {
			t.Fatal(err)
		}
		if got := counter.Count(); got != 2 {
			t.Errorf("appending %d events: %d statements, want 2:\n%s", n, got, strings.Join(counter.Queries(), "\n"))
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Seq != evs[i-1].Seq+1 {
				t.Errorf("appending %d events: seqs %d then %d", n, evs[i-1].Seq, evs[i].Seq)
			}
		}
		org := db.Client.Organization.GetX(f.sys(), f.org.ID)
		if last := evs[len(evs)-1].Seq; org.EventSeq != last {
			t.Errorf("event_seq = %d after appending up to %d", org.EventSeq, last)
		}
	}
}

// TestAppendAllOneOrganization: the events of one AppendAll share the
// organization whose counter numbers them.
func TestAppendAllOneOrganization(t *testing.T) {
	db := dbtest.Open(t)
	f := newFixture(t, db.Client)
	other := f.entry(event.TopicChannel, event.TypeDisconnected, nil)
	other.OrgID = gid.New("Organization")
	tx, err := db.Client.Tx(viewer.SystemContext(context.Background(), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := event.AppendAll(viewer.SystemContext(context.Background(), ""), tx, f.entry(event.TopicChannel, event.TypeDisconnected, nil), other); err == nil {
		t.Fatal("AppendAll accepted the events of two organizations")
	}
}
