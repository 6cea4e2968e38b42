package event_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lib/pq"

	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

// TestPostgresBusAcrossReplicas plays two replicas: two clients and two
// buses on one database. An event written through either reaches a stream
// on the other, by notice alone.
func TestPostgresBusAcrossReplicas(t *testing.T) {
	requirePostgres(t)
	db1 := dbtest.Open(t)
	dsn := postgresDSN(t, db1)
	db2, err := database.Open(context.Background(), database.Config{URL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	bus1, bus2 := newPostgresBus(t, dsn), newPostgresBus(t, dsn)
	f1 := newFixture(t, db1.Client)
	f2 := &fixture{}
	*f2 = *f1
	f2.client = db2.Client

	on1 := subscribe(t, db1.Client, bus1, f1.user(f1.owner), event.Options{Poll: noPoll})
	on2 := subscribe(t, db2.Client, bus2, f2.user(f2.owner), event.Options{Poll: noPoll})

	f1.appendTx(t, bus1, f1.entry(event.TopicConversation, event.TypeCreated, f1.sharedConv))
	f2.appendTx(t, bus2, f2.entry(event.TopicConversation, event.TypeUpdated, f2.sharedConv))
	for name, s := range map[string]*event.Stream{"replica 1": on1, "replica 2": on2} {
		if got := seqs(receive(t, s, 2)); !slices.Equal(got, span(1, 2)) {
			t.Errorf("%s got %v, want 1..2", name, got)
		}
	}
}

// TestPostgresBusResyncsAfterReconnect drops the LISTEN connection, writes
// events while it is down (their notices are lost) and checks that the
// reconnect alone makes the stream read them: polling is off.
func TestPostgresBusResyncsAfterReconnect(t *testing.T) {
	requirePostgres(t)
	db := dbtest.Open(t)
	bus := newPostgresBus(t, postgresDSN(t, db))
	f := newFixture(t, db.Client)

	disconnected, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	event.SetListenerHook(bus, func(ev pq.ListenerEventType) {
		if ev == pq.ListenerEventDisconnected {
			// Hold pq's reconnect until the test has written.
			once.Do(func() {
				close(disconnected)
				<-release
			})
		}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	s := subscribe(t, db.Client, bus, f.user(f.owner), event.Options{Poll: noPoll})
	f.appendN(t, bus, 1)
	if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("before the outage got %v, want 1", got)
	}

	var pid int
	err := db.SQL.QueryRow(`SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = $1`,
		`LISTEN `+pq.QuoteIdentifier(event.PostgresChannel)).Scan(&pid)
	if err != nil {
		t.Fatalf("finding the listener's backend: %v", err)
	}
	var ok bool
	if err := db.SQL.QueryRow("SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend = %v (%v)", ok, err)
	}
	<-disconnected
	f.appendN(t, bus, 2) // notified to nobody
	close(release)

	if got := seqs(receive(t, s, 2)); !slices.Equal(got, span(2, 3)) {
		t.Fatalf("after the reconnect got %v, want 2..3", got)
	}
	// And live delivery works again on the new connection.
	f.appendN(t, bus, 1)
	if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{4}) {
		t.Fatalf("then %v, want 4", got)
	}
}

// TestPostgresBusIgnoresForeignNotifications: anything else NOTIFYing on
// the channel is logged and skipped, and later notices still arrive.
func TestPostgresBusIgnoresForeignNotifications(t *testing.T) {
	requirePostgres(t)
	db := dbtest.Open(t)
	bus := newPostgresBus(t, postgresDSN(t, db))
	org := gid.New("Organization")
	ch, cancel := bus.Subscribe(org)
	defer cancel()
	for _, payload := range []string{"garbage", string(org) + ":", string(org) + ":-1", ":5"} {
		if _, err := db.SQL.Exec("SELECT pg_notify($1, $2)", event.PostgresChannel, payload); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, bus, event.Notice{OrgID: org, Seq: 42})
	if n := <-ch; !reflect.DeepEqual(n, event.Notice{OrgID: org, Seq: 42}) {
		t.Errorf("got %+v, want seq 42", n)
	}
}

func TestParsePayload(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    event.Notice
		ok      bool
	}{
		{"org_01JD3Q2V5Z8N4M7K1P6R9T0W2X:17", event.Notice{OrgID: "org_01JD3Q2V5Z8N4M7K1P6R9T0W2X", Seq: 17}, true},
		{"org_x:0", event.Notice{OrgID: "org_x", Seq: 0}, true},
		{"", event.Notice{}, false},
		{"org_x", event.Notice{}, false},
		{":3", event.Notice{}, false},
		{"org_x:", event.Notice{}, false},
		{"org_x:-3", event.Notice{}, false},
		{"org_x:3x", event.Notice{}, false},
		{"org_x:0:usr_a,usr_b", event.Notice{OrgID: "org_x", Users: []gid.ID{"usr_a", "usr_b"}}, true},
		{"org_x:0:", event.Notice{OrgID: "org_x"}, true},
	} {
		got, err := event.ParsePayload(tc.payload)
		if (err == nil) != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePayload(%q) = %+v, %v; want %+v, ok %v", tc.payload, got, err, tc.want, tc.ok)
		}
	}
}
