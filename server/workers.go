package main

import (
	"context"
	"github.com/dakenh/dakenh/internal/connect"
	"sync"
	"time"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/presence"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/zns"
)

// pruneEvery is how often expired logins and sessions are deleted; the
// work is small and idempotent, so replicas may overlap.
const pruneEvery = 10 * time.Minute

// workers runs the server's background loops; Stop cancels them and waits.
type workers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (a *App) startWorkers() {
	ctx, cancel := context.WithCancel(event.WithBus(context.Background(), a.bus))
	a.workers.cancel = cancel
	a.every(ctx, "prune", pruneEvery, func(ctx context.Context) error {
		n, err := a.auth.Prune(ctx)
		if n > 0 {
			a.logger.InfoContext(ctx, "pruned ended sessions and login attempts", "rows", n)
		}
		if err != nil {
			return err
		}
		n, err = a.deliveries.Prune(ctx)
		if n > 0 {
			a.logger.InfoContext(ctx, "pruned the partner webhook delivery log older than 30 days", "rows", n)
		}
		return err
	})
	a.startWebhookWorker(requestlog.With(ctx, "worker", "webhooks"))
	// Outbound messages: woken by sendMessage, polling for retries and
	// other replicas' messages; it returns once its deliveries finished.
	a.workers.wg.Go(func() { a.inbox.RunDelivery(requestlog.With(ctx, "worker", "delivery")) })
	// Partner webhooks: the log's events fed to endpoints and delivered,
	// polling for new events and retries.
	a.workers.wg.Go(func() { a.deliveries.Run(requestlog.With(ctx, "worker", "partner-webhooks")) })
	// ZNS messages go out through their own delivery queue.
	a.workers.wg.Go(func() { a.zns.RunDelivery(requestlog.With(ctx, "worker", "zns-delivery")) })
	a.every(ctx, "zalo-token-refresh", inbox.ZaloRefreshEvery, a.inbox.RefreshZaloTokens)
	// Durable timers: every replica runs one worker; claims never overlap.
	a.workers.wg.Go(func() { a.timers.Run(requestlog.With(ctx, "worker", "timers")) })
	a.every(ctx, "presence", presence.Heartbeat, a.sweepPresence)
	// Every connected OA has a periodic ZNS template sync; a newly
	// connected one gets its own within zns.EnsureEvery.
	a.every(ctx, "zns-sync-schedule", zns.EnsureEvery, a.zns.EnsureSyncs)
	// Every page connected through the server's Facebook app has a
	// periodic check that the app still receives its messages.
	a.every(ctx, "facebook-subscription-schedule", connect.EnsureEvery, a.connect.EnsureSubscriptionChecks)
	if a.box.Rotating() {
		a.every(ctx, "reseal", resealEvery, a.reseal)
	}
}

// resealEvery is how often, while DAKENH_SECRET_PREVIOUS is set, values
// sealed under the previous secret are looked for: the first pass at start
// moves what there is; later ones catch what a replica still running with
// the old secret wrote during the rollout.
const resealEvery = 10 * time.Minute

// reseal moves the values sealed under the previous secret onto the
// current one.
func (a *App) reseal(ctx context.Context) error {
	res, err := keyring.Reseal(ctx, a.db, a.box, sealedColumns(), 100)
	if res.Moved > 0 || res.Unopenable > 0 {
		a.logger.InfoContext(ctx, "resealed values under the current DAKENH_SECRET", "moved", res.Moved, "unopenable", res.Unopenable)
	}
	return err
}

// sweepPresence stamps the users with a subscription socket on this
// replica as seen, then makes OFFLINE the users nobody has seen for the
// grace period, on any replica.
func (a *App) sweepPresence(ctx context.Context) error {
	now := a.now()
	if err := a.presence.Stamp(ctx, a.db.Client, now); err != nil {
		return err
	}
	n, err := a.distribute.ExpirePresence(ctx, now.Add(-presence.Grace))
	if n > 0 {
		a.logger.InfoContext(ctx, "users without a subscription for the grace period are now OFFLINE", "users", n)
	}
	return err
}

// every runs f now and then at each interval until ctx ends, logging
// failures: a failed round is retried at the next tick. f's context names
// the worker in every line logged with it.
func (a *App) every(ctx context.Context, name string, interval time.Duration, f func(context.Context) error) {
	ctx = requestlog.With(ctx, "worker", name)
	a.workers.wg.Add(1)
	go func() {
		defer a.workers.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				a.logger.WarnContext(ctx, "worker failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop stops the background workers and waits for them to return.
func (a *App) Stop() {
	if a.workers.cancel != nil {
		a.workers.cancel()
	}
	a.workers.wg.Wait()
}
