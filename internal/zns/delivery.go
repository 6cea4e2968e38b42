package zns

// The ZNS message table as a delivery queue (internal/delivery): the
// worker sends QUEUED messages to Zalo with retries on 5xx, timeouts and
// ZNS's "unknown error", the same leases and fencing as chat replies.
// Zalo's send takes the message's tracking_id, so a send repeated after a
// crash carries the same key.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// RunDelivery sends queued ZNS messages until ctx is cancelled (see
// delivery.Worker.Run).
func (s *Service) RunDelivery(ctx context.Context) { s.worker.Run(ctx) }

// DeliverDue claims the due ZNS messages, up to one batch, sends them and
// records each outcome; it returns how many it claimed.
func (s *Service) DeliverDue(ctx context.Context) (int, error) { return s.worker.DeliverDue(ctx) }

// sent is what an accepted send hands to its outcome.
type sent struct {
	msgID string
	at    time.Time
	// price is the template's price when it was sent: the message's cost.
	price int
	// quota is the template's quota in Zalo's answer; Daily 0 when none.
	quota      zalo.ZNSQuota
	templateID gid.ID
	// exhausted marks a refusal for the template's daily limit: its
	// remaining quota is 0.
	exhausted bool
	// campaignID is the message's campaign, nil for none: a campaign's
	// message waits for the quota's reset rather than failing when
	// exhausted.
	campaignID *gid.ID
}

// znsQueue is the ZNS message table as a delivery.Queue.
type znsQueue struct{ s *Service }

