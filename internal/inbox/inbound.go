package inbox

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Defaults of InboundConfig.
const (
	// DefaultBatchSize is how many webhook events one claim takes.
	DefaultBatchSize = 50
	// DefaultPollInterval is how often Run looks for due events when no
	// webhook wakes it: retries come due, and other replicas' events need
	// a processor too.
	DefaultPollInterval = 5 * time.Second
)

// Processing schedule. A claim leases its events for claimLease, so a
// processor that dies mid-batch delays them by that much and loses none.
// The lease can be short: it only spares other processors wasted work.
// Should it run out while an event is still being processed, processOne's
// row lock and processed_at check make a second processor wait and then
// skip the event, so nothing is applied twice.
// A failed event is retried after retryBase, doubling up to retryCap:
// Zalo and Facebook are not waiting (they had their 200), and a permanent
// failure costs one attempt per retryCap.
const (
	claimLease   = 15 * time.Second
	retryBase    = 5 * time.Second
	retryCap     = 30 * time.Minute
	profileRetry = time.Minute
	maxLastError = 1000
)

// MaxEventAttempts is how many times a webhook event is tried before it is
// parked as dead, about 1.5 hours after the first: a failure that lasts
// that long is one a person must look at (DeadEvents), and retrying it
// forever would only hide it.
const MaxEventAttempts = 10

// InboundConfig configures an Inbound. The zero value works.
type InboundConfig struct {
	// Zalo reads follower profiles. Default: a client for Zalo's
	// production servers.
	Zalo *zalo.Client
	// Now is the clock of leases, retries and the times of messages.
	// Default time.Now.
	Now func() time.Time
	// Logger receives failures; nil discards them. It never receives a
	// message's content or a credential.
	Logger *slog.Logger
	// BatchSize is how many events a claim takes. Default
	// DefaultBatchSize.
	BatchSize int
	// PollInterval is how often Run looks for due events unprompted.
	// Default DefaultPollInterval.
	PollInterval time.Duration
	// FacebookVerifyToken (FACEBOOK_VERIFY_TOKEN) answers the subscription
	// handshake of the server's Facebook app, which Facebook runs before
	// any page is connected; empty accepts only the pages' own tokens.
	FacebookVerifyToken string
}

// Inbound is the inbox's intake: it stores provider webhooks as they
// arrive (ReceiveZalo, ReceiveFacebook) and later turns them into
// customers, identities, conversations, messages and receipts
// (ProcessDue), then reads the new Zalo users' profiles (FetchProfiles).
//
// Storing is all a webhook request does, so the provider gets its 200 at
// once; processing runs from the table, so an accepted event survives a
// crash and a failing one is retried without holding up the rest. Any
// number of Inbounds, in one process or in several replicas, may process
// the same database: claims never overlap.
type Inbound struct {
	svc    *Service
	client *ent.Client
	zalo   *zalo.Client
	now    func() time.Time
	log    *slog.Logger
	batch  int
	poll   time.Duration
	// fbVerifyToken is InboundConfig.FacebookVerifyToken.
	fbVerifyToken string
	// nudge wakes Run after a webhook is stored. Its capacity is 1 and
	// senders never block: one pending wake-up covers any number of
	// events, since a round processes everything that is due.
	nudge chan struct{}
	// channels are the channels of the events processed so far.
	channels channelCache

	// mu guards profileBlocked: channels whose profile reads failed for a
	// reason that may pass (a Zalo outage, an expired token), skipped
	// until the time given.
	mu             sync.Mutex
	profileBlocked map[gid.ID]time.Time
}

