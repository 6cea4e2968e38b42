package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// distEnv is a server whose organization has a SHARED Zalo OA (connected
// by its ADMIN), some agents, fake providers, and a test clock driving
// offers and presence. Replicas of it share its database and clock.
type distEnv struct {
	*env
	t      testing.TB
	tn     *tenant
	org    gid.ID
	zfake  *zalofake.Server
	oa     gid.ID
	clock  *clocktest.Clock
	agents []distAgent
	users  atomic.Int64
}

// distAgent is an AGENT of the organization and their session token.
type distAgent struct{ id, token string }

func newDistEnv(t testing.TB, agents int) *distEnv {
	t.Helper()
	d := &distEnv{t: t, zfake: zalofake.New(t), clock: newTestClock()}
	d.env = newEnv(t, d.options())
	d.tn = d.newTenant("Chia Hội Thoại")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	d.must(d.tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	d.org = me.Me.Organization.ID
	d.zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken})
	var z struct{ ConnectZaloOA struct{ ID gid.ID } }
	d.must(d.tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, &z)
	d.oa = z.ConnectZaloOA.ID
	d.must(d.tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": d.oa}, nil)
	for range agents {
		id, token, _ := d.createUser(d.tn.ownerToken, "AGENT")
		d.agents = append(d.agents, distAgent{id, token})
	}
	return d
}

// options configures a server of the environment: the fake Zalo and the
// test clock.
func (d *distEnv) options() envOption {
	return func(c *Config, o *appOptions) {
		c.ZaloOpenAPIURL = d.zfake.URL()
		o.now = d.clock.Now
	}
}

// replica starts another server on db, which may be the environment's own
// database object or another pool on the same database.
func (d *distEnv) replica(db *database.DB) *env {
	d.t.Helper()
	return newEnvOn(d.t, db, d.options())
}

// replicas returns the servers a multi-replica test spreads its work over.
// On PostgreSQL that is the environment's server and a second one with its
// own connection pool, as a replica has. The embedded SQLite database
// serves a single process, so there the test runs the same engines through
// the one server, and says so.
func (d *distEnv) replicas() []*env {
	d.t.Helper()
	if dbtest.Dialect() != dialect.Postgres {
		d.t.Log("SQLite serves a single server process: the replicas' work goes through one instance (replicas need PostgreSQL)")
		return []*env{d.env}
	}
	db, err := database.Open(context.Background(), database.Config{URL: d.db.URL})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { db.Close() })
	return []*env{d.env, d.replica(db)}
}

// presence sets a user's presence through the API.
func (d *distEnv) presence(token, status string) {
	d.t.Helper()
	d.must(token, `mutation($s: Presence!) { setPresence(status: $s) { presence } }`, map[string]any{"s": status}, nil)
}

// online makes the agents ONLINE.
func (d *distEnv) online(agents ...distAgent) {
	d.t.Helper()
	for _, a := range agents {
		d.presence(a.token, "ONLINE")
	}
}

func agentIDs(agents []distAgent) []string {
	out := make([]string, len(agents))
	for i, a := range agents {
		out[i] = a.id
	}
	return out
}

// createRule creates a rule of the OA as the ADMIN and returns its ID.
func (d *distEnv) createRule(method, policy string, agents ...distAgent) string {
	d.t.Helper()
	var out struct{ CreateRule struct{ ID string } }
	d.must(d.tn.adminToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Quy tắc " + method, "channelIds": []gid.ID{d.oa}, "agentIds": agentIDs(agents),
		"method": method, "offerTimeoutSeconds": 30, "oldConversations": policy,
	}}, &out)
	return out.CreateRule.ID
}

