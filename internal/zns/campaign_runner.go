package zns

// The campaign runner: a durable timer per RUNNING campaign that queues its
// pending recipients in batches. Each batch creates the recipients'
// messages in the timer's transaction, the one that marks them QUEUED, so a
// crash rolls both back and a retry or a resume finds them pending again:
// nobody is queued twice, and the channel's unique trackingIds hold even
// against a bug. A run holds its template's row, so runners of one
// template on any replica queue one after the other and never past its
// remaining quota together. The counts follow the messages in the
// transactions that change them (countCampaign).

import (
	"context"
	"errors"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znscampaignrecipient"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
)

// Campaign pacing.
const (
	// CampaignBatch is the most recipients one run of the timer queues.
	CampaignBatch = 200
	// campaignInFlightWait is how soon the runner looks again when the
	// template's quota is taken by messages still queued: their answers
	// tell how much is left.
	campaignInFlightWait = 2 * time.Second
	// campaignRecheck is how often a campaign waiting for its template,
	// its OA or a quota that did not come back at the reset looks again.
	campaignRecheck = 15 * time.Minute
	// timerCampaign is the runner's timer kind, keyed by campaign.
	timerCampaign = "zns.campaign"
)

// runCampaign is one run of a campaign's timer, in its transaction: it
// queues the next batch, as many as the template's remaining quota allows
// beyond the messages still queued, and schedules the next run, or waits
// (waitingFor) for the quota's reset, the end of quiet hours, or a
// template or OA that can send again. A campaign no longer RUNNING stops
// here; resuming schedules it again.
func (s *Service) runCampaign(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	c, err := tx.ZnsCampaign.Query().
		Where(znscampaign.ID(gid.ID(t.Key))).
		WithChannel().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil || c.Status != znscampaign.StatusRUNNING {
		return err
	}
	// The template's row is locked for the rest of the run: the runners
	// of its campaigns, on any replica, read its remaining quota and the
	// messages in flight one after the other, each seeing what the
	// previous one queued, so together they never queue past the quota.
	// (SQLite's transactions are serial already.)
	sel := tx.ZnsTemplate.Query().Where(znstemplate.ID(c.TemplateID))
	sel.Modify(database.LockRows())
	tpl, err := sel.Only(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	ch := c.Edges.Channel
	wait := func(why znscampaign.WaitingFor, until time.Time) error {
		if err := tx.ZnsCampaign.UpdateOneID(c.ID).SetWaitingFor(why).Exec(ctx); err != nil {
			return err
		}
		return s.scheduleCampaign(ctx, tx, c.OrganizationID, c.ID, until)
	}
	switch {
	case ch.Status != channel.StatusCONNECTED:
		return wait(znscampaign.WaitingForCHANNEL, now.Add(campaignRecheck))
	case tpl.Status != znstemplate.StatusENABLE:
		return wait(znscampaign.WaitingForTEMPLATE, now.Add(campaignRecheck))
	case tpl.Tag == tagPromotion && InQuietHours(now):
		return wait(znscampaign.WaitingForQUIET_HOURS, QuietHoursEnd(now))
	case tpl.RemainingQuota <= 0:
		// The OA's sync at the reset brings the new quota; the campaign
		// looks a minute later, and every campaignRecheck in case a
		// webhook or a manual sync brings it sooner.
		reset := nextQuotaReset(now)
		if err := s.syncBy(ctx, tx, ch.OrganizationID, ch.ID, reset); err != nil {
			return err
		}
		return wait(znscampaign.WaitingForQUOTA, minTime(reset.Add(time.Minute), now.Add(campaignRecheck)))
	}
	inFlight, err := tx.ZnsMessage.Query().
		Where(znsmessage.TemplateID(tpl.ID), znsmessage.StatusEQ(znsmessage.StatusQUEUED)).
		Count(ctx)
	if err != nil {
		return err
	}
	budget := min(CampaignBatch, tpl.RemainingQuota-inFlight)
	if budget <= 0 {
		if c.WaitingFor != nil {
			if err := tx.ZnsCampaign.UpdateOneID(c.ID).ClearWaitingFor().Exec(ctx); err != nil {
				return err
			}
		}
		return s.scheduleCampaign(ctx, tx, c.OrganizationID, c.ID, now.Add(campaignInFlightWait))
	}
	batch, err := tx.ZnsCampaignRecipient.Query().
		Where(znscampaignrecipient.CampaignID(c.ID), znscampaignrecipient.StatusEQ(znscampaignrecipient.StatusPENDING)).
		Order(znscampaignrecipient.ByID()).
		Limit(budget + 1). // one more tells whether another run is needed
		All(ctx)
	if err != nil {
		return err
	}
	more := len(batch) > budget
	if more {
		batch = batch[:budget]
	}
	creates := make([]*ent.ZnsMessageCreate, len(batch))
	ids := make([]gid.ID, len(batch))
	for i, r := range batch {
		ids[i] = gid.New("ZnsMessage")
		creates[i] = tx.ZnsMessage.Create().
			SetID(ids[i]).
			SetOrganizationID(c.OrganizationID).
			SetChannelID(ch.ID).
			SetTemplateID(tpl.ID).
			SetNillableCustomerID(r.CustomerID).
			SetCampaignID(c.ID).
			SetPhone(r.Phone).
			SetParams(r.Params).
			SetTrackingID(r.TrackingID).
			SetDevelopment(ch.IsTesting).
			SetNextAttemptAt(now)
	}
	msgs, err := tx.ZnsMessage.CreateBulk(creates...).Save(ctx)
	if err != nil {
		return err
	}
	for i, r := range batch {
		n, err := tx.ZnsCampaignRecipient.Update().
			Where(znscampaignrecipient.ID(r.ID), znscampaignrecipient.StatusEQ(znscampaignrecipient.StatusPENDING)).
			SetStatus(znscampaignrecipient.StatusQUEUED).
			SetMessageID(ids[i]).
			Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return errRecipientTaken
		}
	}
	upd := tx.ZnsCampaign.UpdateOneID(c.ID).AddQueued(len(batch)).ClearWaitingFor()
	if err := upd.Exec(ctx); err != nil {
		return err
	}
	if more {
		if err := s.scheduleCampaign(ctx, tx, c.OrganizationID, c.ID, now); err != nil {
			return err
		}
	}
	entries := make([]event.Entry, len(msgs))
	for i, m := range msgs {
		entries[i] = event.Entry{OrgID: m.OrganizationID, Topic: event.TopicZNS, Type: EventQueued, ChannelID: m.ChannelID, ZnsMessageID: m.ID}
	}
	if _, err := event.AppendAll(ctx, tx, entries...); err != nil {
		return err
	}
	if len(msgs) > 0 {
		s.worker.NudgeOnCommit(tx)
	}
	return nil
}

