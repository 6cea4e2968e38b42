package zns

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent"
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
	}
	return false, nil
}

// syncSoon makes ch's periodic sync due now.
func (s *Service) syncSoon(ctx context.Context, tx *ent.Tx, ch *ent.Channel) error {
	return timer.Schedule(ctx, tx, timer.Spec{OrgID: ch.OrganizationID, Kind: timerSync, Key: string(ch.ID), Due: s.now()})
}
