// Package event is dakenh's real-time backbone: a durable, per-organization,
// ordered event log (the Event table), written in the same transaction as the
// change it reports, and its live fan-out to subscribers.
//
// Three pieces cooperate:
//
//   - Append (AppendAll for several) writes events in the caller's
//     transaction, numbered by the organization's event_seq counter in the
//     statement that bumps it, and after the commit tells the Bus.
//   - A Bus carries tiny notices ("organization X reached seq N"), never
//     event payloads: in process (MemoryBus) for the embedded server, or over
//     PostgreSQL LISTEN/NOTIFY (PostgresBus) so replicas hear each other.
//   - Subscribe returns a Stream that replays the log after a Cursor and then
//     follows it, re-reading the log whenever a notice says there is more.
//
// The log, not the bus, is the source of truth. Notices may be lost (a crash
// between commit and publish, a dropped LISTEN connection) or coalesced; a
// stream only ever uses them as a hint to re-read from its own position, so a
// lost notice delays an event by at most one safety poll and never loses it.
package event

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Topic says what kind of subject an event is about; subscriptions select
// events by topic. It is the ent enum, so the log's column and this API
// cannot drift apart.
type Topic = entevent.Topic

// The topics of the log.
const (
	// TopicMessage events are about one message; they must name its
	// conversation, which decides who may see them.
	TopicMessage Topic = entevent.TopicMESSAGE
	// TopicConversation events are about one conversation, which they must
	// name.
	TopicConversation Topic = entevent.TopicCONVERSATION
	// TopicCall events are about voice calls.
	TopicCall Topic = entevent.TopicCALL
	// TopicZNS events are about ZNS messages: QUEUED, SENT, DELIVERED,
	// FAILED.
	TopicZNS Topic = entevent.TopicZNS
	// TopicChannel events are about a channel.
	//
	// Streams cache who may see each conversation. Whoever changes that
	// must append an event other than a MESSAGE one in the same
	// transaction: naming the conversation (an assignment, an offer) makes
	// streams ask again about it, and naming none (a channel's permission
	// or owner changed) makes them ask again about every conversation.
	TopicChannel Topic = entevent.TopicCHANNEL
	// TopicUser events are about one user of the organization, such as a
	// presence change; they must name the user.
	TopicUser Topic = entevent.TopicUSER
	// TopicLiveTalk events are a LiveTalk chat's live signals (an agent
	// typing), which only the visitor's stream reads (internal/livetalk);
	// they must name the conversation.
	TopicLiveTalk Topic = entevent.TopicLIVETALK
)

// Event types used across topics. Type is free text in the log (at most 40
// characters) so a new kind of event needs no migration; these constants keep
// the common ones spelled alike.
const (
	TypeCreated       = "CREATED"
	TypeUpdated       = "UPDATED"
	TypeOffered       = "OFFERED"
	TypeAssigned      = "ASSIGNED"
	TypeClaimed       = "CLAIMED"
	TypeStatusChanged = "STATUS_CHANGED"
	TypeDisconnected  = "DISCONNECTED"
	// Distribution (internal/distribute).
	TypeOfferExpired    = "OFFER_EXPIRED"
	TypeOfferDeclined   = "OFFER_DECLINED"
	TypeWaiting         = "WAITING"
	TypePresenceChanged = "PRESENCE_CHANGED"
	// Voice calls (internal/call): a CALL event names its call or its
	// call permission. A LiveTalk call's events (internal/livecall) also
	// name its conversation; REJECTED and SIGNAL are theirs.
	TypeRinging             = "RINGING"
	TypeRejected            = "REJECTED"
	TypeSignal              = "SIGNAL"
	TypeAnswered            = "ANSWERED"
	TypeEnded               = "ENDED"
	TypePermissionRequested = "PERMISSION_REQUESTED"
	TypePermissionGranted   = "PERMISSION_GRANTED"
	TypePermissionDenied    = "PERMISSION_DENIED"
	TypePermissionExpired   = "PERMISSION_EXPIRED"
)