// post signs and posts, to srv, a message from a new Zalo user, and
// returns the user's Zalo ID.
func (d *distEnv) post(srv *env) string {
	d.t.Helper()
	n := d.users.Add(1)
	user := fmt.Sprintf("u-dist-%d", n)
	body, sig := d.zfake.SignedEvent(testZaloAppID, testZaloSecret, benchZaloText(user, fmt.Sprint("m-dist-", n), "xin chào"))
	req, _ := http.NewRequest(http.MethodPost, srv.srv.URL+"/webhooks/zalo", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(zalofake.SignatureHeader, sig)
	resp, err := srv.srv.Client().Do(req)
	if err != nil {
		d.t.Errorf("POST /webhooks/zalo: %v", err)
		return user
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.t.Errorf("POST /webhooks/zalo: status %d", resp.StatusCode)
	}
	return user
}

// arrive opens a conversation the way a customer does: a webhook, then
// the server's processor. It returns the conversation's ID.
func (d *distEnv) arrive() string {
	d.t.Helper()
	user := d.post(d.env)
	if _, err := d.app.intake.ProcessDue(d.busContext()); err != nil {
		d.t.Fatal(err)
	}
	return string(d.conversationOf(user))
}

// conversationOf returns the conversation of a Zalo user.
func (d *distEnv) conversationOf(user string) gid.ID {
	d.t.Helper()
	id, ok := d.findConversation(user)
	if !ok {
		d.t.Fatalf("%s has no conversation", user)
	}
	return gid.ID(id)
}

// findConversation returns the ID of a Zalo user's conversation, once it
// exists.
func (d *distEnv) findConversation(user string) (string, bool) {
	sys := viewer.SystemContext(context.Background(), d.org)
	idt, err := d.db.Client.Identity.Query().Where(identity.ExternalID(user)).Only(sys)
	if err != nil {
		return "", false
	}
	c, err := d.db.Client.Conversation.Query().Where(conversation.CustomerID(idt.CustomerID)).First(sys)
	if err != nil {
		return "", false
	}
	return string(c.ID), true
}

// convState is a conversation's distribution as the API shows it.
type convState struct {
	ID                string
	DistributionState string
	Assignee          *struct{ ID string }
	OfferedTo         []struct{ ID string }
}

// String describes the state with the agents' indexes: "OFFERED 0,2".
func (d *distEnv) describe(c convState) string {
	s := c.DistributionState
	if c.Assignee != nil {
		s += " " + d.who(c.Assignee.ID)
	}
	var offered []string
	for _, u := range c.OfferedTo {
		offered = append(offered, d.who(u.ID))
	}
	slices.Sort(offered)
	if len(offered) > 0 {
		s += " " + strings.Join(offered, ",")
	}
	return s
}

func (d *distEnv) who(id string) string {
	for i, a := range d.agents {
		if a.id == id {
			return fmt.Sprint(i)
		}
	}
	return id
}

const convStateFields = `id distributionState assignee { id } offeredTo { id }`

// state returns a conversation's distribution, asked by the OWNER.
func (d *distEnv) state(id string) string {
	d.t.Helper()
	var out struct{ Node convState }
	d.must(d.tn.ownerToken, `query($id: ID!) { node(id: $id) { ... on Conversation { `+convStateFields+` } } }`,
		map[string]any{"id": id}, &out)
	return d.describe(out.Node)
}

// runDue moves the clock and runs the timers due on the server.
func (d *distEnv) runDue(by time.Duration) int {
	d.t.Helper()
	d.clock.Advance(by)
	n, err := d.app.timers.RunDue(d.busContext())
	if err != nil {
		d.t.Fatal(err)
	}
	return n
}

// busContext is the context of the server's workers: the events they
// append are announced on the server's bus.
func (d *distEnv) busContext() context.Context {
	return event.WithBus(context.Background(), d.app.bus)
}

// act runs claimConversation, acceptConversationOffer or
// declineConversationOffer as a user and returns the error code and
// reason ("" on success).
func (d *distEnv) act(op, token, id string) string {
	d.t.Helper()
	r := d.gql(token, `mutation($id: ID!) { `+op+`(id: $id) { id } }`, map[string]any{"id": id})
	if len(r.Errors) == 0 {
		return ""
	}
	s := r.code()
	if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != "" {
		s += " " + reason
	}
	return s
}

const conversationEventsQuery = `subscription($after: String) { conversationEvents(after: $after) { cursor type conversation { id } } }`

// followConversations subscribes a user to conversationEvents from the
// start of the log.
func followConversations(t *testing.T, e *env, token string) *subscriber {
	return subscribe(t, e, token, conversationEventsQuery, map[string]any{"after": event.Start.String()})
}

// expectEvents reads a subscriber's next conversation events and checks
// their types and conversation. The inbox's CREATED events are skipped: a
// stream delivers one if the viewer sees the conversation by the time the
// stream reads it, which depends on timing, not on distribution.
func expectEvents(t *testing.T, s *subscriber, conv string, types ...string) {
	t.Helper()
	for _, want := range types {
		for {
			var ev struct {
				ConversationEvents struct {
					Type         string
					Conversation struct{ ID string }
				}
			}
			s.next(&ev)
			got := ev.ConversationEvents
			if got.Type == "CREATED" && want != "CREATED" {
				continue
			}
			if got.Type != want || got.Conversation.ID != conv {
				t.Fatalf("got %s of %s, want %s of %s", got.Type, got.Conversation.ID, want, conv)
			}
			break
		}
	}
}

// TestRoundRobinStaysEvenAcrossReplicas: 1,000 new conversations arrive at
// once, through two server instances on one database (one on SQLite, see
// replicas), each running its webhook worker; round robin among seven
// ONLINE agents gives each 142 or 143.
func TestRoundRobinStaysEvenAcrossReplicas(t *testing.T) {
	const arrivals, agents, clients = 1000, 7, 16
	d := newDistEnv(t, agents)
	d.online(d.agents...)
	d.createRule("ROUND_ROBIN", "KEEP", d.agents...)
	servers := d.replicas()
	for _, s := range servers {
		s.app.startWorkers()
		t.Cleanup(s.app.Stop)
	}

	var wg sync.WaitGroup
	var next atomic.Int64
	for c := range clients {
		srv := servers[c%len(servers)]
		wg.Go(func() {
			for next.Add(1) <= arrivals {
				d.post(srv)
			}
		})
	}
	wg.Wait()

	sys := viewer.SystemContext(context.Background(), d.org)
	assigned := func() int {
		return d.db.Client.Conversation.Query().
			Where(conversation.DistributionStateEQ(conversation.DistributionStateASSIGNED)).CountX(sys)
	}
	// The workers finish in their own time; the deadline only keeps a
	// broken build from hanging.
	for deadline := time.Now().Add(2 * patience); assigned() < arrivals; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d conversations assigned", assigned(), arrivals)
		}
	}
	convs := d.db.Client.Conversation.Query().AllX(sys)
	perAgent := map[string]int{}
	for _, c := range convs {
		if c.AssigneeID == nil {
			t.Fatalf("unassigned conversation %s (%s)", c.ID, c.DistributionState)
		}
		perAgent[string(*c.AssigneeID)]++
	}
	counts := make([]int, 0, agents)
	for _, a := range d.agents {
		counts = append(counts, perAgent[a.id])
	}
	if len(convs) != arrivals || len(perAgent) != agents || slices.Max(counts)-slices.Min(counts) > 1 {
		t.Fatalf("%d conversations; per agent %v (max − min must be ≤ 1)", len(convs), counts)
	}
	t.Logf("per agent: %v", counts)
}

