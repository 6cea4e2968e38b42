package livetalk

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
)

// EventTyping is the visitor event, and the LIVETALK event type, of an
// agent typing in the chat.
const EventTyping = "TYPING"

// AgentTyping tells the visitor of a LiveTalk conversation that the
// viewer, a user who may see it, is typing: a LIVETALK TYPING event that
// only the visitor's stream reads. Clients send it at most every few
// seconds while the agent types. A conversation the viewer may not see is
// NOT_FOUND; one of another kind of channel is FAILED_PRECONDITION with
// reason CHANNEL_UNSUPPORTED.
func (s *Service) AgentTyping(ctx context.Context, conversationID gid.ID) error {
	v := viewer.FromContext(ctx)
	if !v.IsUser() {
		return apierr.New(apierr.Forbidden, "only a user types")
	}
	_, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (struct{}, error) {
		// As the viewer: the Conversation policy decides.
		conv, err := tx.Conversation.Query().Where(conversation.ID(conversationID)).WithChannel().Only(ctx)
		if ent.IsNotFound(err) {
			return struct{}{}, apierr.New(apierr.NotFound, "conversation not found")
		}
		if err != nil {
			return struct{}{}, err
		}
		if conv.Edges.Channel.Kind != channel.KindLIVETALK {
			return struct{}{}, &apierr.Error{Code: apierr.FailedPrecondition, Reason: inbox.ReasonChannelUnsupported,
				Message: "typing indicators are for LiveTalk chats"}
		}
		_, err = event.Append(ctx, tx, event.Entry{
			OrgID: conv.OrganizationID, Topic: event.TopicLiveTalk, Type: EventTyping,
			ChannelID: conv.ChannelID, ConversationID: conv.ID, UserID: v.UserID,
		})
		return struct{}{}, err
	})
	return err
}
