package call

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/calloperator"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo"
)

// providerResults maps Zalo's status_code of a call that had no talk time
// to its result. Zalo does not publish the codes (docs/providers.md), so
// this table is the one place to correct them; a code missing here is
// MISSED for an inbound call and NO_ANSWER for an outbound one. A call
// with talk time is ANSWERED whatever its code.
var providerResults = map[string]entcall.Result{
	"1": entcall.ResultREJECTED,
	"2": entcall.ResultBUSY,
	"3": entcall.ResultNO_ANSWER,
	"4": entcall.ResultFAILED,
	"5": entcall.ResultCANCELLED,
	"6": entcall.ResultMISSED,
}

// resultOf returns the result of a call of direction that talked for talk
// and ended with Zalo's status code.
func resultOf(dir entcall.Direction, talk time.Duration, code string) entcall.Result {
	if talk > 0 {
		return entcall.ResultANSWERED
	}
	if r, ok := providerResults[strings.TrimSpace(code)]; ok {
		return r
	}
	if dir == entcall.DirectionINBOUND {
		return entcall.ResultMISSED
	}
	return entcall.ResultNO_ANSWER
}

// ApplyCall applies user_call_oa (inbound) or oa_call_user (outbound) of
// OA ch in tx, the inbox's processing transaction; customerID is the
// caller's customer, created by the inbox when the caller was unknown.
// Zalo sends these events when the call ends, so they record the call as
// ENDED with its times, duration (talk time), result and recording:
//
//   - a call_id the OA already has completes that call once: an ENDED
//     call is never changed again, so a retry or a late duplicate changes
//     nothing;
//   - an outbound call is matched to the operator's (or, without an
//     agent, any operator's) newest ticket for that customer that was
//     valid when the call was placed and that no provider event has
//     reported, even when its expiry has since ended it CANCELLED (see
//     ticketOf), else recorded on its own;
//   - an inbound call outside the OA's windows gets the out-of-hours
//     reply; one missed while every operator is in a call (a ticket or a
//     call not ENDED) gets the busy reply.
func (s *Service) ApplyCall(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time, customerID gid.ID) ([]event.Entry, string, error) {
	out, err := s.applyCall(ctx, tx, ch, e, at, customerID)
	return out.events, out.reply, err
}

// callOutcome is what applying a call webhook asks of the inbox: the CALL
// events to append and, for an inbound call, the reply to send the caller
// (the out-of-hours or the busy reply), or "".
type callOutcome struct {
	events []event.Entry
	reply  string
}

