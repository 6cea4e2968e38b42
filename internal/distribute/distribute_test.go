package distribute_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

const (
	online  = user.PresenceONLINE
	away    = user.PresenceAWAY
	offline = user.PresenceOFFLINE
	keep    = rule.OldConversationsKEEP
)

func TestRoundRobinTakesTurnsAmongOnlineAgents(t *testing.T) {
	f := newFixture(t, 4)
	a := f.agents
	f.rule(schematype.RoundRobin, keep, a...)
	f.presence(online, a[0], a[1], a[3])

	var got []string
	for range 6 {
		got = append(got, f.state(f.arrive(f.channel).ID))
	}
	want := "ASSIGNED Agent 1|ASSIGNED Agent 2|ASSIGNED Agent 4|ASSIGNED Agent 1|ASSIGNED Agent 2|ASSIGNED Agent 4"
	if strings.Join(got, "|") != want {
		t.Fatalf("assignments\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	// Agent 3 comes online: the turn goes on from Agent 4, to Agent 1.
	f.presence(online, a[2])
	got = nil
	for range 4 {
		got = append(got, f.state(f.arrive(f.channel).ID))
	}
	if want := "ASSIGNED Agent 1|ASSIGNED Agent 2|ASSIGNED Agent 3|ASSIGNED Agent 4"; strings.Join(got, "|") != want {
		t.Fatalf("after Agent 3 came online\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	c := f.arrive(f.channel)
	if evs, _ := f.eventsOf(c.ID, 0); evs != "CREATED ASSIGNED" {
		t.Fatalf("events %q", evs)
	}
}

func TestRoundRobinWaitsForSomeoneOnlineThenServesOldestFirst(t *testing.T) {
	f := newFixture(t, 3)
	a := f.agents
	f.rule(schematype.RoundRobin, keep, a[0], a[1])
	var convs []*ent.Conversation
	for range 3 {
		convs = append(convs, f.arrive(f.channel))
	}
	for _, c := range convs {
		if s := f.state(c.ID); s != "WAITING" {
			t.Fatalf("with nobody online: %s", s)
		}
		if evs, _ := f.eventsOf(c.ID, 0); evs != "CREATED WAITING" {
			t.Fatalf("events %q", evs)
		}
		if !f.sees(a[0], c.ID) || !f.sees(a[1], c.ID) || f.sees(a[2], c.ID) || !f.sees(f.owner, c.ID) {
			t.Fatal("a waiting conversation is seen by its rule's agents and admins only")
		}
	}
	seq := f.lastSeq()
	f.presence(online, a[1])
	var order []gid.ID
	for _, c := range convs {
		if s := f.state(c.ID); s != "ASSIGNED Agent 2" {
			t.Fatalf("after Agent 2 came online: %s", s)
		}
	}
	evs, err := f.client.Event.Query().Order(entevent.BySeq()).All(privacy.DecisionContext(f.sys(), privacy.Allow))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Seq > seq && e.Type == "ASSIGNED" {
			order = append(order, e.ConversationID)
		}
	}
	if want := []gid.ID{convs[0].ID, convs[1].ID, convs[2].ID}; !slices.Equal(order, want) {
		t.Fatalf("distributed in order %v, want oldest first %v", order, want)
	}
	if f.sees(a[0], convs[0].ID) {
		t.Fatal("Agent 1 still sees a conversation assigned to Agent 2")
	}
}

func TestSequentialWalksTheListOnTimeoutAndDecline(t *testing.T) {
	f := newFixture(t, 4)
	a := f.agents
	f.rule(schematype.Sequential, keep, a[0], a[1], a[2], a[3])
	f.presence(online, a[0], a[1], a[2])

	c := f.arrive(f.channel)
	if s := f.state(c.ID); s != "OFFERED Agent 1" {
		t.Fatalf("first offer: %s", s)
	}
	if !f.sees(a[0], c.ID) || f.sees(a[1], c.ID) {
		t.Fatal("an offered conversation is seen by the offered agent only")
	}
	evs, seq := f.eventsOf(c.ID, 0)
	if evs != "CREATED OFFERED OFFERED→Agent 1" {
		t.Fatalf("events %q", evs)
	}
	if n := f.runDue(29 * time.Second); n != 0 || f.state(c.ID) != "OFFERED Agent 1" {
		t.Fatalf("before the timeout: %d timers ran, %s", n, f.state(c.ID))
	}
	if n := f.runDue(time.Second); n != 1 {
		t.Fatalf("at the timeout %d timers ran", n)
	}
	if s := f.state(c.ID); s != "OFFERED Agent 2" {
		t.Fatalf("after the timeout: %s", s)
	}
	evs, seq = f.eventsOf(c.ID, seq)
	if evs != "OFFER_EXPIRED→Agent 1 OFFER_EXPIRED→Chủ shop OFFERED OFFERED→Agent 2" {
		t.Fatalf("expiry events %q", evs)
	}

	// Agent 2 declines: on to Agent 3 at once.
	f.runDue(10 * time.Second)
	if _, err := f.engine.DeclineConversationOffer(f.as(a[1]), c.ID); err != nil {
		t.Fatal(err)
	}
	if s := f.state(c.ID); s != "OFFERED Agent 3" {
		t.Fatalf("after declining: %s", s)
	}
	evs, seq = f.eventsOf(c.ID, seq)
	if evs != "OFFER_DECLINED→Agent 2 OFFERED OFFERED→Agent 3" {
		t.Fatalf("decline events %q", evs)
	}
	// The earlier offers are no longer theirs.
	for _, u := range a[:2] {
		_, err := f.engine.AcceptConversationOffer(f.as(u), c.ID)
		if code(err) != "FAILED_PRECONDITION OFFER_NOT_YOURS" {
			t.Fatalf("%s accepting an offer that moved on: %v", u.Name, err)
		}
	}
	// Agent 2's decline timer was replaced: 20 s later nothing happens.
	if n := f.runDue(20 * time.Second); n != 0 {
		t.Fatalf("%d stale timers ran", n)
	}
	// Agent 4 is offline, so Agent 3's timeout ends the list.
	f.runDue(10 * time.Second)
	if s := f.state(c.ID); s != "WAITING" {
		t.Fatalf("after the list was exhausted: %s", s)
	}
	evs, _ = f.eventsOf(c.ID, seq)
	if evs != "OFFER_EXPIRED→Agent 3 OFFER_EXPIRED→Chủ shop WAITING" {
		t.Fatalf("exhaustion events %q", evs)
	}
	// A waiting conversation can be claimed by an agent of the rule.
	if _, err := f.engine.ClaimConversation(f.as(a[3]), c.ID); err != nil {
		t.Fatal(err)
	}
	if s := f.state(c.ID); s != "ASSIGNED Agent 4" {
		t.Fatalf("after the claim: %s", s)
	}
}

func TestSequentialAcceptAssigns(t *testing.T) {
	f := newFixture(t, 2)
	a := f.agents
	f.rule(schematype.Sequential, keep, a...)
	f.presence(online, a...)
	c := f.arrive(f.channel)
	_, seq := f.eventsOf(c.ID, 0)
	got, err := f.engine.AcceptConversationOffer(f.as(a[0]), c.ID)
	if err != nil || got.AssigneeID == nil || *got.AssigneeID != a[0].ID {
		t.Fatalf("accept: %+v, %v", got, err)
	}
	if evs, _ := f.eventsOf(c.ID, seq); evs != "ASSIGNED" {
		t.Fatalf("events %q", evs)
	}
	// Accepting again is harmless; declining now is refused.
	if _, err := f.engine.AcceptConversationOffer(f.as(a[0]), c.ID); err != nil {
		t.Fatalf("accepting twice: %v", err)
	}
	if _, err := f.engine.DeclineConversationOffer(f.as(a[0]), c.ID); code(err) != "FAILED_PRECONDITION ALREADY_ACCEPTED" {
		t.Fatalf("declining an accepted offer: %v", err)
	}
	// The timeout that was pending does nothing.
	if n := f.runDue(time.Hour); n != 0 || f.state(c.ID) != "ASSIGNED Agent 1" {
		t.Fatalf("after the old timeout: %d ran, %s", n, f.state(c.ID))
	}
}

func TestRandomOffersOneOnlineAgentAtATime(t *testing.T) {
	f := newFixture(t, 4)
	a := f.agents
	f.rule(schematype.Random, keep, a...)
	f.presence(online, a[0], a[1], a[2])
	f.picks = []int{2, 0, 0}
	c := f.arrive(f.channel)
	var got []string
	for range 4 {
		got = append(got, f.state(c.ID))
		f.runDue(30 * time.Second)
	}
	if want := "OFFERED Agent 3|OFFERED Agent 1|OFFERED Agent 2|WAITING"; strings.Join(got, "|") != want {
		t.Fatalf("offers\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

func TestBroadcastFirstAcceptWins(t *testing.T) {
	f := newFixture(t, 4)
	a := f.agents
	f.rule(schematype.Broadcast, keep, a...)
	f.presence(online, a[0], a[1], a[2])
	f.presence(away, a[3])
	c := f.arrive(f.channel)
	if s := f.state(c.ID); s != "OFFERED Agent 1,Agent 2,Agent 3" {
		t.Fatalf("broadcast: %s", s)
	}
	_, seq := f.eventsOf(c.ID, 0)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { _, errs[i] = f.engine.AcceptConversationOffer(f.as(a[i]), c.ID) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch code(err) {
		case "":
			if winner >= 0 {
				t.Fatalf("two accepts won: %d and %d", winner, i)
			}
			winner = i
		case "CONFLICT ALREADY_TAKEN":
		default:
			t.Fatalf("accept %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no accept won")
	}
	if s := f.state(c.ID); s != "ASSIGNED "+a[winner].Name {
		t.Fatalf("after the accepts: %s", s)
	}
	var losers []string
	for i := range 3 {
		if i != winner {
			losers = append(losers, "ASSIGNED→"+a[i].Name)
		}
	}
	if evs, _ := f.eventsOf(c.ID, seq); evs != "ASSIGNED "+strings.Join(losers, " ") {
		t.Fatalf("events %q", evs)
	}

	t.Run("Timeout", func(t *testing.T) {
		c := f.arrive(f.channel)
		_, seq := f.eventsOf(c.ID, 0)
		f.runDue(30 * time.Second)
		if s := f.state(c.ID); s != "WAITING" {
			t.Fatalf("a broadcast nobody accepted: %s", s)
		}
		if evs, _ := f.eventsOf(c.ID, seq); evs != "OFFER_EXPIRED→Agent 1 OFFER_EXPIRED→Agent 2 OFFER_EXPIRED→Agent 3 OFFER_EXPIRED→Chủ shop WAITING" {
			t.Fatalf("events %q", evs)
		}
	})
	t.Run("EveryoneDeclines", func(t *testing.T) {
		c := f.arrive(f.channel)
		for i, u := range a[:3] {
			if _, err := f.engine.DeclineConversationOffer(f.as(u), c.ID); err != nil {
				t.Fatal(err)
			}
			want := "OFFERED"
			if i == 2 {
				want = "WAITING"
			}
			if s := f.state(c.ID); !strings.HasPrefix(s, want) {
				t.Fatalf("after %d declines: %s", i+1, s)
			}
		}
	})
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	const agents = 20
	f := newFixture(t, agents)
	a := f.agents
	f.rule(schematype.SelfClaim, keep, a[:agents-1]...)
	c := f.arrive(f.channel)
	if s := f.state(c.ID); s != "UNCLAIMED" {
		t.Fatalf("self-claim: %s", s)
	}
	if evs, _ := f.eventsOf(c.ID, 0); evs != "CREATED" {
		t.Fatalf("events %q", evs)
	}
	if !f.sees(a[0], c.ID) || f.sees(a[agents-1], c.ID) {
		t.Fatal("an unclaimed conversation is seen by its rule's agents only")
	}
	_, seq := f.eventsOf(c.ID, 0)
	var wg sync.WaitGroup
	errs := make([]error, agents)
	for i := range agents {
		wg.Go(func() { _, errs[i] = f.engine.ClaimConversation(f.as(a[i]), c.ID) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two claims won: %d and %d", winner, i)
			}
			winner = i
		case i == agents-1:
			// Not an agent of the rule: the conversation is none of its
			// business.
			if code(err) != "NOT_FOUND" {
				t.Fatalf("an outsider's claim: %v", err)
			}
		case code(err) != "CONFLICT ALREADY_TAKEN":
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim won")
	}
	got, _ := f.eventList(c.ID, seq)
	want := []string{"CLAIMED"}
	for i := range agents - 1 {
		if i != winner {
			want = append(want, "CLAIMED→"+a[i].Name)
		}
	}
	slices.Sort(got[1:])
	slices.Sort(want[1:])
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	if f.sees(a[(winner+1)%(agents-1)], c.ID) {
		t.Fatal("a loser still sees the claimed conversation")
	}
}

func TestAwayAndOfflineAgentsGetNothing(t *testing.T) {
	f := newFixture(t, 3)
	a := f.agents
	f.presence(online, a[0])
	f.presence(away, a[1])
	r := f.rule(schematype.RoundRobin, keep, a...)
	for range 3 {
		if s := f.state(f.arrive(f.channel).ID); s != "ASSIGNED Agent 1" {
			t.Fatalf("round robin with one agent online: %s", s)
		}
	}
	method := schematype.Sequential
	if _, err := f.engine.UpdateRule(f.as(f.owner), r.ID, distribute.RuleUpdate{Method: &method}); err != nil {
		t.Fatal(err)
	}
	c := f.arrive(f.channel)
	if s := f.state(c.ID); s != "OFFERED Agent 1" {
		t.Fatalf("sequential: %s", s)
	}
	_, seq := f.eventsOf(c.ID, 0)
	// Going away hands the offer on at once; nobody else is online.
	f.presence(away, a[0])
	if s := f.state(c.ID); s != "WAITING" {
		t.Fatalf("after Agent 1 went away: %s", s)
	}
	if evs, _ := f.eventsOf(c.ID, seq); evs != "OFFER_EXPIRED→Agent 1 OFFER_EXPIRED→Chủ shop WAITING" {
		t.Fatalf("events %q", evs)
	}
	// Agent 3 comes online and gets the waiting conversation's offer.
	f.presence(online, a[2])
	if s := f.state(c.ID); s != "OFFERED Agent 3" {
		t.Fatalf("after Agent 3 came online: %s", s)
	}
}

func TestPresenceExpiresWithoutSockets(t *testing.T) {
	f := newFixture(t, 2)
	a := f.agents
	f.rule(schematype.Sequential, keep, a...)
	f.presence(online, a...)
	c := f.arrive(f.channel)
	f.clock.Advance(time.Minute)
	// Agent 2 was seen a minute after Agent 1 set their presence.
	f.presence(online, a[1])
	if n, err := f.engine.ExpirePresence(context.Background(), f.clock.Now().Add(-30*time.Second)); err != nil || n != 1 {
		t.Fatalf("ExpirePresence: %d, %v", n, err)
	}
	got, err := f.client.User.Get(f.sys(), a[0].ID)
	if err != nil || got.Presence != offline {
		t.Fatalf("Agent 1 is %s (%v)", got.Presence, err)
	}
	if s := f.state(c.ID); s != "OFFERED Agent 2" {
		t.Fatalf("the stale agent's offer moved: %s", s)
	}
	if n, _ := f.engine.ExpirePresence(context.Background(), f.clock.Now().Add(-30*time.Second)); n != 0 {
		t.Fatalf("expired again: %d", n)
	}
}

func TestOldConversationPolicyWhenAChannelJoins(t *testing.T) {
	for _, tc := range []struct {
		policy     rule.OldConversations
		unassigned string
		assigned   string
	}{
		{rule.OldConversationsKEEP, "NONE", "ASSIGNED Chủ shop"},
		{rule.OldConversationsUNASSIGNED, "ASSIGNED Agent 1", "ASSIGNED Chủ shop"},
		{rule.OldConversationsALL, "ASSIGNED Agent 1", "ASSIGNED Agent 2"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			f := newFixture(t, 2)
			a := f.agents
			f.presence(online, a...)
			unassigned := f.arrive(f.channel)
			assigned := f.arrive(f.channel)
			if _, err := f.engine.AssignConversation(f.as(f.owner), assigned.ID, &f.owner.ID); err != nil {
				t.Fatal(err)
			}
			resolved := f.arrive(f.channel)
			f.client.Conversation.UpdateOneID(resolved.ID).SetStatus("RESOLVED").ExecX(f.sys())
			f.rule(schematype.RoundRobin, tc.policy, a...)
			if s := f.state(unassigned.ID); s != tc.unassigned {
				t.Errorf("the unassigned conversation: %s, want %s", s, tc.unassigned)
			}
			if s := f.state(assigned.ID); s != tc.assigned {
				t.Errorf("the assigned conversation: %s, want %s", s, tc.assigned)
			}
			if s := f.state(resolved.ID); s != "NONE" {
				t.Errorf("the resolved conversation: %s", s)
			}
			if tc.policy == rule.OldConversationsALL {
				evs, _ := f.eventsOf(assigned.ID, 0)
				if !strings.HasSuffix(evs, "ASSIGNED ASSIGNED ASSIGNED→Chủ shop") && !strings.HasSuffix(evs, "ASSIGNED ASSIGNED") {
					t.Errorf("events of the redistributed conversation %q", evs)
				}
			}
		})
	}
}

func TestOldConversationPolicyWhenAnAgentLeaves(t *testing.T) {
	for _, tc := range []struct {
		policy rule.OldConversations
		want   string
	}{
		{rule.OldConversationsKEEP, "ASSIGNED Agent 1"},
		{rule.OldConversationsUNASSIGNED, "ASSIGNED Agent 2"},
		{rule.OldConversationsALL, "ASSIGNED Agent 2"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			f := newFixture(t, 2)
			a := f.agents
			f.presence(online, a[0])
			r := f.rule(schematype.RoundRobin, tc.policy, a...)
			first, second := f.arrive(f.channel), f.arrive(f.channel)
			f.presence(online, a[1])
			if _, err := f.engine.UpdateRule(f.as(f.owner), r.ID, distribute.RuleUpdate{AgentIDs: []gid.ID{a[1].ID}}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*ent.Conversation{first, second} {
				if s := f.state(c.ID); s != tc.want {
					t.Errorf("after Agent 1 left: %s, want %s", s, tc.want)
				}
			}
			if sees := f.sees(a[0], first.ID); sees != (tc.policy == rule.OldConversationsKEEP) {
				t.Errorf("Agent 1 sees the conversation: %v", sees)
			}
		})
	}
	t.Run("PendingOffersMoveOn", func(t *testing.T) {
		f := newFixture(t, 2)
		a := f.agents
		f.presence(online, a...)
		r := f.rule(schematype.Sequential, keep, a...)
		c := f.arrive(f.channel)
		if _, err := f.engine.UpdateRule(f.as(f.owner), r.ID, distribute.RuleUpdate{AgentIDs: []gid.ID{a[1].ID}}); err != nil {
			t.Fatal(err)
		}
		if s := f.state(c.ID); s != "OFFERED Agent 2" {
			t.Fatalf("after the offered agent left: %s", s)
		}
	})
}

func TestChannelsLeavingAndRulesDeleted(t *testing.T) {
	f := newFixture(t, 2)
	a := f.agents
	f.presence(online, a[0])
	r := f.rule(schematype.Sequential, keep, a...)
	offered := f.arrive(f.channel)
	if _, err := f.engine.AcceptConversationOffer(f.as(a[0]), offered.ID); err != nil {
		t.Fatal(err)
	}
	waiting := f.arrive(f.channel)
	f.presence(away, a[0])
	f.presence(online, a[1])
	if _, err := f.engine.DeclineConversationOffer(f.as(a[1]), waiting.ID); err != nil {
		t.Fatal(err)
	}
	pending := f.arrive(f.channel)
	if f.state(waiting.ID) != "WAITING" || f.state(pending.ID) != "OFFERED Agent 2" {
		t.Fatalf("setup: %s, %s", f.state(waiting.ID), f.state(pending.ID))
	}
	if f.sees(a[1], offered.ID) {
		t.Fatal("Agent 2 sees Agent 1's conversation")
	}
	if err := f.engine.DeleteRule(f.as(f.owner), r.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*ent.Conversation{offered, waiting, pending} {
		got := f.conv(c.ID)
		if got.RuleID != nil {
			t.Fatalf("conversation still in the deleted rule: %+v", got)
		}
		if !f.sees(a[1], c.ID) {
			t.Fatal("a conversation in no rule is open to every agent")
		}
	}
	if f.state(offered.ID) != "ASSIGNED Agent 1" || f.state(waiting.ID) != "NONE" || f.state(pending.ID) != "NONE" {
		t.Fatalf("after deleting the rule: %s, %s, %s", f.state(offered.ID), f.state(waiting.ID), f.state(pending.ID))
	}
	ch := f.client.Channel.GetX(f.sys(), f.channel.ID)
	if ch.RuleID != nil {
		t.Fatal("the channel still names the deleted rule")
	}
	if n := f.runDue(time.Hour); n != 0 {
		t.Fatalf("%d timers of the deleted rule ran", n)
	}
}

func TestDefaultDepartment(t *testing.T) {
	f := newFixture(t, 3)
	a := f.agents
	f.presence(online, a...)
	yes := true
	d, err := f.engine.CreateDepartment(f.as(f.owner), distribute.DepartmentInput{
		Name: "CSKH", AgentIDs: ids(a[1:]), Method: schematype.Sequential, IsDefault: &yes,
	})
	if err != nil {
		t.Fatal(err)
	}
	page := f.newChannel("Fanpage", channel.KindFACEBOOK_PAGE, channel.ChatPermissionSHARED)
	widget := f.newChannel("Website", channel.KindLIVETALK, channel.ChatPermissionSHARED)
	private := f.newChannel("OA riêng", channel.KindZALO_OA, channel.ChatPermissionONLY_ME)
	if s := f.state(f.arrive(page).ID); s != "OFFERED Agent 2" {
		t.Fatalf("a Facebook page in no rule goes to the default department: %s", s)
	}
	if s := f.state(f.arrive(widget).ID); s != "NONE" {
		t.Fatalf("a widget in no rule stays open: %s", s)
	}
	if s := f.state(f.arrive(private).ID); s != "NONE" {
		t.Fatalf("an ONLY_ME channel is never distributed: %s", s)
	}
	f.rule(schematype.RoundRobin, keep, a[0])
	if s := f.state(f.arrive(f.channel).ID); s != "ASSIGNED Agent 1" {
		t.Fatalf("a channel in a rule follows its rule: %s", s)
	}

	// A second default takes the role; the first is no longer default.
	other, err := f.engine.CreateDepartment(f.as(f.owner), distribute.DepartmentInput{
		Name: "Bán hàng", AgentIDs: ids(a[:1]), Method: schematype.Broadcast, IsDefault: &yes,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.client.Department.GetX(f.sys(), d.ID).IsDefault || !other.IsDefault {
		t.Fatal("the default did not move")
	}
	if s := f.state(f.arrive(page).ID); s != "OFFERED Agent 1" {
		t.Fatalf("the new default department: %s", s)
	}
	c := f.arrive(page)
	if err := f.engine.DeleteDepartment(f.as(f.owner), other.ID); err != nil {
		t.Fatal(err)
	}
	if s := f.state(c.ID); s != "NONE" || !f.sees(a[2], c.ID) {
		t.Fatalf("after deleting its department: %s", s)
	}
}

func TestConfigurationErrors(t *testing.T) {
	f := newFixture(t, 2)
	a := f.agents
	f.rule(schematype.RoundRobin, keep, a[0])
	otherOrg := newFixture(t, 1)
	free := f.newChannel("OA 2", channel.KindZALO_OA, channel.ChatPermissionSHARED)
	inactive := f.user("Đã nghỉ", viewer.RoleAgent)
	f.client.User.UpdateOne(inactive).SetActive(false).ExecX(f.sys())
	n := func(v int) *int { return &v }
	rr := schematype.RoundRobin
	for _, tc := range []struct {
		name string
		as   *ent.User
		in   distribute.RuleInput
		want string
	}{
		{"AgentsCannotConfigure", a[0], distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: rr}, "FORBIDDEN"},
		{"NameRequired", f.owner, distribute.RuleInput{Name: "  ", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: rr}, "BAD_USER_INPUT name"},
		{"NameTaken", f.owner, distribute.RuleInput{Name: "Quy tắc ROUND_ROBIN KEEP", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: rr}, "CONFLICT"},
		{"TimeoutTooShort", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: rr, OfferTimeoutSeconds: n(4)}, "BAD_USER_INPUT offerTimeoutSeconds"},
		{"TimeoutTooLong", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: rr, OfferTimeoutSeconds: n(3601)}, "BAD_USER_INPUT offerTimeoutSeconds"},
		{"BadMethod", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(a), Method: "FASTEST"}, "BAD_USER_INPUT method"},
		{"NoChannel", f.owner, distribute.RuleInput{Name: "x", AgentIDs: ids(a), Method: rr}, "BAD_USER_INPUT channelIds"},
		{"NoAgent", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, Method: rr}, "BAD_USER_INPUT agentIds"},
		{"AgentTwice", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: []gid.ID{a[0].ID, a[0].ID}, Method: rr}, "BAD_USER_INPUT agentIds"},
		{"DeactivatedAgent", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: []gid.ID{inactive.ID}, Method: rr}, "BAD_USER_INPUT agentIds"},
		{"OtherOrganizationsAgent", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID}, AgentIDs: ids(otherOrg.agents), Method: rr}, "NOT_FOUND"},
		{"OtherOrganizationsChannel", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{otherOrg.channel.ID}, AgentIDs: ids(a), Method: rr}, "NOT_FOUND"},
		{"MalformedID", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{"cha_nope"}, AgentIDs: ids(a), Method: rr}, "NOT_FOUND"},
		{"ChannelInAnotherRule", f.owner, distribute.RuleInput{Name: "x", ChannelIDs: []gid.ID{free.ID, f.channel.ID}, AgentIDs: ids(a), Method: rr}, "CONFLICT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.engine.CreateRule(f.as(tc.as), tc.in)
			got := code(err)
			if apiErr, ok := asField(err); ok {
				got += " " + apiErr
			}
			if got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	if n := f.client.Rule.Query().CountX(f.sys()); n != 1 {
		t.Fatalf("%d rules after refused creations", n)
	}
	if ch := f.client.Channel.GetX(f.sys(), free.ID); ch.RuleID != nil {
		t.Fatal("a refused rule took a channel")
	}

	t.Run("DepartmentMethods", func(t *testing.T) {
		for _, m := range []schematype.DistributionMethod{schematype.RoundRobin, schematype.SelfClaim} {
			_, err := f.engine.CreateDepartment(f.as(f.owner), distribute.DepartmentInput{Name: "d", AgentIDs: ids(a), Method: m})
			if f, _ := asField(err); code(err) != "BAD_USER_INPUT" || f != "method" {
				t.Fatalf("department with %s: %v", m, err)
			}
		}
	})
	t.Run("OtherOrganizationsRule", func(t *testing.T) {
		r := otherOrg.rule(schematype.RoundRobin, keep, otherOrg.agents...)
		name := "pwned"
		if _, err := f.engine.UpdateRule(f.as(f.owner), r.ID, distribute.RuleUpdate{Name: &name}); code(err) != "NOT_FOUND" {
			t.Fatalf("updating another organization's rule: %v", err)
		}
		if err := f.engine.DeleteRule(f.as(f.owner), r.ID); code(err) != "NOT_FOUND" {
			t.Fatalf("deleting another organization's rule: %v", err)
		}
	})
}

// asField returns the extensions.field of an API error.
func asField(err error) (string, bool) {
	e, ok := apierr.As(err)
	if !ok || e.Field == "" {
		return "", false
	}
	return e.Field, true
}

func TestVisibility(t *testing.T) {
	f := newFixture(t, 3)
	a := f.agents
	admin := f.user("Quản lý", viewer.RoleAdmin)
	open := f.arrive(f.channel) // before any rule: open to all
	f.presence(online, a[0], a[1])
	f.rule(schematype.Sequential, keep, a[0], a[1])
	offered := f.arrive(f.channel)
	accepted := f.arrive(f.channel)
	if _, err := f.engine.DeclineConversationOffer(f.as(a[0]), accepted.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.AcceptConversationOffer(f.as(a[1]), accepted.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  *ent.User
		want string
	}{
		{a[0], "open offered"},
		{a[1], "open accepted"},
		{a[2], "open"},
		{admin, "open offered accepted"},
		{f.owner, "open offered accepted"},
	} {
		var seen []string
		for _, c := range []struct {
			name string
			id   gid.ID
		}{{"open", open.ID}, {"offered", offered.ID}, {"accepted", accepted.ID}} {
			if f.sees(tc.who, c.id) {
				seen = append(seen, c.name)
			}
		}
		if got := strings.Join(seen, " "); got != tc.want {
			t.Errorf("%s sees %q, want %q", tc.who.Name, got, tc.want)
		}
	}
	// Messages follow their conversation.
	msg := f.client.Message.Create().SetConversationID(accepted.ID).SetChannelID(f.channel.ID).SetDirection("INBOUND").
		SetText("alo").SetStatus("RECEIVED").SetSenderType("CUSTOMER").SaveX(f.sys())
	for who, want := range map[*ent.User]bool{a[0]: false, a[1]: true, admin: true} {
		if got := f.client.Message.Query().Where(message.ID(msg.ID)).ExistX(f.as(who)); got != want {
			t.Errorf("%s sees the message: %v", who.Name, got)
		}
	}
	// An agent outside the rule cannot take it or learn anything about it.
	if _, err := f.engine.AcceptConversationOffer(f.as(a[2]), offered.ID); code(err) != "NOT_FOUND" {
		t.Fatalf("an outsider accepting: %v", err)
	}
}

// TestTimeoutsAndAcceptsRace: offers time out while their agent accepts
// them, all at once. Each accept either wins or finds the offer gone, the
// timer worker never fails (no deadlock between its timer row and the
// conversation row), and every conversation ends in one consistent state.
func TestTimeoutsAndAcceptsRace(t *testing.T) {
	const convs = 20
	f := newFixture(t, 2)
	a := f.agents
	f.presence(online, a...)
	f.rule(schematype.Sequential, keep, a...)
	ids := make([]gid.ID, convs)
	for i := range ids {
		ids[i] = f.arrive(f.channel).ID
	}
	f.clock.Advance(time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, convs)
	for i, id := range ids {
		wg.Go(func() { _, errs[i] = f.engine.AcceptConversationOffer(f.as(a[0]), id) })
	}
	var ran int
	var runErr error
	wg.Go(func() { ran, runErr = f.timers.RunDue(context.Background()) })
	wg.Wait()
	if runErr != nil {
		t.Fatalf("RunDue: %v", runErr)
	}
	accepted := 0
	for i, err := range errs {
		switch code(err) {
		case "":
			accepted++
			if s := f.state(ids[i]); s != "ASSIGNED Agent 1" {
				t.Errorf("an accepted conversation is %s", s)
			}
		case "FAILED_PRECONDITION OFFER_NOT_YOURS":
			if s := f.state(ids[i]); s != "OFFERED Agent 2" {
				t.Errorf("a conversation whose offer expired first is %s", s)
			}
		default:
			t.Errorf("accept %d: %v", i, err)
		}
	}
	failed, err := f.client.Timer.Query().Where(enttimer.AttemptsGT(0)).Count(f.sys())
	if err != nil {
		t.Fatal(err)
	}
	if failed != 0 || ran+accepted != convs {
		t.Fatalf("%d timers failed; %d ran and %d accepts won, for %d conversations", failed, ran, accepted, convs)
	}
}
