package zns

import (
	"context"
	"errors"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// ApplyEvent applies a ZNS webhook of OA ch in tx, the inbox's processing
// transaction, so it commits with the event's processing or not at all:
//   - change_template_status sets the stored template's status (a template
//     not synced yet is left to the next sync, which is brought forward);
//   - change_oa_daily_quota brings the OA's next sync forward to now, since
//     the templates' quotas come with their detail.
//
// Other events are not this package's; it reports whether it handled e.
func (s *Service) ApplyEvent(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) (bool, error) {
	switch e.Name {
	case zalo.EventChangeTemplateStatus:
		status, err := parseStatus(e.Template.NewStatus)
		if err != nil {
			s.log.WarnContext(ctx, "change_template_status with an unknown status ignored", "channel_id", ch.ID, "status", e.Template.NewStatus)
			return true, nil
		}
		n, err := tx.ZnsTemplate.Update().
			Where(znstemplate.ChannelID(ch.ID), znstemplate.TemplateID(e.Template.ID),
				// A later sync already knows better than a late event.
				znstemplate.SyncedAtLTE(at)).
			SetStatus(status).
			SetSyncedAt(at).
			Save(ctx)
		if err != nil || n > 0 {
			return true, err
		}
		exists, err := tx.ZnsTemplate.Query().Where(znstemplate.ChannelID(ch.ID), znstemplate.TemplateID(e.Template.ID)).Exist(ctx)
		if err != nil || exists {
			return true, err
		}
		return true, s.syncSoon(ctx, tx, ch)
	case zalo.EventChangeOADailyQuota:
		return true, s.syncSoon(ctx, tx, ch)
	case zalo.EventUserReceivedMessage:
		if e.Message.TrackingID == "" {
			return false, nil // a chat message's receipt
		}
		return true, s.delivered(ctx, tx, ch, e, at)
	}
	return false, nil
}

// errNotSentYet makes the inbox retry a receipt that overtook the send's
// own outcome: Zalo may confirm delivery before the worker recorded SENT.
var errNotSentYet = errors.New("zns: a delivery receipt arrived before the send was recorded; retrying later")

// delivered applies ZNS's user_received_message: the channel's message
// with that msg_id, or else that tracking_id, becomes DELIVERED at the
// delivery_time. A receipt for a message sent by another system is
// ignored; a repeated one changes nothing.
func (s *Service) delivered(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) error {
	byID := []predicate.ZnsMessage{znsmessage.TrackingID(e.Message.TrackingID)}
	if e.Message.ID != "" {
		byID = append(byID, znsmessage.ProviderMessageID(e.Message.ID))
	}
	m, err := tx.ZnsMessage.Query().
		Where(znsmessage.ChannelID(ch.ID), znsmessage.Or(byID...)).
		Order(znsmessage.ByID()).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch m.Status {
	case znsmessage.StatusQUEUED:
		return errNotSentYet
	case znsmessage.StatusSENT:
	default:
		return nil
	}
	when := at
	if !e.DeliveryTime.IsZero() && !e.DeliveryTime.After(s.now()) {
		when = e.DeliveryTime
	}
	n, err := tx.ZnsMessage.Update().
		Where(znsmessage.ID(m.ID), znsmessage.StatusEQ(znsmessage.StatusSENT)).
		SetStatus(znsmessage.StatusDELIVERED).
		SetDeliveredAt(when).
		Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	if err := s.countCampaign(ctx, tx, m.CampaignID, znsmessage.StatusDELIVERED); err != nil {
		return err
	}
	return appendEvent(ctx, tx, m, EventDelivered)
}

// syncSoon makes ch's periodic sync due now.
func (s *Service) syncSoon(ctx context.Context, tx *ent.Tx, ch *ent.Channel) error {
	return timer.Schedule(ctx, tx, timer.Spec{OrgID: ch.OrganizationID, Kind: timerSync, Key: string(ch.ID), Due: s.now()})
}
