package distribute_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// fixture is an organization with an OWNER, agents (all OFFLINE), a SHARED
// Zalo OA, the engine on a test clock and a timer worker running its
// timers.
type fixture struct {
	t       *testing.T
	client  *ent.Client
	engine  *distribute.Engine
	timers  *timer.Worker
	clock   *clocktest.Clock
	org     gid.ID
	owner   *ent.User
	agents  []*ent.User
	channel *ent.Channel
	// picks are RANDOM's choices, taken in turn (index into the
	// candidates, modulo their number).
	picks []int
	n     int
}

func newFixture(t *testing.T, agents int) *fixture {
	t.Helper()
	client := dbtest.Open(t).Client
	tenancy.Guard(client)
	f := &fixture{t: t, client: client, clock: clocktest.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))}
	f.engine = distribute.New(client, distribute.Options{Now: f.clock.Now, Intn: f.intn})
	f.timers = timer.NewWorker(client, nil, f.clock.Now)
	f.engine.Register(f.timers)
	ctx := viewer.SystemContext(context.Background(), "")
	org, err := client.Organization.Create().SetName("Chia hội thoại").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.org = org.ID
	f.owner = f.user("Chủ shop", viewer.RoleOwner)
	for i := range agents {
		f.agents = append(f.agents, f.user(fmt.Sprintf("Agent %d", i+1), viewer.RoleAgent))
	}
	f.channel = f.newChannel("OA chung", channel.KindZALO_OA, channel.ChatPermissionSHARED)
	return f
}

func (f *fixture) intn(n int) int {
	if len(f.picks) == 0 {
		return 0
	}
	p := f.picks[0]
	f.picks = f.picks[1:]
	return p % n
}

func (f *fixture) sys() context.Context { return viewer.SystemContext(context.Background(), f.org) }

// as is the context of a request by u.
func (f *fixture) as(u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: f.org, UserID: u.ID, Role: u.Role})
}

