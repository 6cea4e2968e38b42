package inbox

// Zalo OA access tokens last about 25 hours and are replaced with the
// refresh token, which is single-use: two refreshes of one OA racing each
// other would spend the same refresh token twice, and the loser's failure
// (-14014) would disconnect a healthy channel. So exactly one refresh per OA
// runs at a time, across replicas:
//
//   - The refresh runs inside a database transaction that first locks the
//     channel's row (SELECT … FOR UPDATE on PostgreSQL; on SQLite the
//     transaction holds the database's write lock from BEGIN). A concurrent
//     refresher waits on that lock, then re-reads the channel and finds the
//     new token, so it does not refresh again.
//   - The new pair and its expiry are written, sealed, in that same
//     transaction, so they are stored atomically or not at all.
//   - Within one process, refreshers of one OA also queue on a small lock
//     first, so that ten goroutines hold one database connection between
//     them rather than ten.
//
// The lock is held across the call to Zalo's token endpoint. If the process
// dies after Zalo issued the new pair but before the commit, the old refresh
// token is spent and the new one lost; the next refresh is then rejected and
// the channel becomes DISCONNECTED until an admin reconnects it. Nothing
// short of Zalo offering idempotent refreshes closes that window.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

const (
	// ZaloRefreshBefore is how long before expiry an OA access token is
	// refreshed.
	ZaloRefreshBefore = time.Hour
	// ZaloRefreshEvery is how often the refresh worker looks for tokens
	// that expire within ZaloRefreshBefore; well below it, so a transient
	// failure is retried several times before the token expires.
	ZaloRefreshEvery = 5 * time.Minute
	// tokenLockStripes is how many in-process locks OAs hash onto.
	tokenLockStripes = 64
)

// ZaloAccessToken returns the access token of a Zalo OA channel, refreshing
// it first when it expires within ZaloRefreshBefore. It is safe to call
// concurrently from any number of goroutines and replicas: one of them
// refreshes, and the others return the token it obtained.
//
// A refresh Zalo rejects marks the channel DISCONNECTED with a reason and a
// CHANNEL DISCONNECTED event, and the error then wraps
// ErrChannelDisconnected; a transient failure leaves everything as it was,
// for a later retry.
func (s *Service) ZaloAccessToken(ctx context.Context, channelID gid.ID) (string, error) {
	return s.zaloToken(ctx, channelID, "")
}

// ZaloAccessTokenAfterRefusal is ZaloAccessToken for a caller whose call
// Zalo just refused with refused (-216: revoked, or expired early): it
// refreshes unless another caller already replaced that token.
func (s *Service) ZaloAccessTokenAfterRefusal(ctx context.Context, channelID gid.ID, refused string) (string, error) {
	return s.zaloToken(ctx, channelID, refused)
}