// errRecipientTaken rolls back a batch whose recipient another run queued
// meanwhile; the timer's retry takes the next pending ones.
var errRecipientTaken = errors.New("zns: a campaign recipient was queued by another run; retrying")

// syncBy makes OA chID's template sync due at due unless one is due
// sooner.
func (s *Service) syncBy(ctx context.Context, tx *ent.Tx, orgID, chID gid.ID, due time.Time) error {
	sooner, err := tx.Timer.Query().
		Where(enttimer.Kind(timerSync), enttimer.Key(string(chID)), enttimer.DueAtLTE(due)).
		Exist(ctx)
	if err != nil || sooner {
		return err
	}
	return timer.Schedule(ctx, tx, timer.Spec{OrgID: orgID, Kind: timerSync, Key: string(chID), Due: due})
}

// countCampaign adds a status change of one of campaign id's messages to
// its counts, in tx, the transaction of the change, and ends a RUNNING
// campaign whose every recipient is skipped, sent or failed: DONE. A
// message of no campaign (id nil) changes nothing.
func (s *Service) countCampaign(ctx context.Context, tx *ent.Tx, id *gid.ID, to znsmessage.Status) error {
	if id == nil {
		return nil
	}
	upd := tx.ZnsCampaign.UpdateOneID(*id)
	switch to {
	case znsmessage.StatusSENT:
		upd.AddSent(1)
	case znsmessage.StatusFAILED:
		upd.AddFailed(1)
	case znsmessage.StatusDELIVERED:
		upd.AddDelivered(1)
	default:
		return nil
	}
	c, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil || c.Status != znscampaign.StatusRUNNING || c.Skipped+c.Sent+c.Failed < c.Total {
		return err
	}
	return tx.ZnsCampaign.Update().
		Where(znscampaign.ID(c.ID), znscampaign.StatusEQ(znscampaign.StatusRUNNING)).
		SetStatus(znscampaign.StatusDONE).
		SetFinishedAt(s.now()).
		ClearWaitingFor().
		Exec(ctx)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
