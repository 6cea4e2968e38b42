package call

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/callpermission"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// StartCallInput asks for a ticket to call a customer (StartCallInput).
type StartCallInput struct {
	ChannelID  gid.ID
	CustomerID gid.ID
	Kind       entcall.Kind
}

// Ticket is what an operator places a call with: Zalo's link (shown as a
// QR code), valid until ExpiresAt, and the call it opened.
type Ticket struct {
	Call      *ent.Call
	Link      string
	QRCode    string
	ExpiresAt time.Time
}

// StartCall checks that the viewer may call the customer now, asks Zalo
// for a call link and records the call as OUTBOUND and RINGING, with its
// RINGING event and a timer that ends it CANCELLED when the ticket expires
// unused, TicketLifetime later.
//
// The refusals are FAILED_PRECONDITION, checked in this order, with the
// reason in extensions.reason: CALLS_DISABLED, CHANNEL_DISCONNECTED,
// NOT_CALL_OPERATOR, OUTSIDE_CALL_WINDOW (or a closed date) in the OA's
// zone, NO_CALL_PERMISSION (never granted for this kind of call),
// CALL_PERMISSION_EXPIRED; then DO_NOT_CONTACT, NO_ZALO_USER, and Zalo's
// own refusal PROVIDER_REFUSED.
func (s *Service) StartCall(ctx context.Context, in StartCallInput) (*Ticket, error) {
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
	if err := entcall.KindValidator(in.Kind); err != nil {
		return nil, apierr.BadInput("input.kind", "kind must be AUDIO or VIDEO")
	}
	// Settings, operators and identities are read as the system: an
	// operator need not be an admin, and the checks below decide.
	sys := viewer.SystemContext(ctx, v.OrgID)
	cs, err := settingsOf(sys, s.client, ch)
	if err != nil {
		return nil, err
	}
	if !cs.Enabled {
		return nil, apierr.Precondition(ReasonCallsDisabled, "calls are turned off for %s; an admin turns them on in its call settings", ch.Name)
	}
	if ch.Status != channel.StatusCONNECTED {
		return nil, disconnected(ch)
	}
	if ok, err := isOperator(sys, s.client, ch.ID, v.UserID); err != nil {
		return nil, err
	} else if !ok {
		return nil, notOperator(ch)
	}
	now := s.now()
	if hours := Hours(cs); !hours.Open(now) {
		local := now.In(hours.Zone())
		if hours.Zone() == nil {
			local = now
		}
		return nil, apierr.Precondition(ReasonOutsideCallWindow,
			"it is %s (%s) now, outside the call hours of %s", local.Format("Mon 15:04, 2006-01-02"), cs.Timezone, ch.Name)
	}
	perm, err := s.usablePermission(sys, ch, cust, in.Kind, now)
	if err != nil {
		return nil, err
	}
	if cust.DoNotContact {
		return nil, apierr.Precondition(ReasonDoNotContact, "%s is marked do-not-contact", cust.Name)
	}
	idt, err := s.client.Identity.Query().
		Where(identity.ChannelID(ch.ID), identity.CustomerID(cust.ID)).
		Order(ent.Desc(identity.FieldUpdatedAt), ent.Desc(identity.FieldID)).
		First(sys)
	if ent.IsNotFound(err) {
		return nil, apierr.Precondition(ReasonNoZaloUser, "%s has never written to %s, so Zalo knows no user to call", cust.Name, ch.Name)
	}
	if err != nil {
		return nil, err
	}

	callType := zalo.CallAudio
	if in.Kind == entcall.KindVIDEO {
		callType = zalo.CallVideo
	}
	var link zalo.CallLink
	err = zalo.WithToken(ctx, s.tokens, ch.ID, func(token string) error {
		var err error
		link, err = s.zalo.OutboundCallLink(ctx, token, zalo.CallLinkRequest{
			UserID: idt.ExternalID, CallType: callType, AgentID: string(v.UserID),
		})
		return err
	})
	if err != nil {
		return nil, s.providerError(ctx, ch, "the call", err)
	}

	t := &Ticket{Link: link.Link, QRCode: link.QRCode, ExpiresAt: now.Add(TicketLifetime)}
	err = s.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		create := tx.Call.Create().
			SetChannelID(ch.ID).
			SetCustomerID(cust.ID).
			SetDirection(entcall.DirectionOUTBOUND).
			SetKind(in.Kind).
			SetStatus(entcall.StatusRINGING).
			SetStartedAt(now).
			SetTicketLink(link.Link).
			SetTicketQrCode(link.QRCode).
			SetTicketExpiresAt(t.ExpiresAt).
			SetPermissionID(perm.ID)
		if v.IsUser() {
			create.SetOperatorID(v.UserID)
		}
		c, err := create.Save(sys)
		if err != nil {
			return err
		}
		t.Call = c
		if err := timer.Schedule(sys, tx, timer.Spec{
			OrgID: v.OrgID, Kind: timerTicketExpiry, Key: string(c.ID), Due: t.ExpiresAt,
		}); err != nil {
			return err
		}
		return appendCallEvent(sys, tx, c, event.TypeRinging)
	})
	if err != nil {
		return nil, err
	}
	t.Call = t.Call.Unwrap()
	return t, nil
}

