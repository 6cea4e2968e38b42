package inbox

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/gid"
)

// conversationUpdate is an update of conversations: one
// (ent.ConversationUpdateOne) or those its predicates select
// (ent.ConversationUpdate).
type conversationUpdate[U any] interface {
	Modify(...func(*sql.UpdateBuilder)) U
}

// setLastMessage makes m the conversation's last message in upd, which
// stores it in the transaction that stored m. It sets the column rather
// than the edge: m was just created on this conversation in this
// transaction, so the tenancy guard's check of the edge would be a query
// that proves nothing.
func setLastMessage[U conversationUpdate[U]](upd U, m *ent.Message) U {
	return setLastMessageID(upd, m.ID)
}

// setLastMessageID is setLastMessage of the message with that ID.
func setLastMessageID[U conversationUpdate[U]](upd U, id gid.ID) U {
	return upd.Modify(func(u *sql.UpdateBuilder) { u.Set(conversation.FieldLastMessageID, string(id)) })
}

// BackfillLastMessages gives every conversation that has messages but no
// last message its newest one: those stored before conversations kept it.
// It is idempotent and cheap once done, so every replica runs it at start.
func BackfillLastMessages(ctx context.Context, client *ent.Client) error {
	_, err := client.ExecContext(ctx, `UPDATE conversations SET last_message_id = (
	SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
	ORDER BY m.created_at DESC, m.id DESC LIMIT 1)
WHERE last_message_id IS NULL AND last_message_at IS NOT NULL`)
	return err
}
