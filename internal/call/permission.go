package call

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/callpermission"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// PermissionRequest asks a customer to let the OA call them
// (RequestCallPermissionInput).
type PermissionRequest struct {
	ChannelID  gid.ID
	CustomerID gid.ID
	Reason     callpermission.Reason
	CallType   callpermission.CallType
}

// reasonCodes are Zalo's reason_code of each reason.
var reasonCodes = map[callpermission.Reason]int{
	callpermission.ReasonCONSULTATION:       zalo.ReasonConsultation,
	callpermission.ReasonORDER_CONFIRMATION: zalo.ReasonOrderConfirmation,
	callpermission.ReasonDELIVERY:           zalo.ReasonDelivery,
	callpermission.ReasonFLIGHT:             zalo.ReasonFlight,
	callpermission.ReasonORDER_UPDATE:       zalo.ReasonOrderUpdate,
}

// consentTypes are Zalo's call_type of each call type.
var consentTypes = map[callpermission.CallType]zalo.CallType{
	callpermission.CallTypeAUDIO:           zalo.CallAudio,
	callpermission.CallTypeVIDEO:           zalo.CallVideo,
	callpermission.CallTypeAUDIO_AND_VIDEO: zalo.CallAudioAndVideo,
}

// RequestPermission sends the customer Zalo's call permission request and
// records it as REQUESTED, with its PERMISSION_REQUESTED event. The caller
// must be an operator of the OA (NOT_CALL_OPERATOR); the channel connected
// (CHANNEL_DISCONNECTED); the customer reachable (DO_NOT_CONTACT, NO_PHONE)
// and without a request of the last 24 hours still unanswered
// (PERMISSION_PENDING). A refusal of Zalo is PROVIDER_REFUSED, and nothing
// is recorded then.
//
// The request is sent inside the transaction that records it, under the
// channel's lock: two operators asking at once send one request, and a
// request Zalo refused leaves no trace.
func (s *Service) RequestPermission(ctx context.Context, in PermissionRequest) (*ent.CallPermission, error) {
	v, err := requireViewer(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, in.ChannelID, "input.channelId")
	if err != nil {
		return nil, err
	}
	cust, err := s.client.Customer.Get(ctx, in.CustomerID)
	if err != nil {
		return nil, err
	}
	code, ok := reasonCodes[in.Reason]
	if !ok {
		return nil, apierr.BadInput("input.reason", "unknown reason %q", in.Reason)
	}
	callType, ok := consentTypes[in.CallType]
	if !ok {
		return nil, apierr.BadInput("input.callType", "unknown call type %q", in.CallType)
	}
	if ok, err := isOperator(ctx, s.client, ch.ID, v.UserID); err != nil {
		return nil, err
	} else if !ok {
		return nil, notOperator(ch)
	}
	if ch.Status != channel.StatusCONNECTED {
		return nil, disconnected(ch)
	}
	if cust.DoNotContact {
		return nil, apierr.Precondition(ReasonDoNotContact, "%s is marked do-not-contact", cust.Name)
	}
	if cust.Phone == nil || *cust.Phone == "" {
		return nil, apierr.Precondition(ReasonNoPhone, "%s has no phone number; Zalo asks for call permission by phone", cust.Name)
	}
	req := zalo.ConsentRequest{Phone: phone.Digits(*cust.Phone), CallType: callType, ReasonCode: code}

	var out *ent.CallPermission
	err = zalo.WithToken(ctx, s.tokens, ch.ID, func(token string) error {
		return s.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
			if err := lockChannel(sys, tx, ch.ID); err != nil {
				return err
			}
			now := s.now()
			pending, err := tx.CallPermission.Query().
				Where(callpermission.ChannelID(ch.ID), callpermission.CustomerID(cust.ID),
					callpermission.StatusEQ(callpermission.StatusREQUESTED),
					callpermission.RequestedAtGT(now.Add(-PendingFor))).
				Order(ent.Desc(callpermission.FieldRequestedAt)).
				First(sys)
			switch {
			case err == nil:
				return apierr.Precondition(ReasonPermissionPending,
					"%s was asked at %s and has not answered yet; they have until %s",
					cust.Name, pending.RequestedAt.UTC().Format(time.RFC3339), pending.RequestedAt.Add(PendingFor).UTC().Format(time.RFC3339))
			case !ent.IsNotFound(err):
				return err
			}
			if err := s.zalo.RequestCallConsent(ctx, token, req); err != nil {
				return err
			}
			create := tx.CallPermission.Create().
				SetChannelID(ch.ID).
				SetCustomerID(cust.ID).
				SetPhone(req.Phone).
				SetReason(in.Reason).
				SetCallType(in.CallType).
				SetRequestedAt(now)
			if v.IsUser() {
				create.SetRequestedByID(v.UserID)
			}
			if out, err = create.Save(sys); err != nil {
				return err
			}
			return appendPermissionEvent(sys, tx, out, event.TypePermissionRequested)
		})
	})
	if err != nil {
		return nil, s.providerError(ctx, ch, "the call permission request", err)
	}
	return out.Unwrap(), nil
}

