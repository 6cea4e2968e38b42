package livecall

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// ringingFor locks the call and checks that it rings for the user of ctx:
// a call the user cannot see is NOT_FOUND, one that did not ring them
// FORBIDDEN.
func (e *Engine) ringingFor(ctx, sys context.Context, tx *ent.Tx, v *viewer.Viewer, id gid.ID) (*ent.Call, error) {
	c, err := e.lockCall(sys, tx, v.OrgID, id)
	if err != nil {
		return nil, err
	}
	if rang(c, v.UserID) || deref(c.OperatorID) == v.UserID {
		return c, nil
	}
	// Asked as the user, so the Call policy decides what they may see.
	if ok, err := e.client.Call.Query().Where(entcall.ID(id)).Exist(ctx); err != nil || !ok {
		if err == nil {
			err = apierr.New(apierr.NotFound, "no such LiveTalk call")
		}
		return nil, err
	}
	return nil, apierr.New(apierr.Forbidden, "this call is not ringing for you")
}

// signedInUser returns the signed-in user of ctx.
func signedInUser(ctx context.Context) (*viewer.Viewer, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsUser() {
		return nil, apierr.New(apierr.Forbidden, "only the agents a call rings take it")
	}
	return v, nil
}

// Answer is the agent of ctx taking a call ringing for them. The first
// answer wins: the call becomes IN_PROGRESS with them as its operator, in
// the transaction that locks its row, so a later answer finds it taken and
// is CONFLICT. Answering an ended call is FAILED_PRECONDITION with reason
// CALL_ENDED; answering one's own answered call again returns it.
func (e *Engine) Answer(ctx context.Context, id gid.ID) (*ent.Call, error) {
	v, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	var out *ent.Call
	err = e.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		c, err := e.ringingFor(ctx, sys, tx, v, id)
		if err != nil {
			return err
		}
		switch {
		case c.Status == entcall.StatusENDED:
			return apierr.Precondition(ReasonCallEnded, "the call has ended")
		case c.Status == entcall.StatusIN_PROGRESS && deref(c.OperatorID) == v.UserID:
			out = c
			return nil
		case c.Status == entcall.StatusIN_PROGRESS:
			return apierr.New(apierr.Conflict, "another agent answered this call")
		}
		if out, err = tx.Call.UpdateOne(c).
			SetStatus(entcall.StatusIN_PROGRESS).
			SetOperatorID(v.UserID).
			SetAnsweredAt(e.now()).
			Save(sys); err != nil {
			return fmt.Errorf("livecall: answering: %w", err)
		}
		if err := timer.Cancel(sys, tx, v.OrgID, timerRingTimeout, string(id)); err != nil {
			return err
		}
		if err := timer.Schedule(sys, tx, timer.Spec{
			OrgID: v.OrgID, Kind: timerMaxDuration, Key: string(id), Due: out.AnsweredAt.Add(e.cfg.MaxDuration),
		}); err != nil {
			return err
		}
		return announce(sys, tx, out, event.TypeAnswered)
	})
	return unwrap(out, err)
}

// Reject is the agent of ctx declining a call ringing for them: it stops
// ringing for them (a REJECTED event to them), and when nobody else it
// rang is left, it ends REJECTED.
func (e *Engine) Reject(ctx context.Context, id gid.ID) (*ent.Call, error) {
	v, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	var out *ent.Call
	err = e.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		c, err := e.ringingFor(ctx, sys, tx, v, id)
		if err != nil {
			return err
		}
		switch {
		case c.Status == entcall.StatusENDED:
			return apierr.Precondition(ReasonCallEnded, "the call has ended")
		case c.Status == entcall.StatusIN_PROGRESS:
			return apierr.New(apierr.Conflict, "the call was answered; hang up instead")
		case !rang(c, v.UserID):
			out = c // declined already
			return nil
		}
		left := slices.DeleteFunc(slices.Clone(c.RingingUserIds), func(u string) bool { return u == string(v.UserID) })
		if _, err := event.Append(sys, tx, entry(c, event.TypeRejected, v.UserID)); err != nil {
			return err
		}
		if len(left) == 0 {
			out, err = e.end(sys, tx, c, entcall.ResultREJECTED)
			return err
		}
		out, err = tx.Call.UpdateOne(c).SetRingingUserIds(left).Save(sys)
		return err
	})
	return unwrap(out, err)
}