// Entry is an event to append: what happened, to which subjects, and
// optionally for whom.
type Entry struct {
	// OrgID is the organization whose log receives the event.
	OrgID gid.ID
	// Topic is the kind of subject.
	Topic Topic
	// Type is what happened, e.g. TypeCreated.
	Type string
	// ChannelID, ConversationID, MessageID and UserID name the subjects;
	// empty ones are stored as NULL.
	ChannelID, ConversationID, MessageID, UserID gid.ID
	// CallID and CallPermissionID name the subject of a CALL event.
	CallID, CallPermissionID gid.ID
	// ZnsMessageID names the subject of a ZNS event.
	ZnsMessageID gid.ID
	// Payload is the data of an event whose subject is not a row (a
	// LiveTalk call's WebRTC signal, internal/livecall), JSON; empty
	// stores none.
	Payload string
	// AudienceUserID, when set, limits the event to that user, e.g. an
	// offer made to one agent; it reaches them even if they cannot see
	// the conversation (any more), so subjects must be loaded for them
	// as the system.
	AudienceUserID gid.ID
}

// publishTimeout bounds the after-commit publish. The commit has already
// succeeded, so a stuck bus must not hold the caller; streams' safety polls
// cover a notice that was not sent.
const publishTimeout = 5 * time.Second

type busKey struct{}

// WithBus returns a context whose Appends publish to bus after they commit.
// The server puts its bus in the base context of requests and workers once,
// so domain code that appends events does not need to carry it around.
func WithBus(ctx context.Context, bus Bus) context.Context {
	return context.WithValue(ctx, busKey{}, bus)
}

// BusFromContext returns the bus WithBus stored, or nil.
func BusFromContext(ctx context.Context) Bus {
	b, _ := ctx.Value(busKey{}).(Bus)
	return b
}

// Append records e in tx as the organization's next event and returns it.
// It is AppendAll of one entry.
func Append(ctx context.Context, tx *ent.Tx, e Entry) (*ent.Event, error) {
	evs, err := AppendAll(ctx, tx, e)
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

// takeSeq takes n numbers of the organization's log in the statement that
// bumps its counter and returns the last of them. The placeholders are
// numbered, which both PostgreSQL and the SQLite driver read. It does not
// touch updated_at: numbering events is not a change of the organization.
const takeSeq = `UPDATE organizations SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq`

// AppendAll records the entries in tx as the organization's next events, in
// their order, and returns them: two statements whatever their number, one
// that takes their sequence numbers and one that inserts them.
//
// Taking the numbers increments the organization's event_seq in tx. That
// UPDATE locks the organization's row until tx ends, so concurrent writers
// queue behind each other and commit in seq order, and a rolled-back
// transaction gives its numbers back. Readers can therefore read "every
// event after seq N" and never see N+2 before N+1, which is what makes
// replay and resume gap-free.
//
// The lock is held until tx ends, so append as late in the transaction as
// the change allows, and append a transaction's events together. After a
// successful commit a Notice of the last one is published on the bus of
// ctx (see WithBus); nothing is published on rollback. Without a bus in
// ctx the events are still durable, and streams find them at their next
// safety poll instead of at once.
//
// Every entry must be of one organization. With none, AppendAll does
// nothing.
func AppendAll(ctx context.Context, tx *ent.Tx, entries ...Entry) ([]*ent.Event, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	orgID := entries[0].OrgID
	for _, e := range entries {
		if err := e.check(ctx); err != nil {
			return nil, err
		}
		if e.OrgID != orgID {
			return nil, errors.New("event: AppendAll needs the events of one organization")
		}
	}
	// The Event policy admits only the system; the tenant filter still
	// confines these writes to orgID.
	sys := viewer.SystemContext(ctx, orgID)
	last, err := nextSeq(sys, tx, orgID, len(entries))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	creates := make([]*ent.EventCreate, len(entries))
	for i, e := range entries {
		creates[i] = tx.Event.Create().
			SetOrganizationID(orgID).
			SetSeq(last - int64(len(entries)-1-i)).
			SetTopic(e.Topic).
			SetType(e.Type).
			SetNillableChannelID(nonEmpty(e.ChannelID)).
			SetNillableConversationID(nonEmpty(e.ConversationID)).
			SetNillableMessageID(nonEmpty(e.MessageID)).
			SetNillableUserID(nonEmpty(e.UserID)).
			SetNillableCallID(nonEmpty(e.CallID)).
			SetNillableCallPermissionID(nonEmpty(e.CallPermissionID)).
			SetNillableZnsMessageID(nonEmpty(e.ZnsMessageID)).
			SetNillableAudienceUserID(nonEmpty(e.AudienceUserID)).
			SetNillablePayload(nonEmptyString(e.Payload)).
			SetCreatedAt(now)
	}
	evs, err := tx.Event.CreateBulk(creates...).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("event: appending %d events (%s %s first): %w", len(entries), entries[0].Topic, entries[0].Type, err)
	}

	// The bus is taken now, not at commit: Commit runs hooks with the
	// context the transaction began with, which may not carry it.
	if bus := BusFromContext(ctx); bus != nil {
		n := Notice{OrgID: orgID, Seq: last}
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(cctx context.Context, tx *ent.Tx) error {
				if err := next.Commit(cctx, tx); err != nil {
					return err
				}
				// The request may end the moment Commit returns; the notice
				// must still go out.
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
				defer cancel()
				// A failed publish is not the caller's failure: the event is
				// committed, and streams' safety polls will find it. The bus
				// logs its own errors.
				_ = bus.Publish(pctx, n)
				return nil
			})
		})
	}
	return evs, nil
}

