package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
)

// entgql selects only the columns a page asks for, unless the page's nodes
// ask a field it does not know, one resolved here: then it reads every
// column, because such a resolver may need any. lastMessage needs one
// column, last_message_id. lastMessageColumns lets a conversation page that
// asks lastMessage beside entgql's own fields read only the columns those
// fields map to and last_message_id: for the inbox page, 8 of a
// conversation's 17 columns, and not 4 timestamps the driver would parse
// one by one.

// entSchemaSource is the schema file entgql generates; the fields it
// defines are the ones its field collection maps to columns and edges.
const entSchemaSource = "ent.graphqls"

// lastMessageColumns returns the context to paginate q in: the current
// field's context with lastMessage taken out of the page's nodes, and q
// then selects last_message_id as well. Unless the page's nodes ask
// lastMessage and otherwise only fields entgql knows, it returns ctx and
// leaves q as it is.
func lastMessageColumns(ctx context.Context, q *ent.ConversationQuery) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return ctx
	}
	op := graphql.GetOperationContext(ctx)
	// entgql collects the first selection aliased edges, and under it the
	// first aliased node (its collectedField); so does this.
	root := graphql.CollectFields(op, fc.Field.Selections, nil)
	ei := aliased(root, "edges")
	if ei < 0 {
		return ctx
	}
	edges := graphql.CollectFields(op, root[ei].Selections, nil)
	ni := aliased(edges, "node")
	if ni < 0 {
		return ctx
	}
	var (
		kept  []graphql.CollectedField
		asked bool
	)
	for _, f := range graphql.CollectFields(op, edges[ni].Selections, nil) {
		switch {
		case f.Name == "lastMessage":
			asked = true
		case f.Name == "__typename" || fromEntSchema(f.Definition):
			kept = append(kept, f)
		default:
			// Another resolver's field: entgql reads every column.
			return ctx
		}
	}
	if !asked {
		return ctx
	}
	// CollectFields caches what it returns for the operation: the
	// rewrite works on copies.
	edges = slices.Clone(edges)
	edges[ni].Selections = selectionSet(kept)
	root = slices.Clone(root)
	root[ei].Selections = selectionSet(edges)
	page := *fc
	page.Field.Selections = selectionSet(root)
	q.Select(conversation.FieldLastMessageID)
	return graphql.WithFieldContext(ctx, &page)
}

// aliased returns the index of the first field with the alias, or -1.
func aliased(fields []graphql.CollectedField, alias string) int {
	for i, f := range fields {
		if f.Alias == alias {
			return i
		}
	}
	return -1
}

// fromEntSchema reports whether entgql generated the field's definition.
func fromEntSchema(def *ast.FieldDefinition) bool {
	return def != nil && def.Position != nil && def.Position.Src != nil && def.Position.Src.Name == entSchemaSource
}

// selectionSet turns collected fields back into a selection set, each
// field with its merged selections (fragments already applied).
func selectionSet(fields []graphql.CollectedField) ast.SelectionSet {
	set := make(ast.SelectionSet, len(fields))
	for i, f := range fields {
		field := *f.Field
		field.SelectionSet = f.Selections
		set[i] = &field
	}
	return set
}
