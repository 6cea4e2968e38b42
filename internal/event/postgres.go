package event

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/dakenh/dakenh/internal/gid"
)

// PostgresChannel is the LISTEN/NOTIFY channel every replica's bus shares.
const PostgresChannel = "dakenh_events"

// Reconnect back-off of the LISTEN connection. The first retry is quick
// because a dropped connection is usually a restart or failover; the cap
// keeps a long outage from hammering the server and bounds how long Close
// waits for pq's retry loop.
const (
	listenerMinReconnect = 200 * time.Millisecond
	listenerMaxReconnect = 5 * time.Second
)

// publishConns is the pool size for pg_notify: publishing is one short
// statement, and a replica's writers can share a few connections.
const publishConns = 4

// PostgresBus is the Bus of a replicated deployment: Publish sends
// pg_notify on PostgresChannel and one pq.Listener per process receives
// every replica's notices. Payloads are "<organization>:<seq>" envelopes,
// never events, so they stay far below NOTIFY's 8000-byte limit and no
// event data passes outside the log's access rules.
//
// NOTIFY is not durable: notices sent while the LISTEN connection is down
// are lost. After pq reconnects, every subscriber is therefore told to
// resync.
type PostgresBus struct {
	h        hub
	db       *sql.DB
	listener *pq.Listener
	logger   *slog.Logger
	// done is closed when the receive loop has stopped.
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	// hook, when set, observes listener events before the bus reacts to
	// them; tests use it to act while the connection is down.
	hook atomic.Pointer[func(pq.ListenerEventType)]
}

// NewPostgresBus connects to the PostgreSQL server at dsn, starts listening
// on PostgresChannel and returns the bus. It returns once LISTEN is in
// effect, so nothing published afterwards is missed; ctx bounds that wait.
// logger receives connection changes and publish failures; nil discards
// them.
func NewPostgresBus(ctx context.Context, dsn string, logger *slog.Logger) (*PostgresBus, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	db.SetMaxOpenConns(publishConns)
	db.SetMaxIdleConns(publishConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("event: connecting to PostgreSQL: %w", err)
	}
	b := &PostgresBus{db: db, logger: logger, done: make(chan struct{})}
	b.listener = pq.NewListener(dsn, listenerMinReconnect, listenerMaxReconnect, b.onListenerEvent)

	// Listen blocks until a connection is up, without a context; closing
	// the listener is what unblocks it, and this function waits for the
	// goroutine either way.
	listened := make(chan error, 1)
	go func() { listened <- b.listener.Listen(PostgresChannel) }()
	select {
	case err = <-listened:
	case <-ctx.Done():
		b.listener.Close()
		<-listened
		err = ctx.Err()
	}
	if err != nil {
		b.listener.Close()
		// pq closes Notify when its goroutine ends; draining waits for
		// that, so a failed constructor leaves nothing running.
		for range b.listener.Notify {
		}
		db.Close()
		return nil, fmt.Errorf("event: LISTEN %s: %w", PostgresChannel, err)
	}
	// The receive loop is owned by the bus: Close closes the listener, pq
	// then closes Notify, and the loop returns.
	go b.receive()
	return b, nil
}

// receive fans the listener's notifications out until the listener closes.
// It never blocks on a subscriber, so pq's connection goroutine, which
// waits on this loop, never stalls.
func (b *PostgresBus) receive() {
	defer close(b.done)
	for n := range b.listener.Notify {
		if n == nil {
			// pq sends nil right after ListenerEventReconnected, which
			// onListenerEvent has already turned into a resync.
			continue
		}
		notice, err := parsePayload(n.Extra)
		if err != nil {
			b.logger.Warn("event: ignoring a malformed notification", "channel", n.Channel, "err", err)
			continue
		}
		b.h.deliver(notice)
	}
}

// onListenerEvent runs on pq's connection goroutine for each connection
// change. pq re-issues LISTEN before it reports ListenerEventReconnected, so
// a resync sent here cannot miss a notice sent after it.
func (b *PostgresBus) onListenerEvent(ev pq.ListenerEventType, err error) {
	if f := b.hook.Load(); f != nil {
		(*f)(ev)
	}
	switch ev {
	case pq.ListenerEventDisconnected:
		if !b.h.isClosed() {
			b.logger.Warn("event: lost the LISTEN connection; notices sent until it is back are lost and streams will resync", "err", err)
		}
	case pq.ListenerEventConnectionAttemptFailed:
		b.logger.Warn("event: reconnecting the LISTEN connection failed", "err", err)
	case pq.ListenerEventReconnected:
		b.logger.Info("event: LISTEN connection re-established; resyncing every stream")
		b.h.resyncAll()
	}
}

// Publish sends n to every replica's subscribers with pg_notify. It runs
// outside the writer's transaction (after its commit), so a notice never
// announces an event that could still roll back.
func (b *PostgresBus) Publish(ctx context.Context, n Notice) error {
	if b.h.isClosed() {
		return ErrClosed
	}
	_, err := b.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", PostgresChannel, formatPayload(n))
	if err != nil {
		b.logger.Warn("event: publishing a notice failed; streams will see the event at their next poll",
			"org", n.OrgID, "seq", n.Seq, "err", err)
		return fmt.Errorf("event: pg_notify: %w", err)
	}
	return nil
}

// Subscribe implements Bus.
func (b *PostgresBus) Subscribe(orgID gid.ID) (<-chan Notice, func()) {
	return b.h.subscribe(orgID)
}

// Close stops listening, closes every subscription and the publish pool.
// It waits for the receive loop to stop.
func (b *PostgresBus) Close() error {
	b.closeOnce.Do(func() {
		b.h.shut()
		lerr := b.listener.Close()
		<-b.done
		b.closeErr = errors.Join(lerr, b.db.Close())
	})
	return b.closeErr
}

// formatPayload encodes a notice as "<org>:<seq>", followed by
// ":<user>,<user>…" when it names users.
func formatPayload(n Notice) string {
	s := string(n.OrgID) + ":" + strconv.FormatInt(n.Seq, 10)
	if len(n.Users) > 0 {
		users := make([]string, len(n.Users))
		for i, u := range n.Users {
			users[i] = string(u)
		}
		s += ":" + strings.Join(users, ",")
	}
	return s
}

// parsePayload decodes formatPayload's envelope.
func parsePayload(s string) (Notice, error) {
	org, rest, ok := strings.Cut(s, ":")
	if !ok || org == "" {
		return Notice{}, fmt.Errorf("payload %q is not <org>:<seq>", s)
	}
	seq, users, _ := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || n < 0 {
		return Notice{}, fmt.Errorf("payload %q has no valid seq", s)
	}
	notice := Notice{OrgID: gid.ID(org), Seq: n}
	for u := range strings.SplitSeq(users, ",") {
		if u != "" {
			notice.Users = append(notice.Users, gid.ID(u))
		}
	}
	return notice, nil
}