// TestConcurrentClaimsHaveExactlyOneWinner: 100 agents of a SELF_CLAIM rule
// claim the same conversation at once over HTTP; one wins, 99 get CONFLICT,
// and a loser's subscription hears the CLAIMED event.
func TestConcurrentClaimsHaveExactlyOneWinner(t *testing.T) {
	const agents = 100
	d := newDistEnv(t, agents)
	d.createRule("SELF_CLAIM", "KEEP", d.agents...)
	watcher := followConversations(t, d.env, d.agents[0].token)
	conv := d.arrive()
	if s := d.state(conv); s != "UNCLAIMED" {
		t.Fatalf("a self-claimed conversation: %s", s)
	}
	expectEvents(t, watcher, conv, "CREATED")

	codes := make([]string, agents)
	var wg sync.WaitGroup
	for i := 1; i < agents; i++ {
		wg.Go(func() { codes[i] = d.act("claimConversation", d.agents[i].token, conv) })
	}
	wg.Wait()
	winners := 0
	for i := 1; i < agents; i++ {
		switch codes[i] {
		case "":
			winners++
		case "CONFLICT ALREADY_TAKEN":
		default:
			t.Fatalf("claim %d: %q", i, codes[i])
		}
	}
	if winners != 1 {
		t.Fatalf("%d claims won", winners)
	}
	expectEvents(t, watcher, conv, "CLAIMED")
	if code := d.act("claimConversation", d.agents[0].token, conv); code != "CONFLICT ALREADY_TAKEN" {
		t.Fatalf("a late claim: %q", code)
	}
	var list struct{ Conversations struct{ TotalCount int } }
	d.must(d.agents[0].token, `{ conversations { totalCount } }`, nil, &list)
	if list.Conversations.TotalCount != 0 {
		t.Fatal("a loser still lists the claimed conversation")
	}
}