func (s *Service) applyCall(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time, customerID gid.ID) (callOutcome, error) {
	var out callOutcome
	d := e.Call
	id := strings.TrimSpace(d.ID)
	if id == "" || len(id) > 200 {
		s.log.WarnContext(ctx, "call event without a usable call_id; ignored", "channel_id", ch.ID, "event", e.Name)
		return out, nil
	}
	dir := entcall.DirectionINBOUND
	if e.Name == zalo.EventOACallUser {
		dir = entcall.DirectionOUTBOUND
	}
	kind := entcall.KindAUDIO
	if strings.EqualFold(d.CallType, "VIDEO") {
		kind = entcall.KindVIDEO
	}
	talk := millis(d.TalkTime)
	total := max(millis(d.Duration), talk)
	started := at.Add(-total)
	if ms := millis(d.InitTime); ms > 0 {
		if t := time.UnixMilli(ms.Milliseconds()); !t.After(at) {
			started = t
		}
	}
	ended := started.Add(total)
	result := resultOf(dir, talk, d.StatusCode)
	var answered *time.Time
	if talk > 0 {
		a := ended.Add(-talk)
		answered = &a
	}
	seconds := int(math.Round(talk.Seconds()))

	existing, err := tx.Call.Query().
		Where(entcall.ChannelID(ch.ID), entcall.ProviderCallID(id)).
		Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return out, err
	}
	if existing != nil && existing.Status == entcall.StatusENDED {
		return out, nil // a retry, or a late duplicate
	}
	operator := gid.ID("")
	if agent := gid.ID(strings.TrimSpace(d.AgentID)); agent != "" {
		if ok, err := tx.User.Query().Where(user.ID(agent)).Exist(ctx); err != nil {
			return out, err
		} else if ok {
			operator = agent
		}
	}
	if existing == nil && dir == entcall.DirectionOUTBOUND {
		if existing, err = ticketOf(ctx, tx, ch.ID, customerID, operator, started); err != nil {
			return out, err
		}
	}

	var c *ent.Call
	if existing != nil {
		upd := tx.Call.UpdateOne(existing).
			SetProviderCallID(id).
			SetKind(kind).
			SetStatus(entcall.StatusENDED).
			SetResult(result).
			SetEndedAt(ended).
			SetDurationSeconds(seconds)
		if answered != nil {
			upd.SetAnsweredAt(*answered)
		}
		if existing.OperatorID == nil && operator != "" {
			upd.SetOperatorID(operator)
		}
		if d.RecordingURL != "" && len(d.RecordingURL) <= 2048 {
			upd.SetRecordingURL(d.RecordingURL)
		}
		if c, err = upd.Save(ctx); err != nil {
			return out, err
		}
	} else {
		create := tx.Call.Create().
			SetChannelID(ch.ID).
			SetCustomerID(customerID).
			SetDirection(dir).
			SetKind(kind).
			SetStatus(entcall.StatusENDED).
			SetResult(result).
			SetProviderCallID(id).
			SetStartedAt(started).
			SetEndedAt(ended).
			SetDurationSeconds(seconds).
			SetNillableAnsweredAt(answered)
		if operator != "" {
			create.SetOperatorID(operator)
		}
		if d.RecordingURL != "" && len(d.RecordingURL) <= 2048 {
			create.SetRecordingURL(d.RecordingURL)
		}
		if c, err = create.Save(ctx); err != nil {
			return out, err
		}
	}
	entry := func(typ string) event.Entry {
		return event.Entry{OrgID: c.OrganizationID, Topic: event.TopicCall, Type: typ, ChannelID: c.ChannelID, CallID: c.ID}
	}
	if existing == nil && dir == entcall.DirectionINBOUND {
		out.events = append(out.events, entry(event.TypeRinging))
	}
	if result == entcall.ResultANSWERED {
		out.events = append(out.events, entry(event.TypeAnswered))
	}
	out.events = append(out.events, entry(event.TypeEnded))

	if dir != entcall.DirectionINBOUND {
		return out, nil
	}
	cs, err := settingsOf(ctx, tx.Client(), ch)
	if err != nil {
		return out, err
	}
	if !Hours(cs).Open(started) {
		out.reply = cs.OutOfHoursReply
		return out, nil
	}
	if result == entcall.ResultANSWERED {
		return out, nil
	}
	busy, err := s.everyOperatorBusy(ctx, tx, ch, c.ID)
	if err != nil {
		return out, err
	}
	if busy {
		out.reply = cs.BusyReply
	}
	return out, nil
}

// ticketOf returns the newest ticket of the OA for the customer (and the
// operator, when known) that a call placed at started was made with: one
// valid at that instant (issued at or before it, expiring at or after it)
// that no provider event has reported yet, or nil. Zalo reports a call
// when it ends, often after the ticket's two minutes, by which time the
// expiry has ended the call CANCELLED; that ending is the ticket's, not
// the provider's, so the event still completes the call rather than
// recording it a second time. A call a provider event ended has its
// provider_call_id and is never matched again.
func ticketOf(ctx context.Context, tx *ent.Tx, channelID, customerID, operator gid.ID, started time.Time) (*ent.Call, error) {
	q := tx.Call.Query().Where(
		entcall.ChannelID(channelID), entcall.CustomerID(customerID),
		entcall.DirectionEQ(entcall.DirectionOUTBOUND),
		entcall.ProviderCallIDIsNil(),
		entcall.StartedAtLTE(started), entcall.TicketExpiresAtGTE(started),
		entcall.Or(
			entcall.StatusEQ(entcall.StatusRINGING),
			entcall.And(entcall.StatusEQ(entcall.StatusENDED), entcall.ResultEQ(entcall.ResultCANCELLED)),
		))
	if operator != "" {
		q.Where(entcall.OperatorID(operator))
	}
	c, err := q.Order(ent.Desc(entcall.FieldStartedAt), ent.Desc(entcall.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return c, err
}

// everyOperatorBusy reports whether the OA has active operators and every
// one of them is in a call other than except: a ticket or a call not
// ENDED.
func (s *Service) everyOperatorBusy(ctx context.Context, tx *ent.Tx, ch *ent.Channel, except gid.ID) (bool, error) {
	ops, err := tx.CallOperator.Query().
		Where(calloperator.ChannelID(ch.ID), calloperator.HasUserWith(user.Active(true))).
		All(ctx)
	if err != nil || len(ops) == 0 {
		return false, err
	}
	for _, op := range ops {
		inCall, err := tx.Call.Query().
			Where(entcall.OperatorID(op.UserID), entcall.StatusNEQ(entcall.StatusENDED), entcall.IDNEQ(except)).
			Exist(ctx)
		if err != nil || !inCall {
			return false, err
		}
	}
	return true, nil
}

// millis reads a duration Zalo sent in milliseconds; a value that is not a
// non-negative number is zero.
func millis(s string) time.Duration {
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n <= 0 || n > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}
