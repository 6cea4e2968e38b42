package livecall

import (
	"context"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
)

// Start is a visitor calling from their conversation. The visitor API calls
// it with a context of the system of the conversation's organization, once
// the visitor's token proved the conversation theirs. Refusals, in this
// order: NOT_FOUND (no such conversation in the organization),
// BAD_USER_INPUT on "kind" or "conversationId" (not a LiveTalk
// conversation), FAILED_PRECONDITION with reason CALLS_DISABLED (the widget
// does not offer that kind), CALL_IN_PROGRESS (the conversation's last call
// still rings or is answered) or NO_CALL_MINUTES.
//
// The call is INBOUND and RINGING, rings the agents the conversation's
// distribution would offer it to (distribute.Ringers) with a RINGING event
// each, and ends NO_ANSWER if nobody answers within the ring timeout. With
// nobody to ring it is recorded ENDED and MISSED at once.
func (e *Engine) Start(ctx context.Context, conversationID gid.ID, kind entcall.Kind) (*ent.Call, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	if entcall.KindValidator(kind) != nil {
		return nil, apierr.BadInput("kind", "a call is AUDIO or VIDEO, not %q", kind)
	}
	var out *ent.Call
	err = e.inTx(ctx, v.OrgID, func(ctx context.Context, tx *ent.Tx) error {
		// The conversation's row lock makes a second call of the same
		// conversation wait for the first to be recorded.
		q := tx.Conversation.Query().Where(conversation.ID(conversationID))
		q.Modify(database.LockRows())
		conv, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "no such conversation")
		}
		if err != nil {
			return err
		}
		ch, err := tx.Channel.Get(ctx, conv.ChannelID)
		if err != nil {
			return err
		}
		if ch.Kind != channel.KindLIVETALK {
			return apierr.BadInput("conversationId", "calls from the widget are for LiveTalk conversations; this one is on a %s channel", ch.Kind)
		}
		if e.kinds != nil {
			ok, err := e.kinds(ctx, ch, kind)
			if err != nil {
				return err
			}
			if !ok {
				return apierr.Precondition(ReasonCallsDisabled, "%s calls are not enabled on this widget", kind)
			}
		}
		open, err := tx.Call.Query().
			Where(entcall.ConversationID(conv.ID), entcall.StatusNEQ(entcall.StatusENDED)).
			Exist(ctx)
		if err != nil {
			return err
		}
		if open {
			return apierr.Precondition(ReasonCallInProgress, "this conversation already has a call")
		}
		if err := e.minutes.RequireMinutes(ctx, tx, v.OrgID); err != nil {
			return err
		}
		ringers, err := distribute.Ringers(ctx, tx, conv, ch)
		if err != nil {
			return err
		}
		ids := make([]string, len(ringers))
		for i, u := range ringers {
			ids[i] = string(u.ID)
		}
		now := e.now()
		create := tx.Call.Create().
			SetChannelID(ch.ID).
			SetCustomerID(conv.CustomerID).
			SetConversationID(conv.ID).
			SetDirection(entcall.DirectionINBOUND).
			SetKind(kind).
			SetStartedAt(now).
			SetRingingUserIds(ids)
		if len(ids) == 0 {
			create.SetStatus(entcall.StatusENDED).SetResult(entcall.ResultMISSED).
				SetEndedAt(now).SetDurationSeconds(0)
		}
		if out, err = create.Save(ctx); err != nil {
			return fmt.Errorf("livecall: recording the call: %w", err)
		}
		if len(ids) == 0 {
			return announce(ctx, tx, out, event.TypeEnded)
		}
		if err := timer.Schedule(ctx, tx, timer.Spec{
			OrgID: v.OrgID, Kind: timerRingTimeout, Key: string(out.ID), Due: now.Add(e.cfg.RingTimeout),
		}); err != nil {
			return err
		}
		return announce(ctx, tx, out, event.TypeRinging)
	})
	return unwrap(out, err)
}

// ringTimedOut is the handler of the ring timeout: a call still RINGING
// ends NO_ANSWER.
func (e *Engine) ringTimedOut(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	c, err := e.lockCall(ctx, tx, t.OrganizationID, gid.ID(t.Key))
	if apierr.CodeOf(err) == apierr.NotFound {
		return nil
	}
	if err != nil || c.Status != entcall.StatusRINGING {
		return err
	}
	_, err = e.end(ctx, tx, c, entcall.ResultNO_ANSWER)
	return err
}