// NewInbound returns the intake of the inbox s.
func NewInbound(s *Service, cfg InboundConfig) *Inbound {
	in := &Inbound{
		svc:            s,
		client:         s.client,
		zalo:           cfg.Zalo,
		now:            cfg.Now,
		log:            cfg.Logger,
		batch:          cfg.BatchSize,
		poll:           cfg.PollInterval,
		fbVerifyToken:  cfg.FacebookVerifyToken,
		nudge:          make(chan struct{}, 1),
		profileBlocked: map[gid.ID]time.Time{},
	}
	if in.zalo == nil {
		in.zalo = zalo.New(zalo.Config{})
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.batch <= 0 {
		in.batch = DefaultBatchSize
	}
	if in.poll <= 0 {
		in.poll = DefaultPollInterval
	}
	return in
}

// wake wakes Run without waiting; a wake-up already pending absorbs it.
func (in *Inbound) wake() {
	select {
	case in.nudge <- struct{}{}:
	default:
	}
}

// Run processes webhook events until ctx ends: at once, whenever a webhook
// is stored, and every PollInterval. Profiles are read after a round that
// processed events, which may have brought new users, and otherwise once
// per profileRetry, for those whose reads are waiting on Zalo.
func (in *Inbound) Run(ctx context.Context) {
	t := time.NewTicker(in.poll)
	defer t.Stop()
	var profilesRead time.Time
	for {
		n, err := in.ProcessDue(ctx)
		if err != nil && ctx.Err() == nil {
			in.log.WarnContext(ctx, "processing webhook events failed", "err", err)
		}
		if n > 0 || time.Since(profilesRead) >= profileRetry {
			if _, err := in.FetchProfiles(ctx); err != nil && ctx.Err() == nil {
				in.log.WarnContext(ctx, "reading Zalo profiles failed", "err", err)
			}
			profilesRead = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-in.nudge:
		case <-t.C:
		}
	}
}

// ProcessDue processes every webhook event that is due, oldest first, and
// returns how many it processed. An event whose processing fails is
// scheduled for a retry and does not stop the others; an error is
// returned only when the database itself fails.
func (in *Inbound) ProcessDue(ctx context.Context) (int, error) {
	done := 0
	for {
		ids, err := in.claim(ctx)
		if err != nil {
			return done, err
		}
		claimed := len(ids)
		for len(ids) > 0 {
			n := min(len(ids), txBatch)
			k, err := in.processBatch(ctx, ids[:n])
			done += k
			if err != nil {
				return done, err
			}
			ids = ids[n:]
		}
		if claimed < in.batch {
			return done, nil
		}
	}
}

// claim takes the next batch of due events, oldest first, and leases them
// by moving their next_attempt_at past the lease, so that no other
// processor claims them meanwhile. On PostgreSQL, FOR UPDATE SKIP LOCKED
// makes concurrent claims pass over each other's rows instead of taking
// them twice or waiting; SQLite has one writer, and its transactions
// begin with the write lock (database._txlock), so claims are serial.
func (in *Inbound) claim(ctx context.Context) ([]gid.ID, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := in.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	now := in.now()
	ids, err := lockRows(tx.WebhookEvent.Query().
		Where(
			webhookevent.ProcessedAtIsNil(),
			webhookevent.DeadAtIsNil(),
			webhookevent.Or(webhookevent.NextAttemptAtIsNil(), webhookevent.NextAttemptAtLTE(now)),
		).
		Order(webhookevent.ByReceivedAt(), webhookevent.ByID()).
		Limit(in.batch), sql.SkipLocked).
		IDs(sys)
	if err != nil {
		return nil, fmt.Errorf("inbox: claiming webhook events: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := tx.WebhookEvent.Update().
		Where(webhookevent.IDIn(ids...)).
		SetNextAttemptAt(now.Add(claimLease)).
		Exec(sys); err != nil {
		return nil, fmt.Errorf("inbox: leasing webhook events: %w", err)
	}
	return ids, tx.Commit()
}

// lockRows makes q lock the rows it reads on PostgreSQL (FOR UPDATE, with
// the given action when not ""); SQLite has no row locks, and q is left
// alone there.
func lockRows(q *ent.WebhookEventQuery, action sql.LockAction) *ent.WebhookEventQuery {
	// FOR UPDATE cannot be combined with DISTINCT. Modify's Select is not
	// needed: the modifier stays on q.
	var opts []sql.LockOption
	if action != "" {
		opts = append(opts, sql.WithLockAction(action))
	}
	q.Unique(false).Modify(database.LockRows(opts...))
	return q
}

// ProcessEvent processes the stored webhook event id now, alone in its
// transaction, as a failing event of a batch is: for a job engine that
// hands events out one at a time itself (the job engine benchmark,
// BENCHMARKS.md).
func (in *Inbound) ProcessEvent(ctx context.Context, id gid.ID) (bool, error) {
	return in.processOne(ctx, id)
}

// takeEvent locks a claimed event that is still unprocessed, marks it
// processed and returns it, with the version of its channel (see
// channelCache), in one statement. The placeholders are numbered, which
// both PostgreSQL and the SQLite driver read.
const takeEvent = `UPDATE webhook_events SET processed_at = $1, next_attempt_at = NULL
WHERE id = $2 AND processed_at IS NULL
RETURNING provider, event_name, organization_id, channel_id, payload, attempts,
  (SELECT CAST(channels.updated_at AS TEXT) FROM channels WHERE channels.id = webhook_events.channel_id)`

// errStoredMeanwhile ends the processing of an event whose message turns
// out to be stored already, by another processor or as the delivery
// worker's own send, after the event opened something (a customer, a
// conversation) for it: the transaction is rolled back, and the event
// marked processed in another.
var errStoredMeanwhile = errors.New("inbox: the message was stored meanwhile")

// processOne processes one claimed event in its own transaction, which
// also marks it processed, or records why it failed and when to retry. It
// reports whether the event was processed; false with a nil error means
// it failed (and was rescheduled) or another processor had it.
func (in *Inbound) processOne(ctx context.Context, id gid.ID) (bool, error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := in.client.Tx(sys)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	now := in.now()
	// The lease keeps other processors away; the row lock of the UPDATE
	// and its processed_at condition make sure of it should a lease run
	// out while an event is still being processed: a second processor
	// waits for the first to commit, then finds the event processed. The
	// lock waits rather than skips, because a concurrent claim may hold it
	// for a moment: a SELECT … FOR UPDATE … LIMIT keeps the locks of rows
	// it looked at and passed over until its transaction ends.
	ev, chVersion, err := takeEventRow(sys, tx, id, now)
	if ev == nil || err != nil {
		return false, err
	}
	entries, perr := in.apply(ctx, tx, ev, chVersion, now)
	if perr == nil {
		perr = appendEvents(ctx, tx, entries)
	}
	if perr == nil {
		if err := tx.Commit(); err != nil {
			return false, err
		}
		return true, nil
	}
	// Whatever apply did is taken back with the whole transaction (on
	// PostgreSQL a failed statement leaves it unusable anyway); the
	// outcome is recorded in a new one. The lease still keeps other
	// processors away meanwhile, and the conditions on processed_at and
	// attempts make a late record a no-op should one have taken the event.
	_ = tx.Rollback()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if errors.Is(perr, errStoredMeanwhile) {
		err := in.client.WebhookEvent.Update().
			Where(webhookevent.ID(id), webhookevent.ProcessedAtIsNil()).
			SetProcessedAt(now).
			ClearNextAttemptAt().
			Exec(sys)
		return err == nil, err
	}
	attempts := ev.Attempts + 1
	upd := in.client.WebhookEvent.Update().
		Where(webhookevent.ID(id), webhookevent.ProcessedAtIsNil(), webhookevent.Attempts(ev.Attempts)).
		SetAttempts(attempts).
		SetLastError(clip(cleanText(perr.Error()), maxLastError))
	dead := attempts >= MaxEventAttempts
	next := now.Add(retryDelay(attempts))
	if dead {
		upd.SetDeadAt(now).ClearNextAttemptAt()
	} else {
		upd.SetNextAttemptAt(next)
	}
	if err := upd.Exec(sys); err != nil {
		return false, err
	}
	if dead {
		in.log.ErrorContext(ctx, "webhook event failed too many times; parked until an admin replays it",
			"webhook_event", id, "event", ev.EventName, "attempts", attempts, "err", perr)
	} else {
		in.log.WarnContext(ctx, "webhook event failed; will retry",
			"webhook_event", id, "event", ev.EventName, "attempts", attempts, "next_attempt_at", next, "err", perr)
	}
	return false, nil
}

// takeEventRow runs takeEvent in tx. It returns nil for an event that is
// processed already (or gone), and the channel's version, "" when the
// event names no channel or its channel is gone.
func takeEventRow(ctx context.Context, tx *ent.Tx, id gid.ID, now time.Time) (*ent.WebhookEvent, string, error) {
	rows, err := tx.QueryContext(ctx, takeEvent, now, string(id))
	if err != nil {
		return nil, "", fmt.Errorf("inbox: taking webhook event %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, "", rows.Err()
	}
	ev := &ent.WebhookEvent{ID: id}
	var org, ch, version stdsql.NullString
	if err := rows.Scan(&ev.Provider, &ev.EventName, &org, &ch, &ev.Payload, &ev.Attempts, &version); err != nil {
		return nil, "", fmt.Errorf("inbox: reading webhook event %s: %w", id, err)
	}
	if org.Valid {
		ev.OrganizationID = new(gid.ID(org.String))
	}
	if ch.Valid {
		ev.ChannelID = new(gid.ID(ch.String))
	}
	return ev, version.String, rows.Close()
}

// txBatch is how many claimed events at most one transaction processes:
// one commit, and one append of their events, for all of them. A
// transaction holds the rows it wrote until it commits, so a conversation
// an agent is answering waits for at most that many events.
const txBatch = 20

// processBatch processes claimed events in one transaction, which also
// marks them processed, and returns how many it processed. Their events
// are appended together at the end, so the organization's counter is
// locked last and for a moment only, as every writer locks it. An event
// that fails takes the transaction with it: the ones before it are
// processed again together, it alone by processOne, which records its
// failure, and those after it together.
func (in *Inbound) processBatch(ctx context.Context, ids []gid.ID) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if len(ids) == 1 {
		ok, err := in.processOne(ctx, ids[0])
		if ok {
			return 1, err
		}
		return 0, err
	}
	sys := viewer.SystemContext(ctx, "")
	tx, err := in.client.Tx(sys)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	done := 0
	var entries []event.Entry
	for i, id := range ids {
		now := in.now()
		// As in processOne.
		ev, chVersion, err := takeEventRow(sys, tx, id, now)
		if err != nil {
			return 0, err
		}
		if ev == nil {
			continue
		}
		evs, perr := in.apply(ctx, tx, ev, chVersion, now)
		if perr != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			_ = tx.Rollback()
			return in.splitBatch(ctx, ids, i)
		}
		entries = append(entries, evs...)
		done++
	}
	if err := appendEvents(ctx, tx, entries); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The failing event is not known: one at a time.
		_ = tx.Rollback()
		return in.splitBatch(ctx, ids, 0)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return done, nil
}

// splitBatch processes ids, whose transaction failed at ids[i], without
// it: ids[:i] together, ids[i] alone, ids[i+1:] together.
func (in *Inbound) splitBatch(ctx context.Context, ids []gid.ID, i int) (int, error) {
	done := 0
	for _, part := range [][]gid.ID{ids[:i], ids[i : i+1], ids[i+1:]} {
		n, err := in.processBatch(ctx, part)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// appendEvents appends the entries of processed webhook events, each
// organization's together, the organizations in the order of their IDs so
// that two transactions lock their counters in the same order.
func appendEvents(ctx context.Context, tx *ent.Tx, entries []event.Entry) error {
	byOrg := map[gid.ID][]event.Entry{}
	for _, e := range entries {
		byOrg[e.OrgID] = append(byOrg[e.OrgID], e)
	}
	for _, org := range slices.Sorted(maps.Keys(byOrg)) {
		if _, err := event.AppendAll(viewer.SystemContext(ctx, org), tx, byOrg[org]...); err != nil {
			return err
		}
	}
	return nil
}

// retryDelay is the wait before attempt n+1 after n failures: retryBase,
// doubling, at most retryCap.
func retryDelay(failures int) time.Duration {
	d := retryBase
	for i := 1; i < failures && d < retryCap; i++ {
		d *= 2
	}
	return min(d, retryCap)
}
