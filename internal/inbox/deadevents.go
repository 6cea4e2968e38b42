package inbox

// Webhook events that failed MaxEventAttempts times are parked, not
// retried forever: admins see them with why they failed and replay them
// once the cause is fixed.

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// MaxDeadEventsPage is the most dead events one DeadEvents call returns.
const MaxDeadEventsPage = 100

// DeadEvents returns the viewer's organization's parked webhook events,
// most recently parked first, at most first (1 to MaxDeadEventsPage), of
// one channel when channelID is set. Admins only. Webhook events belong to
// no one's inbox, so they are read as the system, within the viewer's
// organization.
func (s *Service) DeadEvents(ctx context.Context, channelID *gid.ID, first int) ([]*ent.WebhookEvent, error) {
	v, err := policy.RequireAdmin(ctx, "see failed webhook events")
	if err != nil {
		return nil, err
	}
	if first < 1 || first > MaxDeadEventsPage {
		return nil, apierr.BadInput("first", "first must be between 1 and %d", MaxDeadEventsPage)
	}
	q := s.client.WebhookEvent.Query().
		Where(webhookevent.OrganizationID(v.OrgID), webhookevent.DeadAtNotNil())
	if channelID != nil {
		q.Where(webhookevent.ChannelID(*channelID))
	}
	return q.Order(ent.Desc(webhookevent.FieldDeadAt), ent.Desc(webhookevent.FieldID)).
		Limit(first).
		All(viewer.SystemContext(ctx, v.OrgID))
}

// ReplayEvent puts a parked webhook event back in the processor's queue,
// due at once (no next attempt time) with its attempts counted from zero, and returns it. Its last
// error stays until an attempt succeeds or fails anew. An event that is
// not parked, or is another organization's, is NOT_FOUND. Admins only.
func (s *Service) ReplayEvent(ctx context.Context, id gid.ID) (*ent.WebhookEvent, error) {
	v, err := policy.RequireAdmin(ctx, "replay webhook events")
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx, v.OrgID)
	n, err := s.client.WebhookEvent.Update().
		Where(webhookevent.ID(id), webhookevent.OrganizationID(v.OrgID), webhookevent.DeadAtNotNil()).
		ClearDeadAt().
		SetAttempts(0).
		ClearNextAttemptAt().
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apierr.New(apierr.NotFound, "failed webhook event not found")
	}
	return s.client.WebhookEvent.Get(sys, id)
}
