package automessage

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/predicate"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The timer kinds of the auto-messages. A timer runs one step of an
// auto-message's sequence in one conversation: it queues one content and
// schedules the next step. Keyed by the conversation, a sequence is one
// timer at any time, so a reply stops the rest of a NO_REPLY or OFFLINE
// sequence with one Cancel.
const (
	TimerStart   = "automessage.start"
	TimerNoReply = "automessage.no_reply"
	TimerOffline = "automessage.offline"
)

// timerKinds maps the kinds sent by timers to their timer kinds.
var timerKinds = map[entautomessage.Kind]string{
	entautomessage.KindSTART:    TimerStart,
	entautomessage.KindNO_REPLY: TimerNoReply,
	entautomessage.KindOFFLINE:  TimerOffline,
}

// Options configures an Engine. The zero value is production.
type Options struct {
	// Now is the clock of the steps after the first. Nil means time.Now;
	// tests pass the clock of their timer worker.
	Now func() time.Time
	// Logger receives the auto-messages that were skipped and why (IDs
	// only). Nil discards them.
	Logger *slog.Logger
}

// Engine sends the auto-messages. As the inbox's Automation it reacts to
// customers' messages and to replies inside the inbox's transactions; its
// timer handlers (Register) send what is due. Every message goes through
// the inbox's delivery queue from the SYSTEM, so it is delivered with the
// retries of an agent's reply.
type Engine struct {
	inbox *inbox.Service
	now   func() time.Time
	log   *slog.Logger
	memo  enabledMemo
}

var _ inbox.Automation = (*Engine)(nil)