// check reports what makes e unfit for the log of ctx's viewer.
func (e Entry) check(ctx context.Context) error {
	if e.OrgID == "" {
		return errors.New("event: Append needs an organization")
	}
	if err := entevent.TopicValidator(e.Topic); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if (e.Topic == TopicMessage || e.Topic == TopicConversation || e.Topic == TopicLiveTalk) && e.ConversationID == "" {
		// Without its conversation nobody could tell who may see the event,
		// and it would reach everyone.
		return fmt.Errorf("event: a %s event must name its conversation", e.Topic)
	}
	if e.Topic == TopicUser && e.UserID == "" {
		return errors.New("event: a USER event must name its user")
	}
	if e.Type == "" {
		return errors.New("event: an event needs a type")
	}
	if v := viewer.FromContext(ctx); v != nil && v.OrgID != "" && v.OrgID != e.OrgID {
		return errors.New("event: cannot append to another organization's log")
	}
	return nil
}

// nextSeq adds n to the organization's event counter and returns its new
// value, the last of the n numbers taken.
func nextSeq(ctx context.Context, tx *ent.Tx, orgID gid.ID, n int) (int64, error) {
	rows, err := tx.QueryContext(ctx, takeSeq, n, string(orgID))
	if err != nil {
		return 0, fmt.Errorf("event: taking the next sequence number: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("event: taking the next sequence number: %w", err)
		}
		return 0, fmt.Errorf("event: taking the next sequence number: organization %s not found", orgID)
	}
	var seq int64
	if err := rows.Scan(&seq); err != nil {
		return 0, fmt.Errorf("event: taking the next sequence number: %w", err)
	}
	return seq, rows.Close()
}

// nonEmpty returns a pointer to id, or nil for the empty ID, so optional
// references are stored as NULL rather than "".
func nonEmpty(id gid.ID) *gid.ID {
	if id == "" {
		return nil
	}
	return &id
}

// nonEmptyString returns a pointer to s, or nil for "".
func nonEmptyString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