// Claim leases up to limit due messages, at most maxInFlight of a channel.
func (q znsQueue) Claim(ctx context.Context, now, leaseUntil time.Time, limit, maxInFlight int) ([]delivery.Claim, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := q.s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	due := []predicate.ZnsMessage{
		znsmessage.StatusEQ(znsmessage.StatusQUEUED),
		znsmessage.NextAttemptAtLTE(now),
		znsmessage.Or(znsmessage.LeaseUntilIsNil(), znsmessage.LeaseUntilLTE(now)),
	}
	var leased []struct {
		ChannelID gid.ID `json:"channel_id"`
		Count     int    `json:"count"`
	}
	if err := tx.ZnsMessage.Query().
		Where(znsmessage.StatusEQ(znsmessage.StatusQUEUED), znsmessage.LeaseUntilGT(now)).
		GroupBy(znsmessage.FieldChannelID).
		Aggregate(ent.Count()).
		Scan(sys, &leased); err != nil {
		return nil, fmt.Errorf("zns: counting deliveries in flight: %w", err)
	}
	inFlight := make(map[gid.ID]int, len(leased))
	for _, l := range leased {
		inFlight[l.ChannelID] = l.Count
	}
	budget := delivery.NewBudget(maxInFlight, inFlight)
	sel := tx.ZnsMessage.Query().
		Where(due...).
		Where(znsmessage.ChannelIDNotIn(budget.Full()...)).
		Order(znsmessage.ByNextAttemptAt(), znsmessage.ByID()).
		Limit(limit)
	sel.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	rows, err := sel.All(sys)
	if err != nil {
		return nil, fmt.Errorf("zns: selecting due messages: %w", err)
	}
	out := make([]delivery.Claim, 0, len(rows))
	for _, m := range rows {
		if !budget.Take(m.ChannelID) {
			continue
		}
		n, err := tx.ZnsMessage.Update().
			Where(znsmessage.ID(m.ID), znsmessage.Attempts(m.Attempts)).
			Where(due...).
			SetLeaseUntil(leaseUntil).
			SetAttempts(m.Attempts + 1).
			Save(sys)
		if err != nil {
			return nil, fmt.Errorf("zns: leasing message %s: %w", m.ID, err)
		}
		if n == 1 {
			out = append(out, delivery.Claim{ID: m.ID, OrgID: m.OrganizationID, Attempts: m.Attempts + 1})
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// Renew extends c's lease if the message is still queued with c's attempts.
func (q znsQueue) Renew(ctx context.Context, c delivery.Claim, leaseUntil time.Time) (bool, error) {
	n, err := q.s.client.ZnsMessage.Update().
		Where(znsmessage.ID(c.ID), znsmessage.StatusEQ(znsmessage.StatusQUEUED), znsmessage.Attempts(c.Attempts)).
		SetLeaseUntil(leaseUntil).
		Save(viewer.SystemContext(ctx, c.OrgID))
	return n == 1, err
}

// Attempt sends the message once.
func (q znsQueue) Attempt(ctx context.Context, c delivery.Claim) (sent, delivery.Outcome) {
	ctx = viewer.SystemContext(ctx, c.OrgID)
	m, err := q.s.client.ZnsMessage.Query().Where(znsmessage.ID(c.ID)).WithChannel().WithTemplate().Only(ctx)
	if err != nil {
		return sent{}, delivery.Retry("The message could not be loaded.", err)
	}
	ch, tpl := m.Edges.Channel, m.Edges.Template
	res := sent{price: tpl.Price, templateID: tpl.ID, campaignID: m.CampaignID}
	if ch.Status != channel.StatusCONNECTED {
		return res, delivery.Failed("The OA is disconnected; reconnect it and send the message again.", nil)
	}
	var ans zalo.ZNSSent
	err = zalo.WithToken(ctx, q.s.tokens, ch.ID, func(token string) error {
		var err error
		ans, err = q.s.zalo.SendZNS(ctx, token, zalo.ZNSSend{
			Phone: phone.Digits(m.Phone), TemplateID: tpl.TemplateID, Data: m.Params,
			TrackingID: m.TrackingID, Development: m.Development,
		})
		return err
	})
	if err == nil {
		res.msgID, res.at, res.quota = ans.MsgID, ans.SentTime, ans.Quota
		return res, delivery.Sent()
	}
	var te zalo.TokenError
	if errors.As(err, &te) {
		if cur, lerr := q.s.client.Channel.Get(ctx, ch.ID); lerr == nil && cur.Status != channel.StatusCONNECTED {
			return res, delivery.Failed("The OA's authorization has expired and it was disconnected; reconnect the OA and send the message again.", err)
		}
		return res, delivery.Retry("The OA's access token could not be refreshed for the moment.", err)
	}
	o := sendOutcome(err)
	var api *zalo.APIError
	if errors.As(err, &api) && api.Code == zalo.CodeZNSTemplateDailyLimit {
		res.exhausted = true
	}
	return res, o
}

// sendOutcome turns a failed send into the message's outcome.
func sendOutcome(err error) delivery.Outcome {
	var api *zalo.APIError
	if errors.As(err, &api) {
		if reason, ok := zalo.TemplateFailureReason(api.Code); ok {
			return delivery.Failed(reason, err)
		}
		if api.Transient() {
			return delivery.Retry("Zalo is temporarily unavailable.", err)
		}
		return delivery.Failed(fmt.Sprintf("Zalo refused the message (error %d).", api.Code), err)
	}
	if zalo.IsTransient(err) {
		return delivery.Retry("Zalo is temporarily unavailable.", err)
	}
	return delivery.Failed("Zalo did not accept the message.", err)
}

// Record writes the outcome of the attempt c holds in one transaction: the
// message's status, and for an accepted send its cost and the template's
// quota from Zalo's answer. A campaign's message refused for the
// template's daily limit stays QUEUED until a minute after the quota's
// reset, as its campaign waits (campaign_runner.go), instead of failing:
// a campaign paces itself to the quota, and a stale quota must not cost
// it its recipients.
func (q znsQueue) Record(ctx context.Context, c delivery.Claim, v sent, _ delivery.Outcome, r delivery.Result) error {
	sys := viewer.SystemContext(ctx, c.OrgID)
	now := q.s.now()
	deferred := r.State == delivery.StateFailed && v.exhausted && v.campaignID != nil
	if deferred {
		r = delivery.Result{State: delivery.StateQueued, LastError: r.FailureReason, NextAttemptAt: nextQuotaReset(now).Add(time.Minute)}
	}
	tx, err := q.s.client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	upd := tx.ZnsMessage.Update().
		Where(znsmessage.ID(c.ID), znsmessage.StatusEQ(znsmessage.StatusQUEUED), znsmessage.Attempts(c.Attempts)).
		ClearLeaseUntil()
	switch r.State {
	case delivery.StateSent:
		at := v.at
		if at.IsZero() || at.After(now) {
			at = now
		}
		upd.SetStatus(znsmessage.StatusSENT).SetSentAt(at).SetCost(v.price).
			SetProviderMessageID(v.msgID).ClearNextAttemptAt().ClearFailureReason().ClearLastError()
	case delivery.StateQueued:
		upd.SetNextAttemptAt(r.NextAttemptAt).SetLastError(r.LastError)
	default:
		upd.SetStatus(znsmessage.StatusFAILED).SetFailureReason(r.FailureReason).
			SetLastError(r.LastError).ClearNextAttemptAt()
	}
	n, err := upd.Save(sys)
	if err != nil || n == 0 {
		return err // n == 0: the lease was taken over; this outcome is stale
	}
	switch {
	case r.State == delivery.StateSent && v.quota.Daily > 0:
		// Answers of concurrent sends arrive in any order: within a
		// Vietnam day the quota only goes down, so an answer replaces
		// what is stored only when it is lower or the stored one is from
		// an earlier day (before the reset).
		remaining := max(v.quota.Remaining, 0)
		err = tx.ZnsTemplate.Update().
			Where(znstemplate.ID(v.templateID), znstemplate.Or(
				znstemplate.RemainingQuotaGT(remaining),
				znstemplate.UpdatedAtLT(quotaDayStart(now)),
			)).
			SetDailyQuota(v.quota.Daily).SetRemainingQuota(remaining).SetUpdatedAt(now).Exec(sys)
	case v.exhausted:
		err = tx.ZnsTemplate.Update().Where(znstemplate.ID(v.templateID)).SetRemainingQuota(0).Exec(sys)
	}
	if err != nil {
		return err
	}
	if deferred {
		err := tx.ZnsCampaign.Update().
			Where(znscampaign.ID(*v.campaignID), znscampaign.StatusEQ(znscampaign.StatusRUNNING)).
			SetWaitingFor(znscampaign.WaitingForQUOTA).
			Exec(sys)
		if err != nil {
			return err
		}
	}
	// The event comes last: Append takes the organization's event
	// counter, which every writer takes last.
	if typ := map[delivery.State]string{delivery.StateSent: EventSent, delivery.StateFailed: EventFailed}[r.State]; typ != "" {
		m, err := tx.ZnsMessage.Get(sys, c.ID)
		if err != nil {
			return err
		}
		if err := q.s.countCampaign(sys, tx, m.CampaignID, m.Status); err != nil {
			return err
		}
		if err := appendEvent(sys, tx, m, typ); err != nil {
			return err
		}
	}
	return tx.Commit()
}
