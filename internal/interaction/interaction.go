// Package interaction is a customer's interactions with the organization as
// one list, newest first, whatever their kind: today the messages of their
// conversations and their calls (README.md, "Customers").
//
// Each kind is a Kind: its own table, order column and visibility (the ent
// privacy policy of its entity, evaluated for the viewer of the request).
// A page asks every kind for the keys of one more row than the page past
// the cursor, in the page's order, merges them, and loads the nodes it
// keeps kind by kind with what the request selects of them, so a page
// costs the same statements whatever its size. Cursors are the (time, ID)
// of an interaction, which orders every kind alike: a new kind (ZNS
// messages) is one more Kind, and the cursors handed out before it stay
// valid.
package interaction

import (
	"cmp"
	"context"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

// Key is an interaction's place in the list: when it happened, then its ID
// (unique across kinds, since IDs carry their kind's prefix).
type Key struct {
	At time.Time
	ID gid.ID
}

// Kind is one kind of interaction.
type Kind interface {
	// Keys returns, in one statement, the keys of up to n of the
	// customer's interactions of this kind that the viewer of ctx may
	// see: those strictly after from (nil: from the start) in the list's
	// order, newest first, or strictly before it, oldest first, when
	// backward.
	Keys(ctx context.Context, customerID gid.ID, from *Key, backward bool, n int) ([]Key, error)
	// Load returns the interactions of this kind with the IDs, loading
	// with them what the GraphQL request of ctx selects of them (ctx's
	// field is the node; see nodeContext).
	Load(ctx context.Context, ids []gid.ID) (map[gid.ID]ent.Noder, error)
	// Count returns how many of the customer's interactions of this kind
	// the viewer of ctx may see.
	Count(ctx context.Context, customerID gid.ID) (int, error)
}

// Edge is an interaction of a page with its cursor.
type Edge struct {
	Node   ent.Noder
	Cursor ent.Cursor
}

// Connection is a page of a customer's interactions.
type Connection struct {
	Edges    []*Edge
	PageInfo ent.PageInfo

	customerID gid.ID
	kinds      []Kind
}

// TotalCount returns how many interactions of every kind the customer has
// that the viewer of ctx may see: one statement per kind, run only when a
// client asks for it.
func (c *Connection) TotalCount(ctx context.Context) (int, error) {
	total := 0
	for _, k := range c.kinds {
		n, err := k.Count(ctx, c.customerID)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Paginate returns the page of the customer's interactions of kinds that
// the Relay arguments select, newest first. One of first and last must be
// given (the API's page size limit sets first when neither is).
func Paginate(ctx context.Context, kinds []Kind, customerID gid.ID, after *ent.Cursor, first *int, before *ent.Cursor, last *int) (*Connection, error) {
	conn := &Connection{customerID: customerID, kinds: kinds, Edges: []*Edge{}}
	n, backward := 0, false
	var from *Key
	switch {
	case first != nil && last != nil:
		return nil, apierr.BadInput("last", "first and last cannot be given together")
	case first != nil:
		n = *first
		if after != nil {
			k, err := keyOf(after, "after")
			if err != nil {
				return nil, err
			}
			from = &k
		}
		conn.PageInfo.HasPreviousPage = after != nil
	case last != nil:
		n, backward = *last, true
		if before != nil {
			k, err := keyOf(before, "before")
			if err != nil {
				return nil, err
			}
			from = &k
		}
		conn.PageInfo.HasNextPage = before != nil
	default:
		return nil, apierr.BadInput("first", "give first or last")
	}
	if n < 0 {
		return nil, apierr.BadInput("first", "a page size cannot be negative")
	}
	if n == 0 {
		return conn, nil
	}
	type item struct {
		Key
		kind int
	}
	var items []item
	for i, k := range kinds {
		keys, err := k.Keys(ctx, customerID, from, backward, n+1)
		if err != nil {
			return nil, err
		}
		for _, key := range keys {
			items = append(items, item{key, i})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		c := compare(a.Key, b.Key)
		if backward {
			return -c
		}
		return c
	})
	if len(items) > n {
		items = items[:n]
		if backward {
			conn.PageInfo.HasPreviousPage = true
		} else {
			conn.PageInfo.HasNextPage = true
		}
	}
	if backward {
		slices.Reverse(items)
	}
	ids := make([][]gid.ID, len(kinds))
	for _, it := range items {
		ids[it.kind] = append(ids[it.kind], it.ID)
	}
	nodes := make([]map[gid.ID]ent.Noder, len(kinds))
	nctx := nodeContext(ctx)
	for i, k := range kinds {
		if len(ids[i]) == 0 {
			continue
		}
		var err error
		if nodes[i], err = k.Load(nctx, ids[i]); err != nil {
			return nil, err
		}
	}
	for _, it := range items {
		node, ok := nodes[it.kind][it.ID]
		if !ok {
			continue // deleted between the two statements
		}
		conn.Edges = append(conn.Edges, &Edge{Node: node, Cursor: ent.Cursor{ID: it.ID, Value: it.At.UTC()}})
	}
	if l := len(conn.Edges); l > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[l-1].Cursor
	}
	return conn, nil
}

// compare orders keys as the list does, newest first, the greater ID
// first among interactions of the same instant.
func compare(a, b Key) int {
	if c := b.At.Compare(a.At); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// keyOf reads a cursor Paginate handed out.
func keyOf(c *ent.Cursor, field string) (Key, error) {
	at, ok := c.Value.(time.Time)
	if !ok || c.ID == "" {
		return Key{}, apierr.BadInput(field, "not a cursor of this list of interactions")
	}
	return Key{At: at, ID: c.ID}, nil
}

// nodeContext returns ctx with the field of the nodes of the page in
// place of the connection's (edges { node }), so that a kind's Load
// eagerly loads what the request selects of its nodes; ctx when the
// request selects no node.
func nodeContext(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return ctx
	}
	op := graphql.GetOperationContext(ctx)
	for _, edges := range graphql.CollectFields(op, fc.Field.Selections, nil) {
		if edges.Name != "edges" {
			continue
		}
		for _, node := range graphql.CollectFields(op, edges.Selections, nil) {
			if node.Name == "node" {
				return graphql.WithFieldContext(ctx, &graphql.FieldContext{Parent: fc, Object: "InteractionEdge", Field: node})
			}
		}
	}
	return ctx
}

// past returns the predicate of a kind's rows strictly past from in the
// list's order (backward: strictly before it), dated by the column at,
// and the order to read them in; a nil from restricts nothing.
func past(at string, from *Key, backward bool) (where func(*sql.Selector), order []func(*sql.Selector)) {
	dir, beyond := ent.Desc, sql.LT
	if backward {
		dir, beyond = ent.Asc, sql.GT
	}
	where = func(s *sql.Selector) {
		if from == nil {
			return
		}
		s.Where(sql.Or(
			beyond(s.C(at), from.At),
			sql.And(sql.EQ(s.C(at), from.At), beyond(s.C("id"), from.ID)),
		))
	}
	return where, []func(*sql.Selector){dir(at), dir("id")}
}