// usablePermission returns the customer's grant that allows a call of kind
// now, or the refusal: CALL_PERMISSION_EXPIRED when their latest answer
// was a grant that has ended, NO_CALL_PERMISSION otherwise.
func (s *Service) usablePermission(ctx context.Context, ch *ent.Channel, cust *ent.Customer, kind entcall.Kind, now time.Time) (*ent.CallPermission, error) {
	allowed := []callpermission.CallType{callpermission.CallTypeAUDIO_AND_VIDEO, callpermission.CallTypeAUDIO}
	if kind == entcall.KindVIDEO {
		allowed[1] = callpermission.CallTypeVIDEO
	}
	ofCustomer := s.client.CallPermission.Query().
		Where(callpermission.ChannelID(ch.ID), callpermission.CustomerID(cust.ID))
	p, err := ofCustomer.Clone().
		Where(callpermission.StatusEQ(callpermission.StatusGRANTED), callpermission.ExpiresAtGT(now),
			callpermission.CallTypeIn(allowed...)).
		Order(ent.Desc(callpermission.FieldExpiresAt)).
		First(ctx)
	if err == nil {
		return p, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	// No grant in force. The timer may not have run yet at the very end
	// of a grant: a GRANTED one past its end is expired too.
	last, err := ofCustomer.Clone().
		Where(callpermission.StatusNEQ(callpermission.StatusREQUESTED)).
		Order(ent.Desc(callpermission.FieldRequestedAt), ent.Desc(callpermission.FieldID)).
		First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	ended := last != nil && last.ExpiresAt != nil &&
		(last.Status == callpermission.StatusEXPIRED || last.Status == callpermission.StatusGRANTED && !last.ExpiresAt.After(now))
	if ended {
		return nil, apierr.Precondition(ReasonCallPermissionExpired,
			"%s's permission for calls ended at %s; ask them again", cust.Name, last.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if last != nil && last.Status == callpermission.StatusGRANTED {
		return nil, apierr.Precondition(ReasonNoCallPermission,
			"%s allowed %s calls only; request their permission for %s calls", cust.Name, last.CallType, kind)
	}
	return nil, apierr.Precondition(ReasonNoCallPermission,
		"%s has not allowed %s to call them (%s); request their permission first", cust.Name, ch.Name, kind)
}

// expireTicket is the handler of the ticket expiry timer: a call still
// RINGING that the provider never reported ends CANCELLED, with its
// ENDED event.
func (s *Service) expireTicket(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	c, err := tx.Call.Get(ctx, gid.ID(t.Key))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Status != entcall.StatusRINGING || c.ProviderCallID != nil {
		return nil
	}
	end := s.now()
	if c.TicketExpiresAt != nil && c.TicketExpiresAt.Before(end) {
		end = *c.TicketExpiresAt
	}
	c, err = tx.Call.UpdateOne(c).
		SetStatus(entcall.StatusENDED).
		SetResult(entcall.ResultCANCELLED).
		SetEndedAt(end).
		SetDurationSeconds(0).
		Save(ctx)
	if err != nil {
		return err
	}
	return appendCallEvent(ctx, tx, c, event.TypeEnded)
}

// appendCallEvent appends a CALL event about c.
func appendCallEvent(ctx context.Context, tx *ent.Tx, c *ent.Call, typ string) error {
	_, err := event.Append(ctx, tx, event.Entry{
		OrgID:     c.OrganizationID,
		Topic:     event.TopicCall,
		Type:      typ,
		ChannelID: c.ChannelID,
		CallID:    c.ID,
	})
	return err
}