// RefreshZaloTokens refreshes every connected OA token that expires within
// ZaloRefreshBefore. It is the refresh worker's round; a token that fails
// is retried at the next round.
func (s *Service) RefreshZaloTokens(ctx context.Context) error {
	sys := viewer.SystemContext(ctx, "")
	ids, err := s.client.Channel.Query().
		Where(
			channel.KindEQ(channel.KindZALO_OA),
			channel.StatusEQ(channel.StatusCONNECTED),
			channel.AccessTokenExpiresAtLT(s.now().Add(ZaloRefreshBefore)),
		).
		IDs(sys)
	if err != nil {
		return fmt.Errorf("inbox: listing Zalo tokens to refresh: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		_, err := s.zaloToken(ctx, id, "")
		switch {
		case err == nil:
		case errors.Is(err, ErrChannelDisconnected):
			s.out.logger.WarnContext(ctx, "Zalo OA disconnected: its token could not be refreshed", "channel_id", id, "err", err)
		default:
			errs = append(errs, fmt.Errorf("channel %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// zaloToken returns the channel's access token, refreshed first when it
// expires within ZaloRefreshBefore or when it is still refused, the token a
// provider call was just refused with.
func (s *Service) zaloToken(ctx context.Context, id gid.ID, refused string) (string, error) {
	release, err := s.lockToken(ctx, id)
	if err != nil {
		return "", err
	}
	defer release()

	sys := viewer.SystemContext(ctx, "")
	tx, err := s.client.Tx(sys)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	// Waits for a concurrent refresher, then reads what it committed.
	q := tx.Channel.Query().Where(channel.ID(id), channel.KindEQ(channel.KindZALO_OA))
	q.Modify(database.LockRows())
	ch, err := q.Only(sys)
	if err != nil {
		return "", fmt.Errorf("inbox: loading Zalo channel %s: %w", id, err)
	}
	sys = viewer.SystemContext(ctx, ch.OrganizationID)
	if ch.Status != channel.StatusCONNECTED && ch.ConnectionLostAt != nil {
		return "", fmt.Errorf("channel %s: %w", id, ErrConnectionLost)
	}
	if ch.Status != channel.StatusCONNECTED {
		return "", fmt.Errorf("channel %s: %w", id, ErrChannelDisconnected)
	}
	creds, err := s.Open(ch)
	if err != nil {
		return "", err
	}
	now := s.now()
	exp := ch.AccessTokenExpiresAt
	unusable := exp == nil || !now.Before(*exp) || (refused != "" && creds.AccessToken == refused)
	if !unusable && exp.Sub(now) >= ZaloRefreshBefore {
		return creds.AccessToken, nil
	}
	if ch.AppID == "" || creds.AppSecret == "" || creds.RefreshToken == "" {
		if !unusable {
			// Nothing can refresh it; it still works for a while.
			return creds.AccessToken, nil
		}
		if err := markConnectionLost(sys, tx, ch, "The OA's access token expired and no app secret is stored to refresh it; reconnect the OA with its app secret.", now); err != nil {
			return "", err
		}
		if err := tx.Commit(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("channel %s: no app secret to refresh with: %w", id, ErrConnectionLost)
	}

	tok, err := s.out.zalo.RefreshToken(ctx, ch.AppID, creds.AppSecret, creds.RefreshToken)
	switch {
	case zalo.IsRefreshRejected(err):
		reason := "Zalo rejected the OA's refresh token; reconnect the OA."
		if e, ok := errors.AsType[*zalo.OAuthError](err); ok {
			reason = fmt.Sprintf("Zalo rejected the OA's refresh token (error %d); reconnect the OA.", e.Code)
		}
		if err := markConnectionLost(sys, tx, ch, reason, now); err != nil {
			return "", err
		}
		if err := tx.Commit(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("channel %s: %w: %w", id, ErrConnectionLost, err)
	case err != nil:
		return "", fmt.Errorf("inbox: refreshing the token of channel %s: %w", id, err)
	}
	// Stored before anything else: the old refresh token is spent.
	if err := tx.Channel.UpdateOneID(ch.ID).
		SetAccessToken(s.box.Seal(tok.AccessToken, sealContext(ch.ID, channel.FieldAccessToken))).
		SetRefreshToken(s.box.Seal(tok.RefreshToken, sealContext(ch.ID, channel.FieldRefreshToken))).
		SetAccessTokenExpiresAt(tok.ExpiresAt).
		Exec(sys); err != nil {
		return "", fmt.Errorf("inbox: storing the refreshed token of channel %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("inbox: storing the refreshed token of channel %s: %w", id, err)
	}
	s.out.logger.InfoContext(ctx, "Zalo OA token refreshed", "channel_id", id, "expires_at", tok.ExpiresAt)
	return tok.AccessToken, nil
}

// lockToken takes this process's lock for the channel's refreshes, waiting
// at most until ctx ends, and returns its release. Channels hash onto a
// fixed set of locks, so unrelated OAs rarely wait for each other and the
// set never grows.
func (s *Service) lockToken(ctx context.Context, id gid.ID) (func(), error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	lock := s.out.tokenLocks[h.Sum32()%tokenLockStripes]
	select {
	case lock <- struct{}{}:
		return func() { <-lock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