// TestALateStreamHearsOnlyItsOwnOffers: an agent whose stream replays the
// log after an offer moved on to them hears of their own offer, not of the
// earlier one made to someone else, although they may see the
// conversation by the time their stream reads it.
func TestALateStreamHearsOnlyItsOwnOffers(t *testing.T) {
	d := newDistEnv(t, 2)
	a := d.agents
	d.online(a...)
	d.createRule("SEQUENTIAL", "KEEP", a...)
	conv := d.arrive()
	d.runDue(30 * time.Second)
	if s := d.state(conv); s != "OFFERED 1" {
		t.Fatalf("after the timeout: %s", s)
	}
	late := followConversations(t, d.env, a[1].token)
	if code := d.act("declineConversationOffer", a[1].token, conv); code != "" {
		t.Fatalf("decline: %s", code)
	}
	expectEvents(t, late, conv, "OFFERED", "OFFER_DECLINED")
}

// TestSequentialOffersWalkTheList: offers move on when they time out (the
// test moves the clock) and at once on a decline; each agent's stream
// hears exactly its part, and the admin's hears everything.
func TestSequentialOffersWalkTheList(t *testing.T) {
	d := newDistEnv(t, 3)
	a := d.agents
	d.online(a...)
	d.createRule("SEQUENTIAL", "KEEP", a...)
	subs := make([]*subscriber, 3)
	for i := range a {
		subs[i] = followConversations(t, d.env, a[i].token)
	}
	admin := followConversations(t, d.env, d.tn.adminToken)

	conv := d.arrive()
	if s := d.state(conv); s != "OFFERED 0" {
		t.Fatalf("first offer: %s", s)
	}
	expectEvents(t, subs[0], conv, "OFFERED")
	expectEvents(t, admin, conv, "CREATED", "OFFERED")

	if n := d.runDue(29 * time.Second); n != 0 {
		t.Fatalf("%d timers ran before the timeout", n)
	}
	d.runDue(time.Second)
	if s := d.state(conv); s != "OFFERED 1" {
		t.Fatalf("after the timeout: %s", s)
	}
	expectEvents(t, subs[0], conv, "OFFER_EXPIRED")
	expectEvents(t, subs[1], conv, "OFFERED")
	expectEvents(t, admin, conv, "OFFER_EXPIRED", "OFFERED")

	if code := d.act("declineConversationOffer", a[1].token, conv); code != "" {
		t.Fatalf("decline: %s", code)
	}
	if s := d.state(conv); s != "OFFERED 2" {
		t.Fatalf("after the decline: %s", s)
	}
	expectEvents(t, subs[1], conv, "OFFER_DECLINED")
	expectEvents(t, subs[2], conv, "OFFERED")
	expectEvents(t, admin, conv, "OFFERED")

	if code := d.act("acceptConversationOffer", a[0].token, conv); code != "FAILED_PRECONDITION OFFER_NOT_YOURS" {
		t.Fatalf("accepting an expired offer: %q", code)
	}
	if code := d.act("acceptConversationOffer", a[2].token, conv); code != "" {
		t.Fatalf("accept: %s", code)
	}
	if s := d.state(conv); s != "ASSIGNED 2" {
		t.Fatalf("after the accept: %s", s)
	}
	expectEvents(t, subs[2], conv, "ASSIGNED")
	expectEvents(t, admin, conv, "ASSIGNED")
	if n := d.runDue(time.Hour); n != 0 {
		t.Fatalf("%d timers ran after the accept", n)
	}

	t.Run("Exhausted", func(t *testing.T) {
		conv := d.arrive()
		for range 3 {
			d.runDue(30 * time.Second)
		}
		if s := d.state(conv); s != "WAITING" {
			t.Fatalf("after every agent let it expire: %s", s)
		}
		expectEvents(t, admin, conv, "CREATED", "OFFERED", "OFFER_EXPIRED", "OFFERED", "OFFER_EXPIRED", "OFFERED", "OFFER_EXPIRED", "WAITING")
	})
}

