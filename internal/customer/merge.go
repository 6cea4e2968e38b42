package customer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/callpermission"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/tag"
	"github.com/dakenh/dakenh/ent/znscampaignrecipient"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Merge folds the source customer into the target in one transaction and
// returns the target, the survivor.
//
// The target's non-empty fields win and its empty ones are filled from the
// source; tags are united, custom fields too (the target's value wins for a
// key both have), doNotContact holds if either customer asked for it and the
// score is the higher one. Everything that references the source is moved to
// the target (moveReferences), then the source is deleted.
//
// A source or target the viewer cannot see, including one of another
// organization, is NOT_FOUND. Only OWNER and ADMIN users and API keys with
// the WRITE scope may merge.
func Merge(ctx context.Context, client *ent.Client, sourceID, targetID gid.ID) (*ent.Customer, error) {
	if _, err := requireBulkAccess(ctx, viewer.ScopeWrite, "merge customers"); err != nil {
		return nil, err
	}
	if sourceID == targetID {
		return nil, apierr.BadInput("sourceId", "a customer cannot be merged into itself")
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("customer: starting a merge: %w", err)
	}
	merged, err := merge(ctx, tx, sourceID, targetID)
	if err != nil {
		return nil, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("customer: committing a merge: %w", err)
	}
	return merged.Unwrap(), nil
}

// merge does Merge's work inside tx. It takes no row locks: a concurrent
// merge or delete of the same customers makes one of the two transactions
// fail on its delete or update (the row is gone) and roll back, so nothing is
// lost, only refused.
func merge(ctx context.Context, tx *ent.Tx, sourceID, targetID gid.ID) (*ent.Customer, error) {
	source, err := get(ctx, tx, sourceID, "sourceId")
	if err != nil {
		return nil, err
	}
	target, err := get(ctx, tx, targetID, "targetId")
	if err != nil {
		return nil, err
	}
	if err := moveReferences(ctx, tx, source.ID, target.ID); err != nil {
		return nil, err
	}
	// The source goes first: the unique indexes on phone and email would
	// refuse the target taking them over while the source still holds them.
	if err := tx.Customer.DeleteOneID(source.ID).Exec(ctx); err != nil {
		return nil, fmt.Errorf("customer: deleting the merged customer: %w", err)
	}

	u := tx.Customer.UpdateOne(target).
		SetScore(max(target.Score, source.Score)).
		SetDoNotContact(target.DoNotContact || source.DoNotContact)
	if target.Phone == nil && source.Phone != nil {
		u.SetPhone(*source.Phone)
	}
	if target.Email == nil && source.Email != nil {
		u.SetEmail(*source.Email)
	}
	if target.AvatarURL == nil {
		u.SetNillableAvatarURL(source.AvatarURL)
	}
	if target.Gender == nil {
		u.SetNillableGender(source.Gender)
	}
	if target.Birthday == nil {
		u.SetNillableBirthday(source.Birthday)
	}
	if target.Address == nil {
		u.SetNillableAddress(source.Address)
	}
	if target.OwnerID == nil {
		u.SetNillableOwnerID(source.OwnerID)
	}
	if len(source.CustomFields) > 0 {
		custom := maps.Clone(source.CustomFields)
		maps.Copy(custom, target.CustomFields)
		u.SetCustomFields(custom)
	}
	merged, err := u.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("customer: updating the merge target: %w", err)
	}
	return merged, nil
}