// Permission returns the customer's latest call permission on the OA, or
// nil when they were never asked.
func (s *Service) Permission(ctx context.Context, channelID, customerID gid.ID) (*ent.CallPermission, error) {
	if _, err := requireViewer(ctx); err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, channelID, "channelId")
	if err != nil {
		return nil, err
	}
	cust, err := s.client.Customer.Get(ctx, customerID)
	if err != nil {
		return nil, err
	}
	p, err := s.client.CallPermission.Query().
		Where(callpermission.ChannelID(ch.ID), callpermission.CustomerID(cust.ID)).
		Order(ent.Desc(callpermission.FieldRequestedAt), ent.Desc(callpermission.FieldID)).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return p, err
}

// ApplyConsent applies a call permission webhook of the OA ch in tx, the
// transaction that processes it (the inbox's): oa_send_consent with
// request_type EXPIRED ends a request the customer never answered;
// user_reply_consent ALLOW grants the latest request until Zalo's
// expired_time, or for DefaultGrant when it gives none, and schedules the
// expiry; USER_BLOCKED (or DENY) denies it, or withdraws a grant. The
// webhook names the customer by the phone the request went to. A retry or
// a late event changes nothing more, so events may come in any order.
func (s *Service) ApplyConsent(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) error {
	ph, err := phone.Normalize(e.Consent.Phone)
	if err != nil {
		s.log.WarnContext(ctx, "call permission event without a usable phone; ignored", "channel_id", ch.ID, "event", e.Name)
		return nil
	}
	p, err := tx.CallPermission.Query().
		Where(callpermission.ChannelID(ch.ID), callpermission.Phone(phone.Digits(ph))).
		Order(ent.Desc(callpermission.FieldRequestedAt), ent.Desc(callpermission.FieldID)).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil // not asked through dakenh
	}
	if err != nil {
		return err
	}
	switch e.Name {
	case zalo.EventOASendConsent:
		if !strings.EqualFold(e.Consent.RequestType, "EXPIRED") || p.Status != callpermission.StatusREQUESTED {
			return nil
		}
		p, err = tx.CallPermission.UpdateOne(p).SetStatus(callpermission.StatusEXPIRED).Save(ctx)
		if err != nil {
			return err
		}
		return appendPermissionEvent(ctx, tx, p, event.TypePermissionExpired)
	case zalo.EventUserReplyConsent:
		answered := e.Consent.Confirmed()
		if answered.IsZero() || answered.After(at) {
			answered = at
		}
		switch strings.ToUpper(e.Consent.UserConsent) {
		case "ALLOW":
			return s.grant(ctx, tx, p, answered, e.Consent.Expires())
		case "USER_BLOCKED", "DENY", "DENIED", "REJECT", "REJECTED":
			return s.deny(ctx, tx, p, answered)
		}
	}
	return nil
}

// grant makes p GRANTED from answered until expires (DefaultGrant after
// answered when zero) and schedules its expiry. A repeated grant with the
// same end changes nothing.
func (s *Service) grant(ctx context.Context, tx *ent.Tx, p *ent.CallPermission, answered, expires time.Time) error {
	if p.Status != callpermission.StatusREQUESTED && p.Status != callpermission.StatusGRANTED {
		return nil // denied or expired: a late grant does not revive it
	}
	if expires.IsZero() {
		expires = answered.Add(DefaultGrant)
	}
	if p.Status == callpermission.StatusGRANTED && p.ExpiresAt != nil && p.ExpiresAt.Equal(expires) {
		return nil
	}
	// The expiry timer works on this row: hold it first, in the order a
	// running timer takes its locks.
	if err := timer.Hold(ctx, tx, p.OrganizationID, timerPermissionExpiry, string(p.ID)); err != nil {
		return err
	}
	p, err := tx.CallPermission.UpdateOne(p).
		SetStatus(callpermission.StatusGRANTED).
		SetAnsweredAt(answered).
		SetGrantedAt(answered).
		SetExpiresAt(expires).
		Save(ctx)
	if err != nil {
		return err
	}
	if err := timer.Schedule(ctx, tx, timer.Spec{
		OrgID: p.OrganizationID, Kind: timerPermissionExpiry, Key: string(p.ID), Due: expires,
	}); err != nil {
		return err
	}
	return appendPermissionEvent(ctx, tx, p, event.TypePermissionGranted)
}

