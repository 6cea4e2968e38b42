package ent

// This file is written by hand; ent's generator leaves it as it is.

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/user"
)

// JoinEdges makes the query read the to-one edges it eager-loads
// (channel, customer, assignee, last message) in the query's own statement
// instead of one statement per edge. Each such edge query is prepared as
// it would be when it runs on its own (its traversers and privacy rules,
// which filter it), and joined with LEFT JOIN as a subquery on the
// conversation's foreign key; its columns are read under aliases into the
// edge's entity. An edge query that cannot be a plain subquery (it loads
// edges of its own, orders, limits, has modifiers or interceptors that
// wrap its execution) is loaded as usual, by its own statement, and so is
// every edge when another interceptor is added to the query after this
// one.
//
// contexts gives, by edge name, the context an edge's query is prepared in
// when it is joined (a context a privacy rule reads); other edges use the
// query's own.
func (_q *ConversationQuery) JoinEdges(contexts map[string]func(context.Context) context.Context) *ConversationQuery {
	_q.inters = append(_q.inters, &joinEdges{contexts: contexts})
	return _q
}

type joinEdges struct {
	contexts map[string]func(context.Context) context.Context
}

// Intercept reads the query's joinable edges in its statement. It runs the
// query's statement itself (sqlAll, with a hook that scans the joined
// columns), so only as the query's innermost interceptor.
func (j *joinEdges) Intercept(next Querier) Querier {
	return QuerierFunc(func(ctx context.Context, query Query) (Value, error) {
		q, ok := query.(*ConversationQuery)
		if qc := ent.QueryFromContext(ctx); !ok || qc == nil || qc.Op != ent.OpQueryAll ||
			q.sql != nil || q.path != nil || len(q.inters) == 0 || q.inters[len(q.inters)-1] != Interceptor(j) {
			return next.Query(ctx, query)
		}
		var joined []*joinedEdge
		for _, e := range conversationJoins {
			eq := e.take(q)
			if eq == nil {
				continue
			}
			ectx := ctx
			if f := j.contexts[e.name]; f != nil {
				ectx = f(ctx)
			}
			je, err := e.join(ectx, eq)
			if err != nil {
				return nil, err
			}
			if je == nil {
				continue
			}
			je.edge = e
			e.drop(q)
			joined = append(joined, je)
			q.modifiers = append(q.modifiers, je.modify)
		}
		if len(joined) == 0 {
			return next.Query(ctx, query)
		}
		width := 0
		for _, je := range joined {
			width += len(je.slots)
		}
		var edges []scannedNode // row by row, the joined edges' entities
		nodes, err := q.sqlAll(ctx, func(_ context.Context, spec *sqlgraph.QuerySpec) {
			scan, assign := spec.ScanValues, spec.Assign
			spec.ScanValues = func(columns []string) ([]any, error) {
				own, err := scan(columns[:len(columns)-width])
				if err != nil {
					return nil, err
				}
				values := append(make([]any, 0, len(columns)), own...)
				for _, je := range joined {
					values = append(values, je.reset()...)
				}
				return values, nil
			}
			spec.Assign = func(columns []string, values []any) error {
				own := len(columns) - width
				if err := assign(columns[:own], values[:own]); err != nil {
					return err
				}
				for _, je := range joined {
					n, err := je.node()
					if err != nil {
						return err
					}
					edges = append(edges, n)
				}
				return nil
			}
		})
		if err != nil {
			return nil, err
		}
		for i, n := range nodes {
			for k, je := range joined {
				if e := edges[i*len(joined)+k]; e != nil {
					je.edge.set(n, e)
				}
				n.Edges.loadedTypes[je.edge.loaded] = true
			}
		}
		return nodes, nil
	})
}

// joinableEdge is one to-one edge of a conversation whose key is a column
// of the conversation (its join knows which).
type joinableEdge struct {
	name   string // the edge's name
	loaded int    // the edge's index in ConversationEdges' loadedTypes
	take   func(*ConversationQuery) any
	drop   func(*ConversationQuery)
	join   func(ctx context.Context, eq any) (*joinedEdge, error)
	set    func(*Conversation, scannedNode)
}

