package event_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// fixture is one organization with the people and conversations the
// visibility rules distinguish: Alice connected an ONLY_ME channel, so its
// conversation is hers alone; the SHARED channel's conversation is everyone's.
type fixture struct {
	client *ent.Client
	org    *ent.Organization

	owner, alice, bob *ent.User

	private, shared         *ent.Channel
	privateConv, sharedConv *ent.Conversation
}

// newFixture creates the fixture as the system in client's database.
func newFixture(tb testing.TB, client *ent.Client) *fixture {
	tb.Helper()
	ctx := viewer.SystemContext(context.Background(), "")
	f := &fixture{client: client}
	var err error
	if f.org, err = client.Organization.Create().SetName("Phở Hà Nội").Save(ctx); err != nil {
		tb.Fatal(err)
	}
	ctx = f.sys()
	user := func(name string, role viewer.Role) *ent.User {
		u, err := client.User.Create().
			SetName(name).
			SetEmail(strings.ToLower(name) + "." + string(gid.New("User")) + "@example.vn").
			SetPasswordHash("not a hash").
			SetRole(role).
			Save(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return u
	}
	f.owner = user("Owner", viewer.RoleOwner)
	f.alice = user("Alice", viewer.RoleAgent)
	f.bob = user("Bob", viewer.RoleAgent)

	ch := func(name string, perm channel.ChatPermission, by *ent.User) *ent.Channel {
		c, err := client.Channel.Create().
			SetKind(channel.KindZALO_OA).
			SetExternalID(string(gid.New("Channel"))).
			SetName(name).
			SetChatPermission(perm).
			SetConnectedByID(by.ID).
			SetLastConnectedAt(time.Now()).
			Save(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	f.private = ch("Alice's OA", channel.ChatPermissionONLY_ME, f.alice)
	f.shared = ch("Shop OA", channel.ChatPermissionSHARED, f.owner)

	cus, err := client.Customer.Create().SetName("Nguyễn Văn A").Save(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	conv := func(c *ent.Channel) *ent.Conversation {
		cv, err := client.Conversation.Create().SetChannelID(c.ID).SetCustomerID(cus.ID).Save(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return cv
	}
	f.privateConv = conv(f.private)
	f.sharedConv = conv(f.shared)
	return f
}

// sys is the system context in the fixture's organization.
func (f *fixture) sys() context.Context {
	return viewer.SystemContext(context.Background(), f.org.ID)
}

// user is u as a signed-in viewer.
func (f *fixture) user(u *ent.User) *viewer.Viewer {
	return &viewer.Viewer{OrgID: f.org.ID, UserID: u.ID, Role: u.Role}
}

// apiKey is a viewer for an API key of the organization with scopes.
func (f *fixture) apiKey(scopes ...viewer.Scope) *viewer.Viewer {
	return &viewer.Viewer{OrgID: f.org.ID, APIKeyID: gid.New("APIKey"), Scopes: scopes}
}

// entry returns an entry of the fixture's organization.
func (f *fixture) entry(topic event.Topic, typ string, conv *ent.Conversation) event.Entry {
	e := event.Entry{OrgID: f.org.ID, Topic: topic, Type: typ}
	if conv != nil {
		e.ConversationID, e.ChannelID = conv.ID, conv.ChannelID
	}
	return e
}

// appendTx appends e in a transaction of its own, publishing on bus (which
// may be nil), and returns the committed event.
func (f *fixture) appendTx(tb testing.TB, bus event.Bus, e event.Entry) *ent.Event {
	tb.Helper()
	ev, err := appendCommit(f.client, bus, e)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// appendN appends n conversation events on the shared conversation.
func (f *fixture) appendN(tb testing.TB, bus event.Bus, n int) []*ent.Event {
	tb.Helper()
	out := make([]*ent.Event, n)
	for i := range out {
		out[i] = f.appendTx(tb, bus, f.entry(event.TopicConversation, event.TypeUpdated, f.sharedConv))
	}
	return out
}

// appendCommit is Append in a transaction of its own; safe to call from
// any goroutine.
func appendCommit(client *ent.Client, bus event.Bus, e event.Entry) (*ent.Event, error) {
	ctx := context.Background()
	if bus != nil {
		ctx = event.WithBus(ctx, bus)
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	ev, err := event.Append(ctx, tx, e)
	if err != nil {
		return nil, errors.Join(err, tx.Rollback())
	}
	return ev, tx.Commit()
}

// subscribe starts a stream that ends with the test.
func subscribe(tb testing.TB, client *ent.Client, bus event.Bus, v *viewer.Viewer, opts event.Options) *event.Stream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	s, err := event.Subscribe(ctx, client, bus, v, opts)
	if err != nil {
		tb.Fatalf("Subscribe: %v", err)
	}
	return s
}

// receive takes the next n deliveries from s. A stream that ends first fails
// the test; one that never delivers is caught by go test's -timeout, since
// the tests must not guess how long the machine takes.
func receive(tb testing.TB, s *event.Stream, n int) []event.Delivery {
	tb.Helper()
	out := make([]event.Delivery, 0, n)
	for len(out) < n {
		d, ok := <-s.C()
		if !ok {
			tb.Fatalf("stream ended after %d of %d deliveries: %v", len(out), n, s.Err())
		}
		out = append(out, d)
	}
	return out
}

// receiveThrough takes deliveries until the one with seq last.
func receiveThrough(tb testing.TB, s *event.Stream, last int64) []event.Delivery {
	tb.Helper()
	var out []event.Delivery
	for {
		d := receive(tb, s, 1)[0]
		out = append(out, d)
		if d.Event.Seq >= last {
			return out
		}
	}
}

// seqs returns the sequence numbers of ds.
func seqs(ds []event.Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Event.Seq
	}
	return out
}

// span returns from, from+1, …, to.
func span(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// noPoll turns the safety poll off, so a test proves the bus alone delivers.
const noPoll = -1

// requirePostgres skips a PostgreSQL-only test in the SQLite run.
func requirePostgres(tb testing.TB) {
	tb.Helper()
	if dbtest.Dialect() != "postgres" {
		tb.Skipf("PostgreSQL only: set %s=postgres", dbtest.EnvDB)
	}
}

// postgresDSN returns the URL of db's database, for a second client or a
// bus on the same database; dbtest does not expose it.
func postgresDSN(tb testing.TB, db *database.DB) string {
	tb.Helper()
	var name string
	if err := db.SQL.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		tb.Fatal(err)
	}
	server := os.Getenv(dbtest.EnvPostgresURL)
	if server == "" {
		server = dbtest.DefaultPostgresURL
	}
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// newPostgresBus opens a bus on dsn, closed when the test ends (before
// dbtest drops the database, since cleanups run last-in first-out).
func newPostgresBus(tb testing.TB, dsn string) *event.PostgresBus {
	tb.Helper()
	bus, err := event.NewPostgresBus(context.Background(), dsn, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := bus.Close(); err != nil {
			tb.Errorf("closing the bus: %v", err)
		}
	})
	return bus
}