// deny makes p DENIED: the customer refused, or blocked the OA's calls
// after granting them.
func (s *Service) deny(ctx context.Context, tx *ent.Tx, p *ent.CallPermission, answered time.Time) error {
	if p.Status != callpermission.StatusREQUESTED && p.Status != callpermission.StatusGRANTED {
		return nil
	}
	if err := timer.Hold(ctx, tx, p.OrganizationID, timerPermissionExpiry, string(p.ID)); err != nil {
		return err
	}
	p, err := tx.CallPermission.UpdateOne(p).
		SetStatus(callpermission.StatusDENIED).
		SetAnsweredAt(answered).
		Save(ctx)
	if err != nil {
		return err
	}
	if err := timer.Cancel(ctx, tx, p.OrganizationID, timerPermissionExpiry, string(p.ID)); err != nil {
		return err
	}
	return appendPermissionEvent(ctx, tx, p, event.TypePermissionDenied)
}

// expirePermission is the handler of the permission expiry timer: a grant
// whose end has come becomes EXPIRED, with its PERMISSION_EXPIRED event.
// A permission denied since, or whose grant was extended, is left alone.
func (s *Service) expirePermission(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	p, err := tx.CallPermission.Get(ctx, gid.ID(t.Key))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Status != callpermission.StatusGRANTED || p.ExpiresAt == nil || p.ExpiresAt.After(s.now()) {
		return nil
	}
	p, err = tx.CallPermission.UpdateOne(p).SetStatus(callpermission.StatusEXPIRED).Save(ctx)
	if err != nil {
		return err
	}
	return appendPermissionEvent(ctx, tx, p, event.TypePermissionExpired)
}

// appendPermissionEvent appends a CALL event about p.
func appendPermissionEvent(ctx context.Context, tx *ent.Tx, p *ent.CallPermission, typ string) error {
	_, err := event.Append(ctx, tx, event.Entry{
		OrgID:            p.OrganizationID,
		Topic:            event.TopicCall,
		Type:             typ,
		ChannelID:        p.ChannelID,
		CallPermissionID: p.ID,
	})
	return err
}

// providerError turns a failure of a Zalo call (what) into the API's
// error; errors of ours (the database) and API errors pass unchanged.
func (s *Service) providerError(ctx context.Context, ch *ent.Channel, what string, err error) error {
	if _, ok := apierr.As(err); ok || err == nil {
		return err
	}
	if _, ok := errors.AsType[zalo.TokenError](err); ok {
		// The token source disconnects a channel whose refresh Zalo
		// rejects; tell the operator so.
		if cur, lerr := s.client.Channel.Get(ctx, ch.ID); lerr == nil && cur.Status != channel.StatusCONNECTED {
			out := disconnected(cur)
			out.Err = err
			return out
		}
	}
	if e, ok := errors.AsType[*zalo.APIError](err); ok && !e.Transient() {
		msg := strings.TrimSuffix(strings.TrimSpace(e.Message), ".")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonProviderRefused, Err: err,
			Message: fmt.Sprintf("Zalo refused %s: %s (error %d)", what, msg, e.Code)}
	}
	if errors.Is(err, zalo.ErrInvalidArgument) {
		return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonProviderRefused, Err: err,
			Message: fmt.Sprintf("Zalo cannot take %s for this customer", what)}
	}
	if zalo.IsTransient(err) || isZaloFailure(err) {
		s.log.WarnContext(ctx, "a Zalo call request failed", "channel_id", ch.ID, "err", err)
		return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonProviderUnavailable, Err: err,
			Message: fmt.Sprintf("Zalo did not take %s for the moment; try again", what)}
	}
	return err
}

// isZaloFailure reports whether err is Zalo's answer or its absence, as
// opposed to an error of ours.
func isZaloFailure(err error) bool {
	_, status := errors.AsType[*zalo.HTTPError](err)
	_, transport := errors.AsType[*zalo.TransportError](err)
	_, malformed := errors.AsType[*zalo.MalformedResponseError](err)
	_, api := errors.AsType[*zalo.APIError](err)
	return status || transport || malformed || api
}

// notOperator is the NOT_CALL_OPERATOR refusal.
func notOperator(ch *ent.Channel) *apierr.Error {
	return apierr.Precondition(ReasonNotCallOperator, "you are not a call operator of %s; an admin adds operators in its call settings", ch.Name)
}

// disconnected is the CHANNEL_DISCONNECTED refusal.
func disconnected(ch *ent.Channel) *apierr.Error {
	return apierr.Precondition(ReasonChannelDisconnected, "%s is disconnected; reconnect the OA first", ch.Name)
}
