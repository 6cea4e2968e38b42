package inbox

import (
	"context"
	"errors"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/identity"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Column limits of identities and customers (ent/schema).
const (
	maxDisplayName = 200
	maxAvatarURL   = 2048
)

// FetchProfiles reads the Zalo profile (name, avatar, follower) of every
// identity on a connected OA whose profile was never read, and returns how
// many it read. The names and avatars go to the identities, and to their
// customers where those still have the placeholder name and no avatar.
//
// It runs apart from webhook processing because it calls Zalo, which may
// be slow or down: a message is stored and shown first, and its sender's
// name follows. When Zalo fails for a reason that may pass (an outage, an
// expired token awaiting refresh), the OA's profiles are left for a later
// call; when it refuses a user for good (say, an anonymous one), the
// profile is marked read so it is not asked again.
func (in *Inbound) FetchProfiles(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx, "")
	read := 0
	for {
		q := in.client.Identity.Query().
			Where(
				identity.ProfileFetchedAtIsNil(),
				identity.HasChannelWith(
					channel.KindEQ(channel.KindZALO_OA),
					channel.StatusEQ(channel.StatusCONNECTED),
				),
			).
			WithChannel().
			Order(identity.ByID()).
			Limit(in.batch)
		if blocked := in.blockedChannels(); len(blocked) > 0 {
			q.Where(identity.ChannelIDNotIn(blocked...))
		}
		idts, err := q.All(sys)
		if err != nil {
			return read, err
		}
		for _, idt := range idts {
			if in.isBlocked(idt.ChannelID) {
				continue
			}
			ok, err := in.fetchProfile(ctx, idt)
			if err != nil {
				return read, err
			}
			if ok {
				read++
			}
		}
		// Every identity of the batch was either marked read or had its
		// channel blocked, so the next query moves on.
		if len(idts) < in.batch {
			return read, nil
		}
	}
}

// fetchProfile reads one identity's profile and stores it, reporting
// whether it did; an error is returned only for database failures.
func (in *Inbound) fetchProfile(ctx context.Context, idt *ent.Identity) (bool, error) {
	ch := idt.Edges.Channel
	// ZaloAccessToken refreshes a token that is about to expire, under
	// the same lock as the refresh worker.
	token, err := in.svc.ZaloAccessToken(ctx, ch.ID)
	if err != nil || token == "" {
		in.block(ch.ID)
		in.log.WarnContext(ctx, "no usable access token to read Zalo profiles", "channel", ch.ID, "err", err)
		return false, nil
	}
	u, err := in.zalo.UserDetail(ctx, token, idt.ExternalID)
	if zalo.IsTokenInvalid(err) {
		// Refused early: refresh (or take the token another caller has
		// just obtained) and read once more.
		if token, err = in.svc.ZaloAccessTokenAfterRefusal(ctx, ch.ID, token); err != nil {
			in.block(ch.ID)
			in.log.WarnContext(ctx, "the refused Zalo access token could not be refreshed", "channel", ch.ID, "err", err)
			return false, nil
		}
		u, err = in.zalo.UserDetail(ctx, token, idt.ExternalID)
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if apiErr, ok := errors.AsType[*zalo.APIError](err); zalo.IsTransient(err) || ok && apiErr.TokenInvalid() {
			in.block(ch.ID)
			in.log.InfoContext(ctx, "reading a Zalo profile failed; will retry", "channel", ch.ID, "identity", idt.ID, "err", err)
			return false, nil
		}
		in.log.InfoContext(ctx, "Zalo refused a profile; not asking again", "channel", ch.ID, "identity", idt.ID, "err", err)
		u = nil
	}
	sys := viewer.SystemContext(ctx, idt.OrganizationID)
	tx, err := in.client.Tx(sys)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	if err := in.storeProfile(sys, tx, ch, idt, u); err != nil {
		return false, err
	}
	return u != nil, tx.Commit()
}

// storeProfile records profile u (nil: Zalo has none to give) of idt.
func (in *Inbound) storeProfile(ctx context.Context, tx *ent.Tx, ch *ent.Channel, idt *ent.Identity, u *zalo.User) error {
	now := in.now()
	upd := tx.Identity.UpdateOneID(idt.ID).
		Where(identity.ProfileFetchedAtIsNil()).
		SetProfileFetchedAt(now)
	if u == nil {
		err := upd.Exec(ctx)
		if ent.IsNotFound(err) {
			return nil // read meanwhile by another replica
		}
		return err
	}
	if name := clip(u.DisplayName, maxDisplayName); name != "" {
		upd.SetDisplayName(name)
	}
	if u.Avatar != "" && len(u.Avatar) <= maxAvatarURL {
		upd.SetAvatarURL(u.Avatar)
	}
	upd.SetFollower(u.IsFollower)
	if err := upd.Exec(ctx); err != nil {
		if ent.IsNotFound(err) {
			return nil
		}
		return err
	}

	cus, err := tx.Customer.Get(ctx, idt.CustomerID)
	if err != nil {
		return err
	}
	cu := tx.Customer.UpdateOne(cus)
	changed := false
	// Only the placeholder is replaced: a name a person typed, or one the
	// customer submitted, is better than the Zalo display name.
	if cus.Name == placeholderName(ch.Kind, idt.ExternalID) {
		if n, err := crm.NormalizeName(u.DisplayName); err == nil {
			cu.SetName(n)
			changed = true
		}
	}
	if (cus.AvatarURL == nil || *cus.AvatarURL == "") && u.Avatar != "" && len(u.Avatar) <= maxAvatarURL {
		cu.SetAvatarURL(u.Avatar)
		changed = true
	}
	if !changed {
		return nil
	}
	if err := cu.Exec(ctx); err != nil {
		return err
	}
	// Inboxes show the customer's name with the conversation: tell them.
	convs, err := tx.Conversation.Query().
		Where(
			conversation.ChannelID(ch.ID),
			conversation.CustomerID(cus.ID),
			conversation.StatusNEQ(conversation.StatusRESOLVED),
		).
		IDs(ctx)
	if err != nil {
		return err
	}
	p := &processing{tx: tx, ch: ch, now: now}
	for _, id := range convs {
		p.emit(event.TopicConversation, event.TypeUpdated, id, "")
	}
	return appendEvents(ctx, tx, p.events)
}

// block skips the channel's profiles for profileRetry.
func (in *Inbound) block(id gid.ID) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.profileBlocked[id] = in.now().Add(profileRetry)
}

// isBlocked reports whether the channel's profiles are being skipped.
func (in *Inbound) isBlocked(id gid.ID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	until, ok := in.profileBlocked[id]
	return ok && in.now().Before(until)
}

// blockedChannels returns the channels whose profiles are being skipped,
// forgetting those whose time is up.
func (in *Inbound) blockedChannels() []gid.ID {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := in.now()
	var ids []gid.ID
	for id, until := range in.profileBlocked {
		if now.Before(until) {
			ids = append(ids, id)
		} else {
			delete(in.profileBlocked, id)
		}
	}
	return ids
}