var conversationJoins = []joinableEdge{
	conversationJoin(conversation.EdgeChannel, conversation.FieldChannelID, (*ConversationEdges).ChannelOrErr,
		func(q *ConversationQuery) **ChannelQuery { return &q.withChannel },
		func(c *Conversation, n *Channel) { c.Edges.Channel = n }),
	conversationJoin(conversation.EdgeCustomer, conversation.FieldCustomerID, (*ConversationEdges).CustomerOrErr,
		func(q *ConversationQuery) **CustomerQuery { return &q.withCustomer },
		func(c *Conversation, n *Customer) { c.Edges.Customer = n }),
	conversationJoin(conversation.EdgeAssignee, conversation.FieldAssigneeID, (*ConversationEdges).AssigneeOrErr,
		func(q *ConversationQuery) **UserQuery { return &q.withAssignee },
		func(c *Conversation, n *User) { c.Edges.Assignee = n }),
	conversationJoin(conversation.EdgeLastMessage, conversation.FieldLastMessageID, (*ConversationEdges).LastMessageOrErr,
		func(q *ConversationQuery) **MessageQuery { return &q.withLastMessage },
		func(c *Conversation, n *Message) { c.Edges.LastMessage = n }),
}

// edgeQuery is what joining needs of an edge's query.
type edgeQuery interface {
	prepareQuery(context.Context) error
	sqlQuery(context.Context) *sql.Selector
	// columns returns the query's context, every column of its table
	// and its key column.
	columns() (qc *QueryContext, all []string, id string)
}

func (q *ChannelQuery) columns() (*QueryContext, []string, string) {
	return q.ctx, channel.Columns, channel.FieldID
}

func (q *CustomerQuery) columns() (*QueryContext, []string, string) {
	return q.ctx, customer.Columns, customer.FieldID
}

func (q *UserQuery) columns() (*QueryContext, []string, string) {
	return q.ctx, user.Columns, user.FieldID
}

func (q *MessageQuery) columns() (*QueryContext, []string, string) {
	return q.ctx, message.Columns, message.FieldID
}

// scannedNode is what joining needs of an edge's entity.
type scannedNode interface {
	scanValues([]string) ([]any, error)
	assignValues([]string, []any) error
}

// conversationJoin describes the edge: with returns the address of the
// query's eager load of it, set stores a loaded entity. loaded is found
// from the edge's OrErr method, so that it follows the generated code.
func conversationJoin[Q edgeQuery, N any, PN interface {
	*N
	scannedNode
}](name, column string, orErr func(*ConversationEdges) (PN, error), with func(*ConversationQuery) *Q, set func(*Conversation, PN)) joinableEdge {
	loaded := -1
	for i := range len(ConversationEdges{}.loadedTypes) {
		var e ConversationEdges
		e.loadedTypes[i] = true
		if _, err := orErr(&e); !IsNotLoaded(err) {
			loaded = i
			break
		}
	}
	if loaded < 0 {
		panic(fmt.Sprintf("ent: no loaded flag for the conversation's edge %s", name))
	}
	return joinableEdge{
		name: name, loaded: loaded,
		take: func(q *ConversationQuery) any {
			if eq := *with(q); !isNil(eq) {
				return eq
			}
			return nil
		},
		drop: func(q *ConversationQuery) { var zero Q; *with(q) = zero },
		join: func(ctx context.Context, eq any) (*joinedEdge, error) {
			return joinEdge[Q, N, PN](ctx, eq.(Q), "e_"+name, column)
		},
		set: func(c *Conversation, n scannedNode) { set(c, n.(PN)) },
	}
}

// joinedEdge is an edge query turned into a join of the parent's query.
type joinedEdge struct {
	edge    joinableEdge
	modify  func(*sql.Selector)
	columns []string // the edge's columns, in the order they are selected
	id      int      // the index of its key
	newNode func() scannedNode
	// Every row scans the edge's columns into the same slots: an entity
	// copies their values out (assignValues) before the next row.
	slots []nullable
	scan  []any               // pointers to the slots, for the row's scan
	dest  []any               // the slots' destinations, for assignValues
	seen  map[any]scannedNode // the entities read, by key
}

