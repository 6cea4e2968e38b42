package interaction

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/gid"
)

// Kinds returns the kinds of interaction a customer has, over client. A
// new kind is a Kind over its table added here and a member of
// schema.graphqls's Interaction union.
func Kinds(client *ent.Client) []Kind {
	return []Kind{Messages{client}, Calls{client}, ZnsMessages{client}}
}

// Messages are the messages of the customer's conversations, dated by
// their creation, as the timeline dates them. The Message policy shows an
// agent those of the conversations they may see.
type Messages struct{ Client *ent.Client }

func (m Messages) query(customerID gid.ID) *ent.MessageQuery {
	return m.Client.Message.Query().Where(message.HasConversationWith(conversation.CustomerID(customerID)))
}

// Keys implements Kind.
func (m Messages) Keys(ctx context.Context, customerID gid.ID, from *Key, backward bool, n int) ([]Key, error) {
	where, order := past(message.FieldCreatedAt, from, backward)
	q := m.query(customerID).Where(where).Limit(n)
	for _, o := range order {
		q.Order(o)
	}
	msgs, err := q.Select(message.FieldID, message.FieldCreatedAt).All(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(msgs))
	for i, msg := range msgs {
		keys[i] = Key{At: msg.CreatedAt, ID: msg.ID}
	}
	return keys, nil
}

// Load implements Kind.
func (m Messages) Load(ctx context.Context, ids []gid.ID) (map[gid.ID]ent.Noder, error) {
	q, err := m.Client.Message.Query().Where(message.IDIn(ids...)).CollectFields(ctx, "Message")
	if err != nil {
		return nil, err
	}
	msgs, err := q.All(ctx)
	return byID(msgs, func(m *ent.Message) gid.ID { return m.ID }), err
}

// Count implements Kind.
func (m Messages) Count(ctx context.Context, customerID gid.ID) (int, error) {
	return m.query(customerID).Count(ctx)
}

// Calls are the customer's calls, dated by their start. The Call policy
// shows an agent those policy.FilterCalls allows: the calls of the OAs
// they operate and of customers whose conversations they may see.
type Calls struct{ Client *ent.Client }

func (c Calls) query(customerID gid.ID) *ent.CallQuery {
	return c.Client.Call.Query().Where(entcall.CustomerID(customerID))
}

// Keys implements Kind.
func (c Calls) Keys(ctx context.Context, customerID gid.ID, from *Key, backward bool, n int) ([]Key, error) {
	where, order := past(entcall.FieldStartedAt, from, backward)
	q := c.query(customerID).Where(where).Limit(n)
	for _, o := range order {
		q.Order(o)
	}
	calls, err := q.Select(entcall.FieldID, entcall.FieldStartedAt).All(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(calls))
	for i, call := range calls {
		keys[i] = Key{At: call.StartedAt, ID: call.ID}
	}
	return keys, nil
}

// Load implements Kind.
func (c Calls) Load(ctx context.Context, ids []gid.ID) (map[gid.ID]ent.Noder, error) {
	q, err := c.Client.Call.Query().Where(entcall.IDIn(ids...)).CollectFields(ctx, "Call")
	if err != nil {
		return nil, err
	}
	calls, err := q.All(ctx)
	return byID(calls, func(c *ent.Call) gid.ID { return c.ID }), err
}

// Count implements Kind.
func (c Calls) Count(ctx context.Context, customerID gid.ID) (int, error) {
	return c.query(customerID).Count(ctx)
}

// ZnsMessages are the ZNS messages sent to the customer, dated by their
// creation (when they were queued). Every member sees them, as the
// ZnsMessage policy says.
type ZnsMessages struct{ Client *ent.Client }

func (z ZnsMessages) query(customerID gid.ID) *ent.ZnsMessageQuery {
	return z.Client.ZnsMessage.Query().Where(znsmessage.CustomerID(customerID))
}

// Keys implements Kind.
func (z ZnsMessages) Keys(ctx context.Context, customerID gid.ID, from *Key, backward bool, n int) ([]Key, error) {
	where, order := past(znsmessage.FieldCreatedAt, from, backward)
	q := z.query(customerID).Where(where).Limit(n)
	for _, o := range order {
		q.Order(o)
	}
	msgs, err := q.Select(znsmessage.FieldID, znsmessage.FieldCreatedAt).All(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(msgs))
	for i, m := range msgs {
		keys[i] = Key{At: m.CreatedAt, ID: m.ID}
	}
	return keys, nil
}

// Load implements Kind.
func (z ZnsMessages) Load(ctx context.Context, ids []gid.ID) (map[gid.ID]ent.Noder, error) {
	q, err := z.Client.ZnsMessage.Query().Where(znsmessage.IDIn(ids...)).CollectFields(ctx, "ZnsMessage")
	if err != nil {
		return nil, err
	}
	msgs, err := q.All(ctx)
	return byID(msgs, func(m *ent.ZnsMessage) gid.ID { return m.ID }), err
}

// Count implements Kind.
func (z ZnsMessages) Count(ctx context.Context, customerID gid.ID) (int, error) {
	return z.query(customerID).Count(ctx)
}

// byID indexes the nodes a Load read by their IDs.
func byID[N ent.Noder](nodes []N, id func(N) gid.ID) map[gid.ID]ent.Noder {
	out := make(map[gid.ID]ent.Noder, len(nodes))
	for _, n := range nodes {
		out[id(n)] = n
	}
	return out
}
