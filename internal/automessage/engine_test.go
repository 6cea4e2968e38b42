package automessage_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/ent/channel"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/automessage"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// engineEnv is an organization with a SHARED Zalo OA, an inbox whose
// Automation is the engine, and a timer worker, all on one test clock.
type engineEnv struct {
	t      *testing.T
	client *ent.Client
	clock  *clocktest.Clock
	inbox  *inbox.Service
	engine *automessage.Engine
	timers *timer.Worker
	*org
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	db := dbtest.Open(t)
	box, err := secret.New([]byte("engine-test-secret-engine-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	// Whole seconds: both databases store times exactly at this precision.
	c := clocktest.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	e := &engineEnv{t: t, client: db.Client, clock: c, org: newOrg(t, db.Client, "Hoa Lan")}
	e.inbox = inbox.New(db.Client, box, inbox.Options{Now: c.Now})
	e.timers = timer.NewWorker(db.Client, nil, c.Now)
	e.engine = automessage.New(e.inbox, automessage.Options{Now: c.Now})
	e.inbox.Automate(e.engine)
	e.engine.Register(e.timers)
	e.ch = e.client.Channel.UpdateOne(e.ch).SetChatPermission(channel.ChatPermissionSHARED).SaveX(e.sys())
	return e
}

func (e *engineEnv) sys() context.Context { return viewer.SystemContext(context.Background(), e.id) }

// configure creates an auto-message on the channel as the OWNER.
func (e *engineEnv) configure(in automessage.CreateInput) *ent.AutoMessage {
	e.t.Helper()
	in.ChannelID = e.ch.ID
	a, err := automessage.Create(e.as(e.owner), e.client, in)
	if err != nil {
		e.t.Fatalf("creating %s: %v", in.Kind, err)
	}
	return a
}

// setPresence sets a user's presence, as setPresence would.
func (e *engineEnv) setPresence(u *ent.User, p user.Presence) {
	e.client.User.UpdateOne(u).SetPresence(p).ExecX(e.sys())
}

// newConversation opens a conversation of a new customer on the channel
// with their first message, as the inbox does for an inbound message.
func (e *engineEnv) newConversation() *ent.Conversation {
	e.t.Helper()
	cus := e.client.Customer.Create().SetName("Khách " + string(gid.New("Customer"))[4:10]).SaveX(e.sys())
	conv := e.client.Conversation.Create().SetChannelID(e.ch.ID).SetCustomerID(cus.ID).SaveX(e.sys())
	e.customerWrites(conv, true)
	return conv
}

// customerWrites stores a customer's message in conv and calls the
// engine in the same transaction, as the inbox's intake does.
func (e *engineEnv) customerWrites(conv *ent.Conversation, opened bool) {
	e.t.Helper()
	ctx := e.sys()
	tx, err := e.client.Tx(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	tx.Message.Create().SetConversationID(conv.ID).SetChannelID(e.ch.ID).SetDirection(message.DirectionINBOUND).
		SetText("Cho em hỏi").SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).SaveX(ctx)
	ch := tx.Channel.GetX(ctx, e.ch.ID)
	queued, err := e.engine.CustomerWrote(ctx, tx, ch, conv, opened, e.clock.Now())
	if err != nil {
		e.t.Fatalf("CustomerWrote: %v", err)
	}
	for _, entry := range queued {
		if _, err := event.Append(ctx, tx, entry); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

// reply sends an agent's reply through sendMessage.
func (e *engineEnv) reply(conv *ent.Conversation) {
	e.t.Helper()
	if _, err := e.inbox.SendMessage(e.as(e.owner), inbox.SendMessageInput{ConversationID: conv.ID, Text: "Dạ em nghe ạ"}); err != nil {
		e.t.Fatalf("sendMessage: %v", err)
	}
}

// advance moves the clock by d and runs the timers that came due.
func (e *engineEnv) advance(d time.Duration) {
	e.t.Helper()
	e.clock.Advance(d)
	for range 10 {
		n, err := e.timers.RunDue(context.Background())
		if err != nil {
			e.t.Fatalf("RunDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// sent returns the texts of the SYSTEM messages queued in conv (the
// replies of these tests are from users), oldest first, checking each is
// QUEUED with its MESSAGE CREATED event.
func (e *engineEnv) sent(conv *ent.Conversation) []string {
	e.t.Helper()
	msgs := e.client.Message.Query().
		Where(message.ConversationID(conv.ID), message.SenderTypeEQ(message.SenderTypeSYSTEM)).
		Order(message.ByID()).AllX(e.sys())
	texts := []string{}
	for _, m := range msgs {
		if m.Status != message.StatusQUEUED || m.Direction != message.DirectionOUTBOUND || m.SenderUserID != nil {
			e.t.Errorf("auto-message %q is %s %s from %v", m.Text, m.Direction, m.Status, m.SenderUserID)
		}
		// The log's policy admits nobody; the test reads it directly.
		logged := e.client.Event.Query().
			Where(entevent.MessageID(m.ID), entevent.TopicEQ(entevent.TopicMESSAGE), entevent.Type(event.TypeCreated)).
			ExistX(privacy.DecisionContext(e.sys(), privacy.Allow))
		if !logged {
			e.t.Errorf("auto-message %q has no MESSAGE CREATED event", m.Text)
		}
		texts = append(texts, m.Text)
	}
	return texts
}

// expect fails unless the auto-messages queued in conv are want.
func (e *engineEnv) expect(conv *ent.Conversation, when string, want ...string) {
	e.t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := e.sent(conv); !slices.Equal(got, want) {
		e.t.Fatalf("%s: auto-messages %q, want %q", when, got, want)
	}
}

// pendingTimers counts the organization's timers.
func (e *engineEnv) pendingTimers() int {
	return e.client.Timer.Query().CountX(e.sys())
}

// pendingFor returns the kinds of conv's pending timers.
func (e *engineEnv) pendingFor(conv *ent.Conversation) []string {
	kinds := e.client.Timer.Query().Where(enttimer.Key(string(conv.ID))).Order(enttimer.ByKind()).
		Select(enttimer.FieldKind).StringsX(e.sys())
	return append([]string{}, kinds...)
}

func TestStartSendsContentsInOrderAtTheirInterval(t *testing.T) {
	e := newEngineEnv(t)
	start := e.configure(automessage.CreateInput{Kind: entautomessage.KindSTART, Contents: []string{"Một", "Hai", "Ba"},
		DelaySeconds: ptr(30), IntervalSeconds: ptr(60)})
	conv := e.newConversation()

	e.advance(0)
	e.expect(conv, "at once")
	e.advance(29 * time.Second)
	e.expect(conv, "after 29 s")
	e.advance(time.Second)
	e.expect(conv, "after the delay", "Một")
	e.customerWrites(conv, false) // a later message starts nothing new
	e.advance(59 * time.Second)
	e.expect(conv, "59 s later", "Một")
	e.advance(time.Second)
	e.expect(conv, "after one interval", "Một", "Hai")
	e.advance(60 * time.Second)
	e.expect(conv, "after two intervals", "Một", "Hai", "Ba")
	e.advance(time.Hour)
	e.expect(conv, "an hour later", "Một", "Hai", "Ba")
	if n := e.pendingTimers(); n != 0 {
		t.Fatalf("%d timers left after the sequence", n)
	}
	for _, m := range e.client.Message.Query().Where(message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionOUTBOUND)).AllX(e.sys()) {
		if m.AutoMessageID == nil || *m.AutoMessageID != start.ID {
			t.Errorf("message %q names auto-message %v, want %s", m.Text, m.AutoMessageID, start.ID)
		}
	}
}

func TestStartWithoutDelaysSendsOnePerRound(t *testing.T) {
	e := newEngineEnv(t)
	e.configure(automessage.CreateInput{Kind: entautomessage.KindSTART, Contents: []string{"Một", "Hai"}})
	conv := e.newConversation()
	e.advance(0)
	e.expect(conv, "at once", "Một", "Hai")
}

func TestStartStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(e *engineEnv, a *ent.AutoMessage, conv *ent.Conversation)
	}{
		{"WhenDeleted", func(e *engineEnv, a *ent.AutoMessage, _ *ent.Conversation) {
			e.client.AutoMessage.DeleteOne(a).ExecX(e.as(e.owner))
		}},
		{"WhenDisabled", func(e *engineEnv, a *ent.AutoMessage, _ *ent.Conversation) {
			if _, err := automessage.Update(e.as(e.owner), e.client, a.ID, automessage.UpdateInput{Enabled: ptr(false)}); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"WhenShortened", func(e *engineEnv, a *ent.AutoMessage, _ *ent.Conversation) {
			if _, err := automessage.Update(e.as(e.owner), e.client, a.ID, automessage.UpdateInput{Contents: []string{"Một"}}); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"WhenResolved", func(e *engineEnv, _ *ent.AutoMessage, conv *ent.Conversation) {
			if _, err := e.inbox.SetConversationStatus(e.as(e.owner), conv.ID, "RESOLVED"); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"WhenTheChannelIsDisconnected", func(e *engineEnv, _ *ent.AutoMessage, _ *ent.Conversation) {
			if _, err := e.inbox.DisconnectChannel(e.as(e.owner), e.ch.ID); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngineEnv(t)
			a := e.configure(automessage.CreateInput{Kind: entautomessage.KindSTART, Contents: []string{"Một", "Hai"},
				IntervalSeconds: ptr(60)})
			conv := e.newConversation()
			e.advance(0)
			e.expect(conv, "first", "Một")
			tc.stop(e, a, conv)
			e.advance(time.Minute)
			e.expect(conv, "after stopping", "Một")
			if n := e.pendingTimers(); n != 0 {
				t.Fatalf("%d timers left", n)
			}
		})
	}
}

func TestGreetingResentAsTheFirstMessage(t *testing.T) {
	e := newEngineEnv(t)
	e.configure(automessage.CreateInput{Kind: entautomessage.KindGREETING, Path: ptr("/"), Contents: []string{"Không gửi lại"}, DelaySeconds: ptr(5)})
	e.configure(automessage.CreateInput{Kind: entautomessage.KindGREETING, Path: ptr("/sale"), Contents: []string{"Chào mừng"},
		ResendAsMessage: ptr(true)})
	e.configure(automessage.CreateInput{Kind: entautomessage.KindGREETING, Path: ptr("/later"), Contents: []string{"Cũng gửi lại"},
		ResendAsMessage: ptr(true)})
	e.configure(automessage.CreateInput{Kind: entautomessage.KindSTART, Contents: []string{"Bắt đầu"}})
	conv := e.newConversation()
	e.expect(conv, "with the first message", "Chào mừng")
	e.customerWrites(conv, false)
	e.advance(0)
	e.expect(conv, "after START", "Chào mừng", "Bắt đầu")
}

func TestNoReply(t *testing.T) {
	e := newEngineEnv(t)
	e.configure(automessage.CreateInput{Kind: entautomessage.KindNO_REPLY, Contents: []string{"Chờ chút ạ", "Sắp xong ạ"},
		DelaySeconds: ptr(60), IntervalSeconds: ptr(30)})
	e.configure(automessage.CreateInput{Kind: entautomessage.KindOFFLINE, Contents: []string{"Offline"}, DelaySeconds: ptr(60)})
	e.setPresence(e.agent, user.PresenceONLINE)

	t.Run("SentWhenNobodyAnswers", func(t *testing.T) {
		e.t = t
		conv := e.newConversation()
		e.advance(30 * time.Second)
		e.customerWrites(conv, false) // timed from the first unanswered message
		e.advance(29 * time.Second)
		e.expect(conv, "after 59 s")
		e.advance(time.Second)
		e.expect(conv, "after 60 s", "Chờ chút ạ")
		e.advance(30 * time.Second)
		e.expect(conv, "after the interval", "Chờ chút ạ", "Sắp xong ạ")
		e.customerWrites(conv, false)
		e.advance(10 * time.Minute)
		e.expect(conv, "once per run of customer messages", "Chờ chút ạ", "Sắp xong ạ")

		e.reply(conv)
		e.customerWrites(conv, false)
		e.advance(time.Minute)
		e.expect(conv, "after a reply, the next run", "Chờ chút ạ", "Sắp xong ạ", "Chờ chút ạ")
	})
	t.Run("CancelledByAReply", func(t *testing.T) {
		e.t = t
		conv := e.newConversation()
		e.advance(59 * time.Second)
		if got := e.pendingFor(conv); !slices.Equal(got, []string{automessage.TimerNoReply}) {
			t.Fatalf("pending before the reply: %q", got)
		}
		e.reply(conv)
		if got := e.pendingFor(conv); len(got) != 0 {
			t.Fatalf("pending after the reply: %q", got)
		}
		e.advance(time.Hour)
		e.expect(conv, "after the reply")
	})
	t.Run("ReplyStopsTheRestOfTheSequence", func(t *testing.T) {
		e.t = t
		conv := e.newConversation()
		e.advance(time.Minute)
		e.expect(conv, "first", "Chờ chút ạ")
		e.reply(conv)
		if got := e.pendingFor(conv); len(got) != 0 {
			t.Fatalf("pending after the reply: %q", got)
		}
		e.advance(time.Hour)
		e.expect(conv, "after the reply", "Chờ chút ạ")
	})
	t.Run("NotSentWhenEveryoneWentOffline", func(t *testing.T) {
		e.t = t
		conv := e.newConversation()
		e.setPresence(e.agent, user.PresenceAWAY)
		e.advance(time.Hour)
		e.expect(conv, "nobody online")
		e.setPresence(e.agent, user.PresenceONLINE)
	})
	if n := e.pendingTimers(); n != 0 {
		t.Fatalf("%d timers left", n)
	}
}

func TestOffline(t *testing.T) {
	e := newEngineEnv(t)
	e.configure(automessage.CreateInput{Kind: entautomessage.KindOFFLINE, Contents: []string{"Shop đang nghỉ ạ"}, DelaySeconds: ptr(120)})
	e.configure(automessage.CreateInput{Kind: entautomessage.KindNO_REPLY, Contents: []string{"Chờ chút ạ"}, DelaySeconds: ptr(60)})

	t.Run("SentWhenNobodyIsOnline", func(t *testing.T) {
		e.t = t
		e.setPresence(e.agent, user.PresenceAWAY)
		conv := e.newConversation()
		e.advance(119 * time.Second)
		e.expect(conv, "after 119 s")
		e.advance(time.Second)
		e.expect(conv, "after 120 s", "Shop đang nghỉ ạ")
		e.customerWrites(conv, false)
		e.advance(time.Hour)
		e.expect(conv, "once per run of customer messages", "Shop đang nghỉ ạ")
	})
	t.Run("NotSentWhenSomeoneCameOnline", func(t *testing.T) {
		e.t = t
		e.setPresence(e.agent, user.PresenceOFFLINE)
		conv := e.newConversation()
		e.advance(time.Minute)
		e.setPresence(e.agent, user.PresenceONLINE)
		e.advance(time.Hour)
		e.expect(conv, "an agent came online")
	})
	t.Run("NotScheduledWhileSomeoneIsOnline", func(t *testing.T) {
		e.t = t
		e.setPresence(e.agent, user.PresenceONLINE)
		conv := e.newConversation()
		e.advance(time.Hour)
		e.expect(conv, "an agent is online: NO_REPLY instead", "Chờ chút ạ")
	})
	t.Run("OnlyMeChannelCountsOnlyItsOwner", func(t *testing.T) {
		e.t = t
		e.client.Channel.UpdateOne(e.ch).SetChatPermission(channel.ChatPermissionONLY_ME).ExecX(e.sys())
		e.setPresence(e.agent, user.PresenceONLINE) // not the owner, who connected the channel
		e.setPresence(e.owner, user.PresenceOFFLINE)
		conv := e.newConversation()
		e.advance(2 * time.Minute)
		e.expect(conv, "the owner is offline", "Shop đang nghỉ ạ")

		e.setPresence(e.owner, user.PresenceONLINE)
		conv = e.newConversation()
		e.advance(2 * time.Minute)
		e.expect(conv, "the owner is online", "Chờ chút ạ")
	})
	t.Run("DeactivatedUsersAreNotOnline", func(t *testing.T) {
		e.t = t
		e.client.Channel.UpdateOne(e.ch).SetChatPermission(channel.ChatPermissionSHARED).ExecX(e.sys())
		e.setPresence(e.owner, user.PresenceOFFLINE)
		e.client.User.UpdateOne(e.agent).SetPresence(user.PresenceONLINE).SetActive(false).ExecX(e.sys())
		conv := e.newConversation()
		e.advance(2 * time.Minute)
		e.expect(conv, "only a deactivated user is online", "Shop đang nghỉ ạ")
	})
	t.Run("RuleCountsOnlyItsAgents", func(t *testing.T) {
		e.t = t
		e.client.User.UpdateOne(e.agent).SetActive(true).SetPresence(user.PresenceONLINE).ExecX(e.sys())
		e.setPresence(e.owner, user.PresenceOFFLINE)
		r := e.client.Rule.Create().SetName("Nhóm chủ shop").SetMethod(schematype.SelfClaim).SaveX(e.sys())
		e.client.Member.Create().SetRuleID(r.ID).SetUserID(e.owner.ID).SetPosition(0).ExecX(e.sys())
		e.ch = e.client.Channel.UpdateOne(e.ch).SetRuleID(r.ID).SaveX(e.sys())
		conv := e.newConversation()
		e.advance(2 * time.Minute)
		e.expect(conv, "only an agent outside the rule is online", "Shop đang nghỉ ạ")

		e.setPresence(e.owner, user.PresenceONLINE)
		conv = e.newConversation()
		e.advance(2 * time.Minute)
		e.expect(conv, "the rule's agent is online", "Chờ chút ạ")
	})
}

// TestTwoReplicasSendEachStepOnce runs a START sequence with two replicas'
// timer workers racing for every step: each content is queued once, in
// order.
func TestTwoReplicasSendEachStepOnce(t *testing.T) {
	e := newEngineEnv(t)
	other := timer.NewWorker(e.client, nil, e.clock.Now)
	automessage.New(e.inbox, automessage.Options{Now: e.clock.Now}).Register(other)
	e.configure(automessage.CreateInput{Kind: entautomessage.KindSTART, Contents: []string{"1", "2", "3", "4", "5"},
		IntervalSeconds: ptr(10)})
	conv := e.newConversation()
	for range 6 {
		var wg sync.WaitGroup
		for _, w := range []*timer.Worker{e.timers, other} {
			wg.Go(func() {
				if _, err := w.RunDue(context.Background()); err != nil {
					t.Errorf("RunDue: %v", err)
				}
			})
		}
		wg.Wait()
		e.clock.Advance(10 * time.Second)
	}
	e.expect(conv, "after the race", "1", "2", "3", "4", "5")
}