// TestOfferSurvivesRestartAndDeadReplica: an offer made by one server is
// timed out by another after the first stopped, and a replica that dies
// while timing an offer out leaves it to the next, which moves it exactly
// one step.
func TestOfferSurvivesRestartAndDeadReplica(t *testing.T) {
	d := newDistEnv(t, 3)
	a := d.agents
	d.online(a...)
	d.createRule("SEQUENTIAL", "KEEP", a...)
	conv := d.arrive()
	if s := d.state(conv); s != "OFFERED 0" {
		t.Fatalf("first offer: %s", s)
	}

	// Restart: the first server goes away, a new one starts on the same
	// database and finds the offer's timer.
	d.srv.Close()
	d.app.Stop()
	restarted := d.replica(d.db)
	d.env = restarted
	d.runDue(30 * time.Second)
	if s := d.state(conv); s != "OFFERED 1" {
		t.Fatalf("after the restart and the timeout: %s", s)
	}

	if dbtest.Dialect() != dialect.Postgres {
		t.Skip("a replica dying mid-claim needs a second connection pool; SQLite has one writer")
	}
	// A dying replica: its own pool, and a hook that holds its timer
	// handler inside the claiming transaction until the replica dies.
	dyingDB, err := database.Open(context.Background(), database.Config{URL: d.db.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dyingDB.Close() })
	inside := make(chan struct{})
	dyingDB.Client.Offer.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if st, ok := m.(*ent.OfferMutation).Status(); ok && st == "EXPIRED" {
				close(inside)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return next.Mutate(ctx, m)
		})
	})
	dying := d.replica(dyingDB)
	d.clock.Advance(30 * time.Second)
	ctx, die := context.WithCancel(context.Background())
	died := make(chan error)
	go func() { _, err := dying.app.timers.RunDue(ctx); died <- err }()
	<-inside
	// While the dying replica holds the timer, the others pass it over.
	if n, err := d.app.timers.RunDue(d.busContext()); err != nil || n != 0 {
		t.Fatalf("a live replica ran a held timer: %d, %v", n, err)
	}
	die()
	if err := <-died; err == nil {
		t.Fatal("the dying replica's RunDue succeeded")
	}
	// The dead transaction's rollback reaches PostgreSQL on its own time
	// (database/sql ends a cancelled transaction asynchronously); until
	// then the row stays locked and is passed over.
	ran := 0
	for deadline := time.Now().Add(patience); ran == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the surviving replica never ran the timer")
		}
		ran = d.runDue(0)
	}
	if ran != 1 {
		t.Fatalf("the surviving replica ran %d timers", ran)
	}
	if s := d.state(conv); s != "OFFERED 2" {
		t.Fatalf("after the replica died: %s", s)
	}
}

