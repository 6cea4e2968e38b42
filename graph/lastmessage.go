package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// A conversation's last message is read by its key (last_message_id),
// never by searching the conversation's messages. The conversations were
// loaded under the viewer's visibility rules, so their last messages are
// read with policy.VisibilityChecked: tenant, scope and role rules apply as
// always, but each message is not checked against the visibility rules
// again.

// loadLastMessages reads the last messages of a page of conversations in
// one query when the operation asks for them, with the columns and edges
// the operation asks for (entgql's field collection).
func loadLastMessages(ctx context.Context, client *ent.Client, page *ent.ConversationConnection) error {
	if page == nil || len(page.Edges) == 0 {
		return nil
	}
	fields := selected(ctx, "edges", "node", "lastMessage")
	if len(fields) == 0 {
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
	q := client.Message.Query().Where(message.IDIn(ids...))
	if len(fields) == 1 {
		// Several selections of lastMessage (aliases) would each need
		// their own columns; then every column is read.
		var err error
		q, err = q.CollectFields(graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: fields[0]}), "Message")
		if err != nil {
			return err
		}
	}
	ms, err := q.All(policy.VisibilityChecked(ctx))
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
	m, err := c.QueryLastMessage().Only(policy.VisibilityChecked(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// selected returns the selections of the field path under the current
// field (through fragments and aliases), e.g. edges, node, lastMessage
// under a connection.
func selected(ctx context.Context, path ...string) []graphql.CollectedField {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	level := []graphql.CollectedField{fc.Field}
	for _, name := range path {
		var next []graphql.CollectedField
		for _, parent := range level {
			for _, f := range graphql.CollectFields(op, parent.Selections, nil) {
				if f.Name == name {
					next = append(next, f)
				}
			}
		}
		level = next
	}
	return level
}
