package call

import (
	"context"

	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// CanFollow reports whether the viewer of ctx may receive the events of a
// call or permission of customerID on channelID: owners, admins, API keys
// (with EVENTS) and the system receive every one; an agent those of the
// OAs they operate, and those of customers with a conversation the agent
// may see (asked as the agent, so the Conversation policy decides).
func (s *Service) CanFollow(ctx context.Context, channelID, customerID gid.ID) (bool, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return false, nil
	}
	if v.System || v.IsAPIKey() || v.IsAdmin() {
		return true, nil
	}
	if !v.IsUser() {
		return false, nil
	}
	if ok, err := isOperator(viewer.SystemContext(ctx, v.OrgID), s.client, channelID, v.UserID); err != nil || ok {
		return ok, err
	}
	return s.client.Conversation.Query().Where(conversation.CustomerID(customerID)).Exist(ctx)
}