// HangUp is the agent of ctx ending their answered call (ANSWERED, with its
// duration and minutes); on a call still ringing for them it is Reject.
// Hanging up an ended call returns it unchanged.
func (e *Engine) HangUp(ctx context.Context, id gid.ID) (*ent.Call, error) {
	v, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	var out *ent.Call
	ringing := false
	err = e.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		c, err := e.ringingFor(ctx, sys, tx, v, id)
		if err != nil {
			return err
		}
		switch {
		case c.Status == entcall.StatusENDED:
			out = c
			return nil
		case c.Status == entcall.StatusRINGING:
			ringing = true
			return nil
		case deref(c.OperatorID) != v.UserID:
			return apierr.New(apierr.Forbidden, "this call is another agent's")
		}
		out, err = e.end(sys, tx, c, entcall.ResultANSWERED)
		return err
	})
	if ringing {
		return e.Reject(ctx, id)
	}
	return unwrap(out, err)
}

// VisitorHangUp is the visitor of conversationID hanging up their call: an
// answered call ends ANSWERED, one still ringing MISSED, an ended one is
// returned unchanged. The visitor API calls it as Start.
func (e *Engine) VisitorHangUp(ctx context.Context, conversationID, callID gid.ID) (*ent.Call, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	var out *ent.Call
	err = e.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		c, err := e.lockCall(sys, tx, v.OrgID, callID)
		if err != nil {
			return err
		}
		if err := visitorOf(conversationID)(c); err != nil {
			return err
		}
		switch c.Status {
		case entcall.StatusENDED:
			out = c
			return nil
		case entcall.StatusRINGING:
			out, err = e.end(sys, tx, c, entcall.ResultMISSED)
		default:
			out, err = e.end(sys, tx, c, entcall.ResultANSWERED)
		}
		return err
	})
	return unwrap(out, err)
}

// Call returns a call of the visitor of conversationID (for its status,
// result and ICE servers); another conversation's is NOT_FOUND. The visitor
// API calls it as Start.
func (e *Engine) Call(ctx context.Context, conversationID, callID gid.ID) (*ent.Call, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.client.Call.Query().
		Where(entcall.ID(callID), entcall.ConversationID(conversationID)).
		Only(viewer.SystemContext(ctx, v.OrgID))
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "no such LiveTalk call")
	}
	return c, err
}

// ranTooLong is the handler of the maximum duration: a call still in
// progress ends ANSWERED, charged up to now.
func (e *Engine) ranTooLong(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	c, err := e.lockCall(ctx, tx, t.OrganizationID, gid.ID(t.Key))
	if apierr.CodeOf(err) == apierr.NotFound {
		return nil
	}
	if err != nil || c.Status != entcall.StatusIN_PROGRESS {
		return err
	}
	e.log.InfoContext(ctx, "livecall: ending a call that reached its maximum duration", "call", c.ID, "max", e.cfg.MaxDuration)
	_, err = e.end(ctx, tx, c, entcall.ResultANSWERED)
	return err
}

// end ends c, locked in tx, with result: an answered call gets its
// duration, in whole seconds rounded up, and consumes its minutes
// (callminutes.Minutes of that duration), recorded as billed_minutes. Its
// timers go and ENDED is announced.
func (e *Engine) end(ctx context.Context, tx *ent.Tx, c *ent.Call, result entcall.Result) (*ent.Call, error) {
	now := e.now()
	upd := tx.Call.UpdateOne(c).
		SetStatus(entcall.StatusENDED).
		SetResult(result).
		SetEndedAt(now)
	if c.AnsweredAt != nil && result == entcall.ResultANSWERED {
		seconds := int((max(0, now.Sub(*c.AnsweredAt)) + time.Second - 1) / time.Second)
		minutes := callminutes.Minutes(time.Duration(seconds) * time.Second)
		if _, err := e.minutes.Consume(ctx, tx, c.OrganizationID, minutes); err != nil {
			return nil, err
		}
		upd.SetDurationSeconds(seconds).SetBilledMinutes(minutes)
	} else {
		upd.SetDurationSeconds(0)
	}
	out, err := upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("livecall: ending the call: %w", err)
	}
	for _, kind := range []string{timerRingTimeout, timerMaxDuration} {
		if err := timer.Cancel(ctx, tx, c.OrganizationID, kind, string(c.ID)); err != nil {
			return nil, err
		}
	}
	return out, announce(ctx, tx, out, event.TypeEnded)
}

// unwrap detaches a call loaded in a committed transaction from it, so
// that its edges load through the client.
func unwrap(c *ent.Call, err error) (*ent.Call, error) {
	if err != nil || c == nil {
		return nil, err
	}
	return c.Unwrap(), nil
}