// TestBroadcastFirstAcceptWins: every ONLINE agent is offered the
// conversation; of five accepting at once one wins and four get CONFLICT.
func TestBroadcastFirstAcceptWins(t *testing.T) {
	const agents = 5
	d := newDistEnv(t, agents+1)
	d.online(d.agents[:agents]...)
	d.createRule("BROADCAST", "KEEP", d.agents...)
	conv := d.arrive()
	if s := d.state(conv); s != "OFFERED 0,1,2,3,4" {
		t.Fatalf("broadcast: %s", s)
	}
	loser := followConversations(t, d.env, d.agents[0].token)
	expectEvents(t, loser, conv, "OFFERED")
	codes := make([]string, agents)
	var wg sync.WaitGroup
	for i := 1; i < agents; i++ {
		wg.Go(func() { codes[i] = d.act("acceptConversationOffer", d.agents[i].token, conv) })
	}
	wg.Wait()
	winner := -1
	for i := 1; i < agents; i++ {
		switch codes[i] {
		case "":
			if winner >= 0 {
				t.Fatalf("accepts %d and %d both won", winner, i)
			}
			winner = i
		case "CONFLICT ALREADY_TAKEN":
		default:
			t.Fatalf("accept %d: %q", i, codes[i])
		}
	}
	if winner < 0 {
		t.Fatal("no accept won")
	}
	if s := d.state(conv); s != fmt.Sprint("ASSIGNED ", winner) {
		t.Fatalf("after the accepts: %s", s)
	}
	expectEvents(t, loser, conv, "ASSIGNED")
	if code := d.act("acceptConversationOffer", d.agents[0].token, conv); code != "CONFLICT ALREADY_TAKEN" {
		t.Fatalf("a late accept: %q", code)
	}
}

// TestAwayAndOfflineAgentsGetNothing: only ONLINE agents receive
// conversations or offers, whatever the method.
func TestAwayAndOfflineAgentsGetNothing(t *testing.T) {
	d := newDistEnv(t, 3)
	a := d.agents
	d.online(a[0])
	d.presence(a[1].token, "AWAY")
	rule := d.createRule("ROUND_ROBIN", "KEEP", a...)
	for range 4 {
		if s := d.state(d.arrive()); s != "ASSIGNED 0" {
			t.Fatalf("round robin: %s", s)
		}
	}
	for _, method := range []string{"SEQUENTIAL", "BROADCAST", "RANDOM"} {
		d.must(d.tn.adminToken, `mutation($id: ID!, $m: DistributionMethod!) { updateRule(id: $id, input: {method: $m}) { id } }`,
			map[string]any{"id": rule, "m": method}, nil)
		if s := d.state(d.arrive()); s != "OFFERED 0" {
			t.Fatalf("%s: %s", method, s)
		}
	}
	for _, agent := range a[1:] {
		var list struct{ Conversations struct{ TotalCount int } }
		d.must(agent.token, `{ conversations { totalCount } }`, nil, &list)
		if list.Conversations.TotalCount != 0 {
			t.Fatalf("an agent who is not ONLINE sees %d conversations", list.Conversations.TotalCount)
		}
	}
	// Going AWAY hands the pending offers on; nobody else is ONLINE.
	d.presence(a[0].token, "AWAY")
	var list struct {
		Conversations struct {
			Edges []struct{ Node convState }
		}
	}
	d.must(d.tn.ownerToken, `{ conversations(where: {distributionState: OFFERED}) { edges { node { `+convStateFields+` } } } }`, nil, &list)
	if len(list.Conversations.Edges) != 0 {
		t.Fatalf("offers still wait on an agent who went away: %+v", list.Conversations.Edges)
	}
}

