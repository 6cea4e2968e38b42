// Package distribute hands conversations of SHARED channels to agents
// (README.md, "Distribution"): by the rule of their channel, or by the organization's
// default department when the channel is in no rule. Rules and departments
// are two ways to configure the same thing, a pool (an ordered list of
// agents, a method and an offer timeout), and one engine distributes for
// both, with one implementation of each method:
//
//   - ROUND_ROBIN assigns to the pool's ONLINE agents in turn. The turn is a
//     column of the rule or department, read and advanced under its row lock
//     in the transaction that assigns, so concurrent arrivals on any number
//     of replicas take consecutive turns.
//   - SELF_CLAIM leaves the conversation UNCLAIMED; claimConversation is a
//     conditional UPDATE that only one caller can win.
//   - SEQUENTIAL and RANDOM offer it to one ONLINE agent at a time (in list
//     order, or at random), BROADCAST to all of them at once. An offer is an
//     Offer row and a durable timer (internal/timer): the timeout moves the
//     conversation on, surviving restarts and dead replicas. Accepting is a
//     conditional UPDATE; the first accept wins.
//
// A conversation nobody can take (nobody ONLINE, every agent tried) is
// WAITING: its pool's agents can claim it, and it is distributed again,
// oldest first, when an agent of the pool comes ONLINE.
//
// Every change of who may see a conversation appends a CONVERSATION event
// naming it, in the same transaction, so event streams check it again;
// changes of a pool's channels or agents append a CHANNEL event per channel.
package distribute

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// TimerOffer is the kind of the timers that end offers.
const TimerOffer = "distribute.offer"

// Reasons (extensions.reason) of the errors of claims and offers.
const (
	// ReasonAlreadyTaken is the reason of the CONFLICT a claim or an
	// accept gets when another agent took the conversation first.
	ReasonAlreadyTaken = "ALREADY_TAKEN"
	// ReasonOfferNotYours: the conversation is not offered to the caller
	// (any more): the offer expired, was declined or was withdrawn.
	ReasonOfferNotYours = "OFFER_NOT_YOURS"
	// ReasonNotClaimable: the conversation is not waiting to be claimed.
	ReasonNotClaimable = "NOT_CLAIMABLE"
	// ReasonAlreadyAccepted: the caller declined an offer they had already
	// accepted.
	ReasonAlreadyAccepted = "ALREADY_ACCEPTED"
	// ReasonOnlyMeChannel: the conversation's channel is ONLY_ME, so only
	// the user who connected it may have it.
	ReasonOnlyMeChannel = "ONLY_ME_CHANNEL"
)

// Options configures an Engine. The zero value is production.
type Options struct {
	// Now is the clock of offers and presence; nil means time.Now.
	Now func() time.Time
	// Intn picks RANDOM's agent: a number in [0, n). Nil means
	// math/rand/v2.IntN.
	Intn func(n int) int
	// Logger receives what goes wrong in the background; nil discards it.
	Logger *slog.Logger
}

// Engine distributes conversations and runs the API of rules, departments,
// offers, claims and presence.
type Engine struct {
	client *ent.Client
	now    func() time.Time
	intn   func(int) int
	log    *slog.Logger
}

// New returns the engine over client.
func New(client *ent.Client, o Options) *Engine {
	e := &Engine{client: client, now: o.Now, intn: o.Intn, log: o.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.intn == nil {
		e.intn = rand.IntN
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// Register makes w run the engine's timers: offer timeouts.
func (e *Engine) Register(w *timer.Worker) {
	w.Handle(TimerOffer, e.expireOffers)
}

// step is one change made by the engine in a transaction. It works as the
// system of the organization (each operation checks the caller's rights
// itself) and collects the events to append once the changes are made:
// appending locks the organization's event counter until the transaction
// ends.
type step struct {
	e      *Engine
	ctx    context.Context
	tx     *ent.Tx
	org    gid.ID
	now    time.Time
	events []event.Entry
	// admins are the organization's OWNERs and ADMINs, loaded when first
	// needed: they hear of every expired offer.
	admins []gid.ID
}

// newStep starts a step of org's distribution in tx. ctx keeps its values
// (the event bus) but its viewer becomes org's system.
func (e *Engine) newStep(ctx context.Context, tx *ent.Tx, org gid.ID) *step {
	return &step{e: e, ctx: viewer.SystemContext(ctx, org), tx: tx, org: org, now: e.now()}
}

// inTx runs f in a transaction of ctx's viewer, appends the events of the
// step it is given and commits.
func (e *Engine) inTx(ctx context.Context, org gid.ID, f func(s *step) error) error {
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	s := e.newStep(ctx, tx, org)
	if err := f(s); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	return tx.Commit()
}

// emit queues a CONVERSATION event about c, for whoever may see c, or for
// the audience user alone when one is given.
func (s *step) emit(typ string, c *ent.Conversation, audience gid.ID) {
	s.events = append(s.events, event.Entry{
		OrgID: s.org, Topic: event.TopicConversation, Type: typ,
		ChannelID: c.ChannelID, ConversationID: c.ID, AudienceUserID: audience,
	})
}

// emitToAdmins queues an event about c addressed to each OWNER and ADMIN
// but those in except (who got their own).
func (s *step) emitToAdmins(typ string, c *ent.Conversation, except ...gid.ID) error {
	if s.admins == nil {
		ids, err := s.tx.User.Query().
			Where(user.RoleIn(viewer.RoleOwner, viewer.RoleAdmin), user.Active(true)).
			Order(user.ByID()).
			IDs(s.ctx)
		if err != nil {
			return fmt.Errorf("distribute: loading admins: %w", err)
		}
		s.admins = append(ids, "") // non-nil even when empty
	}
	for _, id := range s.admins {
		if id != "" && !slices.Contains(except, id) {
			s.emit(typ, c, id)
		}
	}
	return nil
}

// channelEvent queues a CHANNEL event: streams then check again who sees
// the channel's conversations.
func (s *step) channelEvent(channelID gid.ID) {
	for _, e := range s.events {
		if e.Topic == event.TopicChannel && e.ChannelID == channelID {
			return
		}
	}
	s.events = append(s.events, event.Entry{OrgID: s.org, Topic: event.TopicChannel, Type: event.TypeUpdated, ChannelID: channelID})
}

// flush appends the queued events, together.
func (s *step) flush() error {
	if _, err := event.AppendAll(s.ctx, s.tx, s.events...); err != nil {
		return err
	}
	s.events = nil
	return nil
}

// lockConversation loads a conversation, locking its row on PostgreSQL
// (SQLite transactions already exclude each other), so the step is the
// only one changing its distribution until the transaction ends.
func (s *step) lockConversation(id gid.ID) (*ent.Conversation, error) {
	if err := s.holdOfferTimer(id); err != nil {
		return nil, err
	}
	q := s.tx.Conversation.Query().Where(conversation.ID(id)).Unique(false)
	q.Modify(database.LockRows())
	return q.Only(s.ctx)
}

// holdOfferTimer locks the conversation's offer timer, if any, before the
// step writes the conversation. A timer worker locks the timer first and
// the conversation second; every step that may cancel or replace the timer
// after writing the conversation must take the same order (timer.Hold).
func (s *step) holdOfferTimer(id gid.ID) error {
	return timer.Hold(s.ctx, s.tx, s.org, TimerOffer, string(id))
}
