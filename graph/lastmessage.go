package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// A conversation's last message is read by its key (last_message_id),
// never by searching the conversation's messages. The conversations were
// loaded under the viewer's rules, so their last messages are theirs to
// see: they are read as the system of the conversations' organization,
// which keeps the tenant filter but does not check each message's
// conversation against the visibility rules again.

// loadLastMessages reads the last messages of a page of conversations in
// one query when the operation asks for them.
func loadLastMessages(ctx context.Context, client *ent.Client, page *ent.ConversationConnection) error {
	if page == nil || len(page.Edges) == 0 || !selects(ctx, "edges", "node", "lastMessage") {
		return nil
	}
	byID := make(map[gid.ID][]*ent.Conversation, len(page.Edges))
	ids := make([]gid.ID, 0, len(page.Edges))
	for _, e := range page.Edges {
		if id := e.Node.LastMessageID; id != nil {
			if _, dup := byID[*id]; !dup {
				ids = append(ids, *id)
			}
			byID[*id] = append(byID[*id], e.Node)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ms, err := client.Message.Query().Where(message.IDIn(ids...)).
		All(viewer.SystemContext(ctx, page.Edges[0].Node.OrganizationID))
	if err != nil {
		return err
	}
	for _, m := range ms {
		for _, c := range byID[m.ID] {
			c.Edges.LastMessage = m
		}
	}
	return nil
}

// lastMessage returns c's last message, loaded with its page or else read
// by its key.
func lastMessage(ctx context.Context, c *ent.Conversation) (*ent.Message, error) {
	if c.LastMessageID == nil {
		return nil, nil
	}
	if c.Edges.LastMessage != nil {
		return c.Edges.LastMessage, nil
	}
	m, err := c.QueryLastMessage().Only(viewer.SystemContext(ctx, c.OrganizationID))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// selects reports whether the current field's selection reaches the
// field path (through fragments and aliases), e.g. edges, node,
// lastMessage under a connection.
func selects(ctx context.Context, path ...string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return false
	}
	op := graphql.GetOperationContext(ctx)
	sets := [][]graphql.CollectedField{graphql.CollectFields(op, fc.Field.Selections, nil)}
	for _, name := range path {
		var next [][]graphql.CollectedField
		for _, fields := range sets {
			for _, f := range fields {
				if f.Name == name {
					next = append(next, graphql.CollectFields(op, f.Selections, nil))
				}
			}
		}
		if len(next) == 0 {
			return false
		}
		sets = next
	}
	return true
}
