package inbox

// Conversation mutations. Each changes the conversation and appends its
// CONVERSATION event in one transaction; a call that changes nothing
// appends nothing. Assigning is distribution's business
// (internal/distribute).
//
// Reading a conversation's messages needs no code here: Conversation.messages
// is entgql's Relay connection, ordered by ID (ULIDs, so creation order)
// unless orderBy says otherwise. A chat view asks for the newest page with
// messages(last: N), which returns the N newest oldest-first, and pages back
// with before: pageInfo.startCursor; messages(first: N, orderBy: {field:
// CREATED_AT, direction: DESC}) returns them newest-first.

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
)

// SetConversationStatus moves a conversation the viewer can see to OPEN,
// PENDING or RESOLVED, appending CONVERSATION STATUS_CHANGED. Reopening a
// conversation while its customer has another unresolved one on the same
// channel is a CONFLICT.
func (s *Service) SetConversationStatus(ctx context.Context, id gid.ID, status conversation.Status) (*ent.Conversation, error) {
	if err := conversation.StatusValidator(status); err != nil {
		return nil, apierr.BadInput("status", "status must be OPEN, PENDING or RESOLVED")
	}
	return s.updateConversation(ctx, id, event.TypeStatusChanged,
		func(c *ent.Conversation) bool { return c.Status != status },
		func(u *ent.ConversationUpdateOne) { u.SetStatus(status) })
}

// MarkConversationRead sets a conversation's unread count to zero,
// appending CONVERSATION UPDATED.
func (s *Service) MarkConversationRead(ctx context.Context, id gid.ID) (*ent.Conversation, error) {
	return s.updateConversation(ctx, id, event.TypeUpdated,
		func(c *ent.Conversation) bool { return c.UnreadCount != 0 },
		func(u *ent.ConversationUpdateOne) { u.SetUnreadCount(0) })
}

// updateConversation loads the conversation as the viewer (one it may not
// see is NOT_FOUND), and when changes says the update changes it, applies
// set and appends the event of type typ, all in one transaction.
func (s *Service) updateConversation(ctx context.Context, id gid.ID, typ string,
	changes func(*ent.Conversation) bool, set func(*ent.ConversationUpdateOne),
) (*ent.Conversation, error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	// The row lock makes the "does it change" check and the update one
	// step, so two concurrent identical calls append one event.
	q := tx.Conversation.Query().Where(conversation.ID(id)).WithChannel().Unique(false)
	q.Modify(database.LockRows())
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "conversation not found")
	}
	if err != nil {
		return nil, err
	}
	if !changes(c) {
		return c.Unwrap(), tx.Rollback()
	}
	upd := tx.Conversation.UpdateOneID(id)
	set(upd)
	c, err = upd.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, apierr.New(apierr.Conflict, "the customer already has an unresolved conversation on this channel")
	}
	if err != nil {
		return nil, err
	}
	if _, err := event.Append(ctx, tx, event.Entry{
		OrgID: c.OrganizationID, Topic: event.TopicConversation, Type: typ,
		ChannelID: c.ChannelID, ConversationID: c.ID,
	}); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return c.Unwrap(), nil
}