// get loads a customer for Merge; a missing ID and another organization's
// ID give the same NOT_FOUND, so IDs cannot be probed across tenants.
func get(ctx context.Context, tx *ent.Tx, id gid.ID, field string) (*ent.Customer, error) {
	c, err := tx.Customer.Get(trustedRead(ctx), id)
	if ent.IsNotFound(err) {
		return nil, &apierr.Error{Code: apierr.NotFound, Field: field, Message: fmt.Sprintf("customer %s not found", id), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("customer: loading %s: %w", id, err)
	}
	return c, nil
}

// referenceMover moves the rows of one table that reference customer from
// to customer to, within tx.
type referenceMover func(ctx context.Context, tx *ent.Tx, from, to gid.ID) error

// referenceMovers has one mover per foreign key to the customers table,
// keyed "table.column". TestMoveReferencesCoversEveryForeignKey compares the
// keys with the generated schema, so an entity that starts referencing
// customers (channel identities, conversations, calls, ZNS sends…) fails the
// build until merge knows how to move it.
var referenceMovers = map[string]referenceMover{
	"customer_tags.customer_id":           moveTags,
	"identities.customer_id":              moveIdentities,
	"conversations.customer_id":           moveConversations,
	"calls.customer_id":                   moveCalls,
	"call_permissions.customer_id":        moveCallPermissions,
	"zns_messages.customer_id":            moveZnsMessages,
	"zns_campaign_recipients.customer_id": moveZnsCampaignRecipients,
}

// moveZnsCampaignRecipients makes the source's places in ZNS campaigns the
// target's; their tracking IDs stay, so nobody is sent to twice.
func moveZnsCampaignRecipients(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	return tx.ZnsCampaignRecipient.Update().Where(znscampaignrecipient.CustomerID(from)).SetCustomerID(to).Exec(trustedRead(ctx))
}

// moveZnsMessages gives the source's ZNS messages to the target, so they
// stay in the survivor's interactions and its reports. It acts as the
// system: ZNS messages are written only by the zns package.
func moveZnsMessages(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	return tx.ZnsMessage.Update().Where(znsmessage.CustomerID(from)).SetCustomerID(to).Exec(trustedRead(ctx))
}

// moveCalls gives the source's call history to the target. It acts as the
// system: calls are written only by the call package and the webhooks.
func moveCalls(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	return tx.Call.Update().Where(call.CustomerID(from)).SetCustomerID(to).Exec(trustedRead(ctx))
}

// moveCallPermissions gives the source's call permissions to the target, so
// a grant the customer gave still lets the OA call the survivor.
func moveCallPermissions(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	return tx.CallPermission.Update().Where(callpermission.CustomerID(from)).SetCustomerID(to).Exec(trustedRead(ctx))
}

// moveIdentities makes the source's channel identities the target's, so
// their future messages reach the survivor. It acts as the system within the
// organization: the merge is authorized, and identities on channels the
// caller cannot see must move too.
func moveIdentities(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	return tx.Identity.Update().Where(identity.CustomerID(from)).SetCustomerID(to).Exec(trustedRead(ctx))
}

// moveConversations gives the source's conversations, with their messages,
// to the target. A customer has one unresolved conversation per channel, so
// where both have one the source's is resolved first and stays as history.
func moveConversations(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	sys := trustedRead(ctx)
	open, err := tx.Conversation.Query().
		Where(conversation.CustomerID(to), conversation.StatusNEQ(conversation.StatusRESOLVED)).
		All(sys)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		channels := make([]gid.ID, len(open))
		for i, c := range open {
			channels[i] = c.ChannelID
		}
		err := tx.Conversation.Update().
			Where(
				conversation.CustomerID(from),
				conversation.StatusNEQ(conversation.StatusRESOLVED),
				conversation.ChannelIDIn(channels...),
			).
			SetStatus(conversation.StatusRESOLVED).
			Exec(sys)
		if err != nil {
			return err
		}
	}
	return tx.Conversation.Update().Where(conversation.CustomerID(from)).SetCustomerID(to).Exec(sys)
}

// moveReferences moves everything that references customer from to
// customer to. Movers run in a fixed order so that a failing merge fails the
// same way every time.
func moveReferences(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	for _, ref := range slices.Sorted(maps.Keys(referenceMovers)) {
		if err := referenceMovers[ref](ctx, tx, from, to); err != nil {
			return fmt.Errorf("customer: moving %s: %w", ref, err)
		}
	}
	return nil
}

// moveTags gives to every tag of from that it lacks; from's own links go
// with it when it is deleted.
func moveTags(ctx context.Context, tx *ent.Tx, from, to gid.ID) error {
	read := trustedRead(ctx)
	fromTags, err := tx.Tag.Query().Where(tag.HasCustomersWith(customer.ID(from))).IDs(read)
	if err != nil {
		return err
	}
	if len(fromTags) == 0 {
		return nil
	}
	toTags, err := tx.Tag.Query().Where(tag.HasCustomersWith(customer.ID(to))).IDs(read)
	if err != nil {
		return err
	}
	missing := slices.DeleteFunc(fromTags, func(id gid.ID) bool { return slices.Contains(toTags, id) })
	if len(missing) == 0 {
		return nil
	}
	return tx.Customer.UpdateOneID(to).AddTagIDs(missing...).Exec(ctx)
}
