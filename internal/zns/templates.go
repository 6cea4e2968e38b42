package zns

import (
	"context"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// maxTemplateDetails bounds how many templates one sync reads the detail
// of: an OA has tens, and the bound keeps a misbehaving list from turning a
// sync into an unbounded crawl.
const maxTemplateDetails = 2000

// Sync pulls every ZNS template of the OA channelID from Zalo, stores them
// and returns the channel's templates, those now DELETE included, ordered
// by Zalo's ID. Only admins and WRITE API keys sync; a channel the viewer
// may not see is NOT_FOUND. Zalo is called before any transaction opens,
// and the rows are written in one.
func (s *Service) Sync(ctx context.Context, channelID gid.ID) ([]*ent.ZnsTemplate, error) {
	if _, err := requireAdmin(ctx, "sync ZNS templates"); err != nil {
		return nil, err
	}
	ch, err := s.channel(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if err := CheckChannel(ch); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx, ch.OrganizationID)
	if err := s.sync(sys, ch); err != nil {
		if cur, lerr := s.client.Channel.Get(sys, ch.ID); lerr == nil && cur.Status != channel.StatusCONNECTED {
			return nil, apierr.Precondition(ReasonChannelDisconnected, "the OA was disconnected: %s", cur.StatusReason)
		}
		return nil, providerError("list the OA's ZNS templates", err)
	}
	return s.client.ZnsTemplate.Query().
		Where(znstemplate.ChannelID(ch.ID)).
		Order(znstemplate.ByTemplateID()).
		All(ctx)
}

// CheckChannel refuses what is not a connected Zalo OA: ZNS and OA
// messages are sent from those only.
func CheckChannel(ch *ent.Channel) error {
	if ch.Kind != channel.KindZALO_OA {
		return apierr.Precondition(ReasonChannelUnsupported, "ZNS is sent from Zalo OAs; this channel is %s", ch.Kind)
	}
	if ch.Status != channel.StatusCONNECTED {
		return apierr.Precondition(ReasonChannelDisconnected, "the OA is disconnected; reconnect it first")
	}
	return nil
}

// sync reads ch's templates from Zalo and stores them, as the system.
func (s *Service) sync(ctx context.Context, ch *ent.Channel) error {
	var details []zalo.ZNSTemplate
	err := zalo.WithToken(ctx, s.tokens, ch.ID, func(token string) error {
		list, err := s.zalo.AllZNSTemplates(ctx, token)
		if err != nil {
			return err
		}
		if len(list) > maxTemplateDetails {
			return fmt.Errorf("zns: Zalo listed %d templates, more than the %d a sync reads", len(list), maxTemplateDetails)
		}
		details = details[:0]
		for _, it := range list {
			d, err := s.zalo.ZNSTemplateDetail(ctx, token, it.ID)
			if err != nil {
				return err
			}
			if d.Quality == "" {
				d.Quality = it.Quality
			}
			details = append(details, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.store(ctx, ch, details, s.now())
}

// store writes the templates Zalo listed for ch, and marks DELETE the
// stored ones it no longer lists, in one transaction that holds the
// channel's row so that two syncs of one OA write one after the other.
func (s *Service) store(ctx context.Context, ch *ent.Channel, details []zalo.ZNSTemplate, at time.Time) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	lock := tx.Channel.Query().Where(channel.ID(ch.ID))
	lock.Modify(database.LockRows())
	if _, err := lock.Only(ctx); err != nil {
		return err
	}
	seen := make([]string, 0, len(details))
	for _, d := range details {
		status, err := parseStatus(d.Status)
		if err != nil {
			return err
		}
		seen = append(seen, d.ID)
		err = tx.ZnsTemplate.Create().
			SetChannelID(ch.ID).
			SetTemplateID(d.ID).
			SetName(clip(d.Name, 500)).
			SetStatus(status).
			SetTag(clip(d.Tag, 64)).
			SetParams(params(d.Params)).
			SetPrice(max(d.Price, 0)).
			SetQuality(clip(d.Quality, 64)).
			SetPreviewURL(clip(d.PreviewURL, 2048)).
			SetTimeoutMs(max(d.TimeoutMs, 0)).
			SetDailyQuota(max(d.DailyQuota, 0)).
			SetRemainingQuota(max(d.RemainingQuota, 0)).
			SetSyncedAt(at).
			OnConflictColumns(znstemplate.FieldChannelID, znstemplate.FieldTemplateID).
			UpdateNewValues().
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("zns: storing template %s: %w", d.ID, err)
		}
	}
	if err := tx.ZnsTemplate.Update().
		Where(znstemplate.ChannelID(ch.ID), znstemplate.TemplateIDNotIn(seen...), znstemplate.StatusNEQ(znstemplate.StatusDELETE)).
		SetStatus(znstemplate.StatusDELETE).
		SetSyncedAt(at).
		Exec(ctx); err != nil {
		return err
	}
	if err := timer.Schedule(ctx, tx, timer.Spec{
		OrgID: ch.OrganizationID, Kind: timerSync, Key: string(ch.ID), Due: at.Add(SyncEvery),
	}); err != nil {
		return err
	}
	return tx.Commit()
}

// parseStatus maps Zalo's template status, by name or by the list's
// number, to the stored one.
func parseStatus(s string) (znstemplate.Status, error) {
	switch s {
	case "1":
		s = "ENABLE"
	case "2":
		s = "PENDING_REVIEW"
	case "3":
		s = "REJECT"
	case "4":
		s = "DISABLE"
	}
	st := znstemplate.Status(s)
	if err := znstemplate.StatusValidator(st); err != nil {
		return "", fmt.Errorf("zns: Zalo sent an unknown template status %q", s)
	}
	return st, nil
}

func params(ps []zalo.ZNSParam) []schematype.ZnsParam {
	out := make([]schematype.ZnsParam, 0, len(ps))
	for _, p := range ps {
		out = append(out, schematype.ZnsParam{Name: p.Name, Type: p.Type, Required: p.Required,
			MinLength: max(p.MinLength, 0), MaxLength: max(p.MaxLength, 0), AcceptNull: p.AcceptNull})
	}
	return out
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// periodicSync is the timer of one OA's periodic sync. It schedules the
// next one in the timer's transaction and syncs once that has committed,
// outside any transaction: Zalo's answers must not hold the database's
// write lock. A sync that fails is tried again after syncRetry.
func (s *Service) periodicSync(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	chID := gid.ID(t.Key)
	ch, err := tx.Channel.Query().Where(channel.ID(chID)).Only(ctx)
	if ent.IsNotFound(err) || (err == nil && CheckChannel(ch) != nil) {
		return nil // gone or disconnected: a reconnection schedules it again
	}
	if err != nil {
		return err
	}
	if err := timer.Schedule(ctx, tx, timer.Spec{OrgID: t.OrganizationID, Kind: timerSync, Key: t.Key, Due: s.now().Add(SyncEvery)}); err != nil {
		return err
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(cctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(cctx, tx); err != nil {
				return err
			}
			sys := viewer.SystemContext(context.WithoutCancel(cctx), ch.OrganizationID)
			if err := s.sync(sys, ch); err != nil {
				s.log.WarnContext(sys, "periodic ZNS template sync failed; retrying later", "channel_id", ch.ID, "err", err)
				s.retrySync(sys, ch)
			}
			return nil
		})
	})
	return nil
}

// retrySync moves ch's next periodic sync to syncRetry from now.
func (s *Service) retrySync(ctx context.Context, ch *ent.Channel) {
	err := func() error {
		tx, err := s.client.Tx(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := timer.Schedule(ctx, tx, timer.Spec{OrgID: ch.OrganizationID, Kind: timerSync, Key: string(ch.ID), Due: s.now().Add(syncRetry)}); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		s.log.WarnContext(ctx, "rescheduling a ZNS template sync failed", "channel_id", ch.ID, "err", err)
	}
}

// EnsureSyncs gives every connected Zalo OA without a pending periodic sync
// one due in firstSync, leaving the pending ones alone; every replica may
// call it at start-up and then now and again, since a new OA needs one.
func (s *Service) EnsureSyncs(ctx context.Context) error {
	sys := viewer.SystemContext(ctx, "")
	chans, err := s.client.Channel.Query().
		Where(channel.KindEQ(channel.KindZALO_OA), channel.StatusEQ(channel.StatusCONNECTED)).
		All(sys)
	if err != nil {
		return err
	}
	due := s.now().Add(firstSync)
	specs := make([]timer.Spec, len(chans))
	for i, ch := range chans {
		specs[i] = timer.Spec{OrgID: ch.OrganizationID, Kind: timerSync, Key: string(ch.ID), Due: due}
	}
	return timer.EnsureAll(ctx, s.client, specs)
}