// TestOldConversationPolicies: when a channel joins a rule, KEEP leaves its
// open conversations alone, UNASSIGNED distributes those nobody has, ALL
// distributes every one; when an agent leaves, KEEP leaves them their
// conversations and the others distribute them again.
func TestOldConversationPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy                     string
		unassigned, assigned, left string
	}{
		{"KEEP", "NONE", "ASSIGNED owner", "ASSIGNED 0"},
		{"UNASSIGNED", "ASSIGNED 0", "ASSIGNED owner", "ASSIGNED 1"},
		{"ALL", "ASSIGNED 0", "ASSIGNED 1", "ASSIGNED 1"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			d := newDistEnv(t, 2)
			a := d.agents
			d.online(a...)
			unassigned, assigned := d.arrive(), d.arrive()
			d.must(d.tn.adminToken, `mutation($id: ID!, $u: ID) { assignConversation(id: $id, userId: $u) { id } }`,
				map[string]any{"id": assigned, "u": d.tn.ownerID}, nil)
			rule := d.createRule("ROUND_ROBIN", tc.policy, a...)
			describe := func(id string) string {
				return strings.Replace(d.state(id), d.tn.ownerID, "owner", 1)
			}
			if got := describe(unassigned); got != tc.unassigned {
				t.Errorf("the unassigned conversation: %s, want %s", got, tc.unassigned)
			}
			if got := describe(assigned); got != tc.assigned {
				t.Errorf("the assigned conversation: %s, want %s", got, tc.assigned)
			}

			// A new conversation goes to agent 0 or 1; make it agent 0's,
			// then agent 0 leaves the rule.
			conv := d.arrive()
			if d.state(conv) != "ASSIGNED 0" {
				conv = d.arrive()
			}
			d.must(d.tn.adminToken, `mutation($id: ID!, $ids: [ID!]) { updateRule(id: $id, input: {agentIds: $ids}) { agents { id } } }`,
				map[string]any{"id": rule, "ids": []string{a[1].id}}, nil)
			if got := d.state(conv); got != tc.left {
				t.Errorf("agent 0's conversation after they left: %s, want %s", got, tc.left)
			}
		})
	}
}

// TestPresenceFollowsSubscriptionSockets: a user whose last subscription
// socket closed becomes OFFLINE once the grace period has passed, while a
// user with a socket open stays ONLINE.
func TestPresenceFollowsSubscriptionSockets(t *testing.T) {
	d := newDistEnv(t, 2)
	a := d.agents
	d.online(a...)
	// A socket counts from its connection_init, which subscribe awaits.
	gone := followConversations(t, d.env, a[0].token)
	followConversations(t, d.env, a[1].token)
	if d.app.presence.Sockets(gid.ID(a[0].id)) != 1 || d.app.presence.Sockets(gid.ID(a[1].id)) != 1 {
		t.Fatal("the sockets are not counted")
	}
	gone.conn.Close()
	// The server notices the close on its own time; the deadline only
	// keeps a broken build from hanging.
	for deadline := time.Now().Add(patience); d.app.presence.Sockets(gid.ID(a[0].id)) > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed socket is still counted")
		}
	}
	presenceOf := func(token string) string {
		var me struct{ Me struct{ Presence string } }
		d.must(token, `{ me { presence } }`, nil, &me)
		return me.Me.Presence
	}
	d.clock.Advance(time.Minute)
	if err := d.app.sweepPresence(d.busContext()); err != nil {
		t.Fatal(err)
	}
	if p := presenceOf(a[0].token); p != "ONLINE" {
		t.Fatalf("within the grace period: %s", p)
	}
	d.clock.Advance(2 * time.Minute)
	if err := d.app.sweepPresence(d.busContext()); err != nil {
		t.Fatal(err)
	}
	if p0, p1 := presenceOf(a[0].token), presenceOf(a[1].token); p0 != "OFFLINE" || p1 != "ONLINE" {
		t.Fatalf("after the grace period: without a socket %s, with one %s", p0, p1)
	}

	t.Run("PresenceEvents", func(t *testing.T) {
		s := subscribe(t, d.env, d.tn.adminToken, `subscription($after: String) { userEvents(after: $after) { type user { id presence } } }`,
			map[string]any{"after": event.Start.String()})
		var got []string
		for range 3 {
			var ev struct {
				UserEvents struct {
					Type string
					User struct{ ID, Presence string }
				}
			}
			s.next(&ev)
			got = append(got, d.who(ev.UserEvents.User.ID)+" "+ev.UserEvents.Type)
		}
		if want := "0 PRESENCE_CHANGED,1 PRESENCE_CHANGED,0 PRESENCE_CHANGED"; strings.Join(got, ",") != want {
			t.Fatalf("presence events %v, want %s", got, want)
		}
	})
}