// New returns the engine that queues its messages in in. Call
// in.Automate(engine) and engine.Register(worker) before serving.
func New(in *inbox.Service, opts Options) *Engine {
	e := &Engine{inbox: in, now: opts.Now, log: opts.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// Register makes w run the auto-messages' timers.
func (e *Engine) Register(w *timer.Worker) {
	for kind, timerKind := range timerKinds {
		w.Handle(timerKind, func(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
			return e.step(ctx, tx, t, kind)
		})
	}
}

// CustomerWrote implements inbox.Automation. When the message opened the
// conversation, the channel's first GREETING with resendAsMessage is queued
// at once and its START sequence is scheduled. Then NO_REPLY is scheduled
// if agents are online, OFFLINE if not, unless it is already pending or
// was sent since the last reply: a customer who writes five times before
// anyone answers gets it once, timed from the first message.
func (e *Engine) CustomerWrote(ctx context.Context, tx *ent.Tx, ch *ent.Channel, conv *ent.Conversation, opened bool, now time.Time) ([]event.Entry, error) {
	autos, err := e.enabled(ctx, tx, ch.ID)
	if err != nil || len(autos) == 0 {
		return nil, err
	}
	withChannel := *conv
	withChannel.Edges.Channel = ch
	conv = &withChannel

	var queued []event.Entry
	if opened {
		// Which page the customer came from is the widget's to know; a
		// channel with several resent greetings sends its first.
		if g := first(autos, func(a *ent.AutoMessage) bool {
			return a.Kind == entautomessage.KindGREETING && a.ResendAsMessage
		}); g != nil {
			entry, ok, err := e.queue(ctx, tx, conv, g, 0, now)
			if err != nil {
				return nil, err
			}
			if ok {
				queued = append(queued, entry)
			}
		}
		if s := ofKind(autos, entautomessage.KindSTART); s != nil {
			if err := schedule(ctx, tx, conv, s, 0, now.Add(seconds(s.DelaySeconds))); err != nil {
				return nil, err
			}
		}
	}

	noReply, offline := ofKind(autos, entautomessage.KindNO_REPLY), ofKind(autos, entautomessage.KindOFFLINE)
	if noReply == nil && offline == nil {
		return queued, nil
	}
	online, err := agentsOnline(ctx, tx, ch)
	if err != nil {
		return nil, err
	}
	a := offline
	if online {
		a = noReply
	}
	if a == nil {
		return queued, nil
	}
	due, err := unscheduled(ctx, tx, conv, a)
	if err != nil || !due {
		return queued, err
	}
	return queued, schedule(ctx, tx, conv, a, 0, now.Add(seconds(a.DelaySeconds)))
}

// Replied implements inbox.Automation: a reply cancels the conversation's
// pending NO_REPLY and OFFLINE steps.
func (e *Engine) Replied(ctx context.Context, tx *ent.Tx, conv *ent.Conversation) error {
	for _, kind := range []string{TimerNoReply, TimerOffline} {
		if err := timer.Cancel(ctx, tx, conv.OrganizationID, kind, string(conv.ID)); err != nil {
			return err
		}
	}
	return nil
}

// unscheduled reports whether NO_REPLY or OFFLINE a is neither pending in
// conv nor already sent since its last reply.
func unscheduled(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, a *ent.AutoMessage) (bool, error) {
	// A timer a worker is running right now still counts as pending (its
	// deletion is not committed), which keeps this transaction from
	// writing a row the worker holds: see inbox.Automation.
	pending, err := tx.Timer.Query().
		Where(
			enttimer.OrganizationID(conv.OrganizationID),
			enttimer.Kind(timerKinds[a.Kind]),
			enttimer.Key(string(conv.ID)),
		).
		Exist(viewer.SystemContext(ctx, conv.OrganizationID))
	if err != nil || pending {
		return false, err
	}
	sent, err := sinceLastReply(ctx, tx, conv.ID, message.HasAutoMessageWith(entautomessage.KindEQ(a.Kind)))
	return !sent, err
}

// step runs a due timer of an auto-message of kind: it queues the content
// the timer names and schedules the next one. A step whose auto-message
// was deleted, disabled or shortened, whose conversation was resolved, or
// whose condition no longer holds does nothing and ends the sequence.
func (e *Engine) step(ctx context.Context, tx *ent.Tx, t *ent.Timer, kind entautomessage.Kind) error {
	autoID, n, err := parseStep(t.Payload)
	if err != nil {
		// Retrying cannot mend a payload: log it and drop the timer.
		e.log.ErrorContext(ctx, "auto-message timer with a bad payload dropped", "timer", t.ID, "err", err)
		return nil
	}
	a, err := tx.AutoMessage.Query().Where(entautomessage.ID(autoID), entautomessage.KindEQ(kind)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !a.Enabled || n >= len(a.Contents) {
		return nil
	}
	conv, err := tx.Conversation.Query().Where(conversation.ID(gid.ID(t.Key))).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if conv.Status == conversation.StatusRESOLVED {
		return nil
	}
	if kind != entautomessage.KindSTART {
		ok, err := unattended(ctx, tx, conv, kind)
		if err != nil || !ok {
			return err
		}
	}
	now := e.now()
	entry, ok, err := e.queue(ctx, tx, conv, a, n, now)
	if err != nil || !ok {
		return err
	}
	if n+1 < len(a.Contents) {
		if err := schedule(ctx, tx, conv, a, n+1, now.Add(seconds(a.IntervalSeconds))); err != nil {
			return err
		}
	}
	// Last: Append holds the organization's event counter until the
	// commit.
	_, err = event.Append(ctx, tx, entry)
	return err
}

// unattended reports whether a NO_REPLY or OFFLINE step is still due in
// conv: the customer wrote since the last reply (a reply racing this step
// cancels it, but may commit between the claim and now), and agents are
// online for NO_REPLY, nobody for OFFLINE.
func unattended(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, kind entautomessage.Kind) (bool, error) {
	waiting, err := sinceLastReply(ctx, tx, conv.ID, message.DirectionEQ(message.DirectionINBOUND))
	if err != nil || !waiting {
		return false, err
	}
	online, err := agentsOnline(ctx, tx, conv.Edges.Channel)
	if err != nil {
		return false, err
	}
	return online == (kind == entautomessage.KindNO_REPLY), nil
}

// sinceLastReply reports whether conv has a message matching p after its
// latest reply, an outbound message no auto-message sent. IDs are ULIDs,
// so "after" is a greater ID; with no reply yet, every message counts.
func sinceLastReply(ctx context.Context, tx *ent.Tx, convID gid.ID, p predicate.Message) (bool, error) {
	reply, err := tx.Message.Query().
		Where(
			message.ConversationID(convID),
			message.DirectionEQ(message.DirectionOUTBOUND),
			message.AutoMessageIDIsNil(),
		).
		Order(message.ByID(sql.OrderDesc())).
		FirstID(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return false, err
	}
	q := tx.Message.Query().Where(message.ConversationID(convID), p)
	if reply != "" {
		q.Where(message.IDGT(reply))
	}
	return q.Exist(ctx)
}

// queue queues content n of a in conv as a SYSTEM message. ok is false
// when the channel cannot send it (disconnected, or a kind with no
// outbound provider yet): the auto-message is skipped, since retrying
// would not change that.
func (e *Engine) queue(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, a *ent.AutoMessage, n int, now time.Time) (event.Entry, bool, error) {
	_, entry, err := e.inbox.QueueMessage(ctx, tx, conv, inbox.Outgoing{
		Kind: message.KindTEXT, Text: a.Contents[n], AutoMessageID: a.ID,
	}, now)
	if refused, ok := apierr.As(err); ok && refused.Code == apierr.FailedPrecondition {
		e.log.InfoContext(ctx, "auto-message skipped: the channel cannot send it",
			"auto_message", a.ID, "conversation", conv.ID, "reason", refused.Reason)
		return event.Entry{}, false, nil
	}
	return entry, err == nil, err
}

// schedule schedules step n of a in conv at due.
func schedule(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, a *ent.AutoMessage, n int, due time.Time) error {
	return timer.Schedule(ctx, tx, timer.Spec{
		OrgID:   conv.OrganizationID,
		Kind:    timerKinds[a.Kind],
		Key:     string(conv.ID),
		Due:     due,
		Payload: map[string]any{payloadAutoMessage: string(a.ID), payloadStep: n},
	})
}

// The payload keys of the timers.
const (
	payloadAutoMessage = "autoMessageId"
	payloadStep        = "step"
)

// parseStep reads a timer's payload: the auto-message and the index of the
// content to send.
func parseStep(p map[string]any) (gid.ID, int, error) {
	id, _ := p[payloadAutoMessage].(string)
	// JSON brings numbers back as float64.
	n, ok := p[payloadStep].(float64)
	if id == "" || !ok || n < 0 || n != float64(int(n)) {
		return "", 0, fmt.Errorf("automessage: bad timer payload %v", p)
	}
	return gid.ID(id), int(n), nil
}

// first returns the first auto-message that ok accepts, or nil.
func first(autos []*ent.AutoMessage, ok func(*ent.AutoMessage) bool) *ent.AutoMessage {
	for _, a := range autos {
		if ok(a) {
			return a
		}
	}
	return nil
}

// ofKind returns the auto-message of kind, of which a channel has at most
// one (except GREETING), or nil.
func ofKind(autos []*ent.AutoMessage, kind entautomessage.Kind) *ent.AutoMessage {
	return first(autos, func(a *ent.AutoMessage) bool { return a.Kind == kind })
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }
