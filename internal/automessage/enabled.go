package automessage

import (
	"context"
	"sync"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/internal/gid"
)

// enabledMemo remembers, for each open transaction, the enabled
// auto-messages of the channels it asked about: the inbox processes a
// batch of webhook events in one transaction, most of them on the same
// channel, and the auto-messages are read once for the batch, as if its
// events had come at once. A transaction's entry is dropped when it
// commits or rolls back.
type enabledMemo struct {
	mu sync.Mutex
	m  map[*ent.Tx]map[gid.ID][]*ent.AutoMessage
}

// enabled returns the channel's enabled auto-messages in ID order, read in
// tx at its first question about the channel.
func (e *Engine) enabled(ctx context.Context, tx *ent.Tx, channelID gid.ID) ([]*ent.AutoMessage, error) {
	memo := &e.memo
	memo.mu.Lock()
	autos, ok := memo.m[tx][channelID]
	memo.mu.Unlock()
	if ok {
		return autos, nil
	}
	autos, err := tx.AutoMessage.Query().
		Where(entautomessage.ChannelID(channelID), entautomessage.Enabled(true)).
		Order(entautomessage.ByID()).
		All(ctx)
	if err != nil {
		return nil, err
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if memo.m == nil {
		memo.m = map[*ent.Tx]map[gid.ID][]*ent.AutoMessage{}
	}
	if memo.m[tx] == nil {
		memo.m[tx] = map[gid.ID][]*ent.AutoMessage{}
		forget := func() {
			memo.mu.Lock()
			defer memo.mu.Unlock()
			delete(memo.m, tx)
		}
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				forget()
				return next.Commit(ctx, tx)
			})
		})
		tx.OnRollback(func(next ent.Rollbacker) ent.Rollbacker {
			return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
				forget()
				return next.Rollback(ctx, tx)
			})
		})
	}
	memo.m[tx][channelID] = autos
	return autos, nil
}