func (f *fixture) user(name string, role viewer.Role) *ent.User {
	f.t.Helper()
	f.n++
	u, err := f.client.User.Create().SetName(name).SetEmail(fmt.Sprintf("u%d.%s@example.vn", f.n, strings.ToLower(string(f.org)))).
		SetPasswordHash("x").SetRole(role).Save(f.sys())
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) newChannel(name string, kind channel.Kind, perm channel.ChatPermission) *ent.Channel {
	f.t.Helper()
	ch, err := f.client.Channel.Create().SetKind(kind).SetExternalID(string(gid.New("Channel"))).SetName(name).
		SetChatPermission(perm).SetConnectedByID(f.owner.ID).SetLastConnectedAt(f.clock.Now()).Save(f.sys())
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

// presence sets the users' presence through the API.
func (f *fixture) presence(p user.Presence, us ...*ent.User) {
	f.t.Helper()
	for _, u := range us {
		if _, err := f.engine.SetPresence(f.as(u), p); err != nil {
			f.t.Fatalf("SetPresence(%s, %s): %v", u.Name, p, err)
		}
	}
}

// rule creates a rule of the fixture's channel, as the owner.
func (f *fixture) rule(method schematype.DistributionMethod, policy rule.OldConversations, agents ...*ent.User) *ent.Rule {
	f.t.Helper()
	timeout := 30
	r, err := f.engine.CreateRule(f.as(f.owner), distribute.RuleInput{
		Name: fmt.Sprint("Quy tắc ", method, " ", policy), ChannelIDs: []gid.ID{f.channel.ID}, AgentIDs: ids(agents),
		Method: method, OfferTimeoutSeconds: &timeout, OldConversations: &policy,
	})
	if err != nil {
		f.t.Fatalf("CreateRule: %v", err)
	}
	return r
}

func ids(us []*ent.User) []gid.ID {
	out := make([]gid.ID, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// arrive opens a conversation on ch as an inbound message does: created,
// CREATED appended, then routed, in one transaction.
func (f *fixture) arrive(ch *ent.Channel) *ent.Conversation {
	f.t.Helper()
	ctx := f.sys()
	ch, err := f.client.Channel.Get(ctx, ch.ID) // its rule may have changed
	if err != nil {
		f.t.Fatal(err)
	}
	f.clock.Advance(time.Second) // keeps creation order unambiguous
	tx, err := f.client.Tx(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback()
	f.n++
	cus := tx.Customer.Create().SetName(fmt.Sprint("Khách ", f.n)).SaveX(ctx)
	c := tx.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cus.ID).SetCreatedAt(f.clock.Now()).SaveX(ctx)
	entries := []event.Entry{{OrgID: f.org, Topic: event.TopicConversation, Type: event.TypeCreated, ChannelID: ch.ID, ConversationID: c.ID}}
	routed, err := f.engine.Route(ctx, tx, c, ch)
	if err != nil {
		f.t.Fatalf("Route: %v", err)
	}
	for _, e := range append(entries, routed...) {
		if _, err := event.Append(ctx, tx, e); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	return f.conv(c.ID)
}

// conv reloads a conversation as the system.
func (f *fixture) conv(id gid.ID) *ent.Conversation {
	f.t.Helper()
	c, err := f.client.Conversation.Get(f.sys(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// state describes a conversation's distribution: its state, and its
// assignee or the agents its pending offers wait on.
func (f *fixture) state(id gid.ID) string {
	f.t.Helper()
	c := f.conv(id)
	s := string(c.DistributionState)
	if c.AssigneeID != nil {
		s += " " + f.name(*c.AssigneeID)
	}
	os, err := f.client.Offer.Query().Where(offer.ConversationID(id), offer.StatusEQ(offer.StatusPENDING)).All(f.sys())
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, o := range os {
		names = append(names, f.name(o.UserID))
	}
	slices.Sort(names)
	if len(names) > 0 {
		s += " " + strings.Join(names, ",")
	}
	return s
}

func (f *fixture) name(id gid.ID) string {
	for _, u := range append([]*ent.User{f.owner}, f.agents...) {
		if u.ID == id {
			return u.Name
		}
	}
	return string(id)
}

// runDue moves the clock and runs the timers then due.
func (f *fixture) runDue(d time.Duration) int {
	f.t.Helper()
	f.clock.Advance(d)
	n, err := f.timers.RunDue(context.Background())
	if err != nil {
		f.t.Fatalf("RunDue: %v", err)
	}
	return n
}

// logged is an event of the log, as tests compare them: type, and the
// name of the user it is addressed to (empty for everyone who may see it).
type logged struct{ Type, To string }

func (l logged) String() string {
	if l.To == "" {
		return l.Type
	}
	return l.Type + "→" + l.To
}

// eventsOf returns the CONVERSATION events about a conversation after seq,
// separated by spaces, and the log's last seq.
func (f *fixture) eventsOf(id gid.ID, after int64) (string, int64) {
	f.t.Helper()
	evs, last := f.eventList(id, after)
	return strings.Join(evs, " "), last
}

// eventList is eventsOf as a list.
func (f *fixture) eventList(id gid.ID, after int64) ([]string, int64) {
	f.t.Helper()
	evs, err := f.client.Event.Query().
		Where(entevent.SeqGT(after)).
		Order(entevent.BySeq()).
		All(privacy.DecisionContext(f.sys(), privacy.Allow))
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	last := after
	for _, e := range evs {
		last = e.Seq
		if e.Topic == event.TopicConversation && e.ConversationID == id {
			to := ""
			if e.AudienceUserID != "" {
				to = f.name(e.AudienceUserID)
			}
			out = append(out, logged{e.Type, to}.String())
		}
	}
	return out, last
}

// lastSeq returns the log's last seq.
func (f *fixture) lastSeq() int64 {
	_, last := f.eventsOf("", 0)
	return last
}

// sees reports whether u may see the conversation.
func (f *fixture) sees(u *ent.User, id gid.ID) bool {
	f.t.Helper()
	ok, err := f.client.Conversation.Query().Where(conversation.ID(id)).Exist(f.as(u))
	if err != nil {
		f.t.Fatal(err)
	}
	return ok
}

// code returns the API code of err, and its reason.
func code(err error) string {
	e, ok := apierr.As(err)
	if !ok {
		if err == nil {
			return ""
		}
		return "INTERNAL: " + err.Error()
	}
	if e.Reason != "" {
		return string(e.Code) + " " + e.Reason
	}
	return string(e.Code)
}
