package call

import (
	"context"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/user"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/fold"
	"github.com/dakenh/dakenh/internal/gid"
)

// maxSearchCustomers is how many customers a history search may match and
// still be handed to the calls query as a list of IDs.
const maxSearchCustomers = 1000

// SearchPredicate returns the calls a history search box query q finds:
// those whose customer matches q as the customer search does (names
// without diacritics, phones in any form), and those whose operator's name
// holds every folded word of q. An empty q restricts nothing.
//
// The matching customers are found first, in a statement of their own
// (their search column is trigram-indexed), and the calls query gets their
// IDs: a list PostgreSQL plans well whatever its statistics, walking the
// calls' start index when many customers match and the customers' calls
// when few do, where a subquery on the customers left it to estimates
// that, when wrong, made it read every call of the organization once per
// matching customer (BENCHMARKS.md, "Call history"). Past
// maxSearchCustomers the subquery stays: a search that broad matches
// calls early in the start index. Operators are users of the
// organization, a short list, so their names are folded here rather than
// kept in a search column.
func SearchPredicate(ctx context.Context, c *ent.Client, q string) (predicate.Call, error) {
	terms := fold.Terms(q)
	if len(terms) == 0 {
		return func(*sql.Selector) {}, nil
	}
	users, err := c.User.Query().Select(user.FieldID, user.FieldName).All(ctx)
	if err != nil {
		return nil, err
	}
	var ops []gid.ID
	for _, u := range users {
		name := fold.String(u.Name)
		all := true
		for _, t := range terms {
			if !strings.Contains(name, t) {
				all = false
				break
			}
		}
		if all {
			ops = append(ops, u.ID)
		}
	}
	customers, err := c.Customer.Query().Where(crm.SearchPredicate(q)).Limit(maxSearchCustomers + 1).IDs(ctx)
	if err != nil {
		return nil, err
	}
	byCustomer := entcall.CustomerIDIn(customers...)
	if len(customers) > maxSearchCustomers {
		byCustomer = entcall.HasCustomerWith(crm.SearchPredicate(q))
	}
	if len(ops) == 0 {
		return byCustomer, nil
	}
	return entcall.Or(entcall.OperatorIDIn(ops...), byCustomer), nil
}

// DefaultOrder is the history's order when the client gives none: the
// newest call first.
var DefaultOrder = &ent.CallOrder{Direction: entgql.OrderDirectionDesc, Field: ent.CallOrderFieldStartedAt}