// TestDistributionAPIErrors: only admins configure, inputs are checked, and
// nothing changes on a refusal.
func TestDistributionAPIErrors(t *testing.T) {
	d := newDistEnv(t, 1)
	create := `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`
	in := func(change map[string]any) map[string]any {
		m := map[string]any{"name": "R", "channelIds": []gid.ID{d.oa}, "agentIds": agentIDs(d.agents), "method": "ROUND_ROBIN"}
		for k, v := range change {
			m[k] = v
		}
		return map[string]any{"in": m}
	}
	for _, tc := range []struct {
		name, token string
		vars        map[string]any
		code, field string
	}{
		{"AgentForbidden", d.agents[0].token, in(nil), "FORBIDDEN", ""},
		{"APIKeyForbidden", d.tn.apiKey, in(nil), "FORBIDDEN", ""},
		{"TimeoutTooShort", d.tn.adminToken, in(map[string]any{"offerTimeoutSeconds": 4}), "BAD_USER_INPUT", "offerTimeoutSeconds"},
		{"TimeoutTooLong", d.tn.adminToken, in(map[string]any{"offerTimeoutSeconds": 3601}), "BAD_USER_INPUT", "offerTimeoutSeconds"},
		{"NoAgents", d.tn.adminToken, in(map[string]any{"agentIds": []string{}}), "BAD_USER_INPUT", "agentIds"},
		{"UnknownAgent", d.tn.adminToken, in(map[string]any{"agentIds": []string{"usr_01JD3Q2V5Z8N4M7K1P6R9T0W2X"}}), "NOT_FOUND", ""},
		{"BlankName", d.tn.adminToken, in(map[string]any{"name": " "}), "BAD_USER_INPUT", "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.gql(tc.token, create, tc.vars)
			field, _ := func() (string, bool) {
				if len(r.Errors) == 0 {
					return "", false
				}
				f, ok := r.Errors[0].Extensions["field"].(string)
				return f, ok
			}()
			if r.code() != tc.code || field != tc.field {
				t.Fatalf("got %s %q: %+v", r.code(), field, r.Errors)
			}
		})
	}
	var rules struct{ Rules struct{ TotalCount int } }
	d.must(d.tn.ownerToken, `{ rules { totalCount } }`, nil, &rules)
	if rules.Rules.TotalCount != 0 {
		t.Fatalf("%d rules after refusals", rules.Rules.TotalCount)
	}
	d.createRule("SEQUENTIAL", "KEEP", d.agents...)
	var out struct {
		Rules struct {
			Edges []struct {
				Node struct {
					Name, Method, OldConversations string
					OfferTimeoutSeconds            int
					Channels                       []struct{ ID gid.ID }
					Agents                         []struct{ ID string }
				}
			}
		}
	}
	d.must(d.tn.agentToken, `{ rules { edges { node { name method oldConversations offerTimeoutSeconds channels { id } agents { id } } } } }`, nil, &out)
	r := out.Rules.Edges[0].Node
	if r.Method != "SEQUENTIAL" || r.OfferTimeoutSeconds != 30 || r.OldConversations != "KEEP" ||
		len(r.Channels) != 1 || r.Channels[0].ID != d.oa || len(r.Agents) != 1 || r.Agents[0].ID != d.agents[0].id {
		t.Fatalf("the rule as an agent reads it: %+v", r)
	}
	if r := d.gql(d.tn.apiKey, `mutation { setPresence(status: ONLINE) { id } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("an API key setting presence: %+v", r.Errors)
	}
}
