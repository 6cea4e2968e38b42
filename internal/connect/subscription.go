package connect

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// A page whose admin removes the app, or whose token Facebook stops
// accepting, sends nothing more, and nothing else would notice: a durable
// timer per page connected through the server's app asks Facebook now and
// again whether the app is still subscribed. The timer worker runs each
// due timer on one replica only.
const (
	// timerSubscriptionCheck is the timer kind; its key is the channel.
	timerSubscriptionCheck = "facebook.subscription_check"
	// SubscriptionCheckEvery is how often a page's subscription is checked.
	SubscriptionCheckEvery = time.Hour
	// subscriptionRetry is how soon a check Facebook did not answer runs
	// again.
	subscriptionRetry = 10 * time.Minute
	// EnsureEvery is how often every replica makes sure each such page has
	// a pending check (EnsureSubscriptionChecks).
	EnsureEvery = 10 * time.Minute
)

// Register makes w run the pages' subscription checks.
func (s *Service) Register(w *timer.Worker) {
	w.Handle(timerSubscriptionCheck, s.checkSubscription)
}

// checked reports whether the channel's subscription is checked: a page
// connected through the server's app and working.
func checked(ch *ent.Channel) bool {
	return ch.Kind == channel.KindFACEBOOK_PAGE && ch.Status == channel.StatusCONNECTED && ch.AppID != ""
}

// scheduleSubscriptionCheck makes ch's next check due in after from now,
// replacing any pending one: SubscriptionCheckEvery for a page just
// connected, subscriptionRetry after a check that could not conclude.
func (s *Service) scheduleSubscriptionCheck(ctx context.Context, ch *ent.Channel, after time.Duration) error {
	sys := viewer.SystemContext(ctx, ch.OrganizationID)
	tx, err := s.cfg.Client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := timer.Schedule(sys, tx, timer.Spec{
		OrgID: ch.OrganizationID, Kind: timerSubscriptionCheck, Key: string(ch.ID), Due: s.cfg.Now().Add(after),
	}); err != nil {
		return err
	}
	return tx.Commit()
}

// EnsureSubscriptionChecks gives every checked page without a pending
// check one, leaving pending ones alone; every replica may call it at
// start-up and then every EnsureEvery.
func (s *Service) EnsureSubscriptionChecks(ctx context.Context) error {
	chans, err := s.cfg.Client.Channel.Query().
		Where(channel.KindEQ(channel.KindFACEBOOK_PAGE), channel.StatusEQ(channel.StatusCONNECTED), channel.AppIDNEQ("")).
		All(viewer.SystemContext(ctx, ""))
	if err != nil {
		return err
	}
	due := s.cfg.Now().Add(SubscriptionCheckEvery)
	specs := make([]timer.Spec, len(chans))
	for i, ch := range chans {
		specs[i] = timer.Spec{OrgID: ch.OrganizationID, Kind: timerSubscriptionCheck, Key: string(ch.ID), Due: due}
	}
	return timer.EnsureAll(ctx, s.cfg.Client, specs)
}

// checkSubscription is a page's timer. It schedules the next check in the
// timer's transaction and asks Facebook once that has committed, outside
// any transaction, so that Facebook's answer never holds the database's
// write lock.
func (s *Service) checkSubscription(ctx context.Context, tx *ent.Tx, t *ent.Timer) error {
	ch, err := tx.Channel.Query().Where(channel.ID(gid.ID(t.Key))).Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !checked(ch)) {
		return nil // gone, lost or disconnected: a reconnect schedules it again
	}
	if err != nil {
		return err
	}
	if err := timer.Schedule(ctx, tx, timer.Spec{
		OrgID: t.OrganizationID, Kind: timerSubscriptionCheck, Key: t.Key, Due: s.cfg.Now().Add(SubscriptionCheckEvery),
	}); err != nil {
		return err
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(cctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(cctx, tx); err != nil {
				return err
			}
			s.askSubscription(viewer.SystemContext(context.WithoutCancel(cctx), ch.OrganizationID), ch)
			return nil
		})
	})
	return nil
}

// askSubscription asks Facebook whether the app still receives the page's
// messages, and loses the page's connection when it does not or when
// Facebook refuses its token.
func (s *Service) askSubscription(ctx context.Context, ch *ent.Channel) {
	log := s.cfg.Logger.With("provider", "facebook", "channel", ch.ID)
	creds, err := s.cfg.Inbox.Open(ch)
	if err != nil {
		log.Error("cannot open a page's token for its subscription check", "error", err)
		return
	}
	subscribed, err := s.cfg.Facebook.Subscribed(ctx, ch.ExternalID, creds.AccessToken, ch.AppID)
	reason := ""
	switch {
	case facebook.IsTokenInvalid(err):
		reason = "Facebook no longer accepts the page's access token; reconnect the page."
	case err != nil:
		log.Warn("page subscription check failed; retrying later", "error", err)
		s.retrySubscriptionCheck(ctx, ch)
		return
	case !subscribed:
		reason = "The page no longer sends its messages to the app (its subscription was removed); reconnect the page."
	default:
		return
	}
	if err := s.cfg.Inbox.LoseConnection(ctx, ch.ID, creds.AccessToken, reason); err != nil {
		log.Error("marking a page's connection lost failed; retrying later", "error", err)
		s.retrySubscriptionCheck(ctx, ch)
		return
	}
	log.Warn("facebook page connection lost", "reason", reason)
}

// retrySubscriptionCheck moves ch's next check to subscriptionRetry from now.
func (s *Service) retrySubscriptionCheck(ctx context.Context, ch *ent.Channel) {
	if err := s.scheduleSubscriptionCheck(ctx, ch, subscriptionRetry); err != nil {
		s.cfg.Logger.WarnContext(ctx, "rescheduling a page's subscription check failed", "channel", ch.ID, "error", err)
	}
}
