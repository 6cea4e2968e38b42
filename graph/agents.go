package graph

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/predicate"
)

// agents returns the users of a rule's or a department's agent list, in
// list order.
func agents(ctx context.Context, client *ent.Client, of predicate.Member) ([]*ent.User, error) {
	ms, err := client.Member.Query().Where(of).WithUser().Order(member.ByPosition()).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ent.User, 0, len(ms))
	for _, m := range ms {
		if m.Edges.User != nil {
			out = append(out, m.Edges.User)
		}
	}
	return out, nil
}
