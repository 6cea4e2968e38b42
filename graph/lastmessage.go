package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/policy"
)

// A conversation's last message is read by its key (last_message_id),
// never by searching the conversation's messages. A page of conversations
// reads its customers, assignees, channels and last messages in the page's
// own statement (ent's JoinEdges). The conversations are read
// under the viewer's visibility rules, so their last messages are read with
// policy.VisibilityChecked: tenant, scope and role rules apply as always,
// but each message is not checked against the visibility rules again.

// joinedContexts are the contexts of a page's joined edges (JoinEdges).
var joinedContexts = map[string]func(context.Context) context.Context{
	conversation.EdgeLastMessage: policy.VisibilityChecked,
}

// withLastMessages makes a page of conversations load their last messages
// when the operation asks for them, with the columns and edges the
// operation asks for (entgql's field collection).
func withLastMessages(ctx context.Context, q *ent.ConversationQuery) error {
	fields := selected(ctx, "edges", "node", "lastMessage")
	if len(fields) == 0 {
		return nil
	}
	var err error
	q.WithLastMessage(func(mq *ent.MessageQuery) {
		// Several selections of lastMessage (aliases) would each need
		// their own columns; then every column is read.
		if len(fields) == 1 {
			_, err = mq.CollectFields(graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: fields[0]}), "Message")
		}
	})
	return err
}

// lastMessage returns c's last message, loaded with its page or else read
// by its key.
func lastMessage(ctx context.Context, c *ent.Conversation) (*ent.Message, error) {
	if c.LastMessageID == nil {
		return nil, nil
	}
	if m, err := c.Edges.LastMessageOrErr(); !ent.IsNotLoaded(err) {
		return m, nil
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