// joinEdge prepares eq and returns it as a join on the parent's column, or
// nil when it cannot be joined.
func joinEdge[Q edgeQuery, N any, PN interface {
	*N
	scannedNode
}](ctx context.Context, eq Q, alias, column string) (*joinedEdge, error) {
	if !plainQuery(eq) {
		return nil, nil
	}
	if err := eq.prepareQuery(ctx); err != nil {
		return nil, err
	}
	qc, columns, id := eq.columns()
	if !plainQuery(eq) || qc.Limit != nil || qc.Offset != nil || qc.Unique != nil && *qc.Unique {
		return nil, nil
	}
	if len(qc.Fields) > 0 {
		qc.AppendFieldOnce(id)
		columns = qc.Fields
	}
	dest, err := PN(nil).scanValues(columns)
	if err != nil {
		return nil, err
	}
	sub := eq.sqlQuery(ctx).As(alias)
	j := &joinedEdge{
		columns: columns,
		id:      slices.Index(columns, id),
		newNode: func() scannedNode { return PN(new(N)) },
		slots:   make([]nullable, len(columns)),
		scan:    make([]any, len(columns)),
		dest:    dest,
	}
	for i := range j.slots {
		j.slots[i].dest = dest[i]
		j.scan[i] = &j.slots[i]
	}
	j.modify = func(s *sql.Selector) {
		s.LeftJoin(sub).On(s.C(column), sub.C(id))
		for _, c := range columns {
			s.AppendSelectAs(sub.C(c), alias+"."+c)
		}
	}
	return j, nil
}

// reset readies the slots for the next row and returns them for its scan.
func (j *joinedEdge) reset() []any {
	for i := range j.slots {
		j.slots[i].valid = false
	}
	return j.scan
}

// node builds the edge's entity from the row just scanned, or returns nil
// when the join matched no row (no key, or hidden by the edge's rules), as
// an eager load leaves the edge. Rows with the same edge share its entity,
// as after an eager load.
func (j *joinedEdge) node() (scannedNode, error) {
	id := &j.slots[j.id]
	if !id.valid {
		return nil, nil
	}
	key := reflect.ValueOf(id.dest).Elem().Interface()
	if n, ok := j.seen[key]; ok {
		return n, nil
	}
	n := j.newNode()
	if err := n.assignValues(j.columns, j.dest); err != nil {
		return nil, err
	}
	if j.seen == nil {
		j.seen = make(map[any]scannedNode)
	}
	j.seen[key] = n
	return n, nil
}

// nullable scans a joined column into the destination its entity chose,
// and a NULL as the destination's zero value: a join that matched no row
// reads NULL in every column, which a key's type may refuse.
type nullable struct {
	dest  any
	valid bool
}

// Scan implements sql.Scanner.
func (n *nullable) Scan(v any) error {
	if v == nil {
		// The slot served an earlier row: clear what it read.
		reflect.ValueOf(n.dest).Elem().SetZero()
		return nil
	}
	n.valid = true
	switch d := n.dest.(type) {
	case interface{ Scan(any) error }:
		return d.Scan(v)
	case *[]byte:
		switch v := v.(type) {
		case []byte:
			*d = bytes.Clone(v)
		case string:
			*d = []byte(v)
		default:
			return fmt.Errorf("ent: unexpected %T for bytes", v)
		}
		return nil
	}
	return fmt.Errorf("ent: unexpected destination %T for a joined column", n.dest)
}

var traverserType = reflect.TypeFor[Traverser]()

// plainQuery reports whether an edge's query can be a subquery as far as
// its generated fields tell: it loads no edges of its own, sets no order,
// modifiers or path, and its interceptors only traverse (they run in
// prepareQuery).
func plainQuery(q any) bool {
	v := reflect.ValueOf(q).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case strings.HasPrefix(f.Name, "with"), f.Name == "loadTotal", f.Name == "modifiers",
			f.Name == "order", f.Name == "sql", f.Name == "path":
			if !v.Field(i).IsZero() {
				return false
			}
		case f.Name == "inters":
			for j := range v.Field(i).Len() {
				if inter := v.Field(i).Index(j); inter.IsNil() || !inter.Elem().Type().Implements(traverserType) {
					return false
				}
			}
		}
	}
	return true
}

func isNil(v any) bool {
	return v == nil || reflect.ValueOf(v).IsNil()
}
