// Package livecall is the audio and video calls of LiveTalk visitors
// (README.md, "Call minutes and LiveTalk calls"): a visitor calls from their
// conversation, the call rings the agents the conversation's distribution
// would offer it to (internal/distribute), the first to answer takes it, and
// the server relays the WebRTC signalling (offer, answer, ICE candidates,
// hang-up) between the two over their event streams. Each call is a Call row
// (channel LIVETALK, INBOUND, AUDIO or VIDEO) and an answered one consumes
// the organization's call minutes (internal/callminutes) when it ends.
//
// Every change locks the call's row (after the ring timer's, as timer
// workers do) and appends its CALL events in the same transaction: the
// first answer wins and the others are CONFLICT, a call ends exactly once,
// and so is charged exactly once, whoever ends it and however many try at
// the same time. The ring timeout is a durable timer (internal/timer).
//
// Events of a call (topic CALL, naming the call, its channel and its
// conversation): RINGING, ANSWERED and ENDED are appended once addressed to
// each agent the call rang and once unaddressed (for owners, admins, keys
// and the visitor's stream); REJECTED once, to the agent who declined;
// SIGNAL, with a Signal as JSON payload, addressed to the agent who
// answered. See ForVisitor for what the visitor's stream forwards.
package livecall

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Limits and defaults.
const (
	// DefaultRingTimeout is how long a call rings before it ends
	// NO_ANSWER (DAKENH_CALL_RING_SECONDS).
	DefaultRingTimeout = 45 * time.Second
	// DefaultMaxDuration is how long an answered call may last before the
	// server ends it (DAKENH_CALL_MAX_MINUTES): a call whose two browsers
	// vanished without hanging up ends then, is charged, and frees its
	// conversation for the next call.
	DefaultMaxDuration = 2 * time.Hour
	// MaxSignalBytes bounds a signal's data: an SDP offer with video is a
	// few kilobytes.
	MaxSignalBytes = 16384
	// TurnCredentialLifetime is how long the TURN credentials handed out
	// with a call are valid.
	TurnCredentialLifetime = 6 * time.Hour
)

// Reasons of this package's FAILED_PRECONDITION errors, sent as
// extensions.reason. A call refused for lack of minutes has
// callminutes.ReasonNoCallMinutes.
const (
	// ReasonCallsDisabled: the widget does not offer calls of that kind.
	ReasonCallsDisabled = "CALLS_DISABLED"
	// ReasonCallInProgress: the conversation already has a ringing or
	// answered call.
	ReasonCallInProgress = "CALL_IN_PROGRESS"
	// ReasonCallEnded: the call has ended.
	ReasonCallEnded = "CALL_ENDED"
	// ReasonCallNotAnswered: signals flow only once the call is answered.
	ReasonCallNotAnswered = "CALL_NOT_ANSWERED"
)

// The kinds of this package's durable timers, keyed by the call's ID.
const (
	timerRingTimeout = "livecall.ring_timeout"
	timerMaxDuration = "livecall.max_duration"
)

// KindPolicy reports whether a LiveTalk channel takes calls of kind: its
// widget's enabled functions (audio and video calls are optional). With no
// policy every kind is taken.
type KindPolicy func(ctx context.Context, ch *ent.Channel, kind entcall.Kind) (bool, error)

// Config is the server's configuration of LiveTalk calls.
type Config struct {
	// RingTimeout is how long a call rings (DefaultRingTimeout when 0).
	RingTimeout time.Duration
	// MaxDuration is how long an answered call may last
	// (DefaultMaxDuration when 0).
	MaxDuration time.Duration
	// StunURLs are STUN servers (DAKENH_STUN_URLS), "stun:host:3478".
	StunURLs []string
	// TurnURLs are TURN servers (DAKENH_TURN_URLS), "turn:host:3478".
	TurnURLs []string
	// TurnSecret is the TURN servers' shared secret (DAKENH_TURN_SECRET,
	// coturn's static-auth-secret): each call gets credentials of the
	// TURN REST scheme made with it, valid TurnCredentialLifetime.
	TurnSecret []byte
}

// Options configures New.
type Options struct {
	Config
	// Minutes keeps the call minutes; required.
	Minutes *callminutes.Service
	// Kinds is the widget's enabled functions; nil takes every kind.
	Kinds KindPolicy
	// Now is the clock; tests pass one they move.
	Now    func() time.Time
	Logger *slog.Logger
}

// Engine runs LiveTalk calls over one database.
type Engine struct {
	client  *ent.Client
	cfg     Config
	minutes *callminutes.Service
	kinds   KindPolicy
	now     func() time.Time
	log     *slog.Logger
}

// New returns the engine over client.
func New(client *ent.Client, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = DefaultRingTimeout
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	return &Engine{client: client, cfg: o.Config, minutes: o.Minutes, kinds: o.Kinds, now: o.Now, log: o.Logger}
}

// SetKindPolicy sets the widget's enabled functions (see KindPolicy).
// Call it at start-up, before the engine is used.
func (e *Engine) SetKindPolicy(p KindPolicy) { e.kinds = p }

// Register gives w the handlers of the ring timeout and the maximum
// duration. Call it once at start-up, before w runs.
func (e *Engine) Register(w *timer.Worker) {
	w.Handle(timerRingTimeout, e.ringTimedOut)
	w.Handle(timerMaxDuration, e.ranTooLong)
}

// inTx runs f in a transaction of the system of the organization, rolling
// back on error.
func (e *Engine) inTx(ctx context.Context, orgID gid.ID, f func(ctx context.Context, tx *ent.Tx) error) error {
	sys := viewer.SystemContext(ctx, orgID)
	tx, err := e.client.Tx(sys)
	if err != nil {
		return err
	}
	if err := f(sys, tx); err != nil {
		_ = tx.Rollback() // f's error says what went wrong
		return err
	}
	return tx.Commit()
}

// orgOf returns the organization of ctx's viewer.
func orgOf(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	return v, nil
}

// lockCall holds the call's timers, then locks the call's row, until tx
// ends (the order of the timer worker: see timer.Hold). Another
// organization's call, or a Zalo call, is NOT_FOUND.
func (e *Engine) lockCall(ctx context.Context, tx *ent.Tx, orgID, id gid.ID) (*ent.Call, error) {
	for _, kind := range []string{timerRingTimeout, timerMaxDuration} {
		if err := timer.Hold(ctx, tx, orgID, kind, string(id)); err != nil {
			return nil, err
		}
	}
	q := tx.Call.Query().Where(entcall.ID(id), entcall.ConversationIDNotNil())
	q.Modify(database.LockRows())
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "no such LiveTalk call")
	}
	return c, err
}

// rang reports whether c rang the user.
func rang(c *ent.Call, userID gid.ID) bool {
	return userID != "" && slices.Contains(c.RingingUserIds, string(userID))
}
