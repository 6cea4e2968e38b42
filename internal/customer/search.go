package customer

import (
	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/fold"
	"github.com/dakenh/dakenh/internal/phone"
)

// SearchPredicate returns the customers matching a search box query: every
// folded word of q must occur in the customer's search key, so case and
// Vietnamese diacritics do not matter and words match in any order. When q is
// a whole phone number in any common form, the customer with that number also
// matches, so "0912 345 678" finds the customer stored as +84912345678. An
// empty q restricts nothing.
func SearchPredicate(q string) predicate.Customer {
	terms := fold.Terms(q)
	if len(terms) == 0 {
		return func(*sql.Selector) {}
	}
	// Contains escapes LIKE's wildcards, so "%" and "_" in q match
	// themselves.
	preds := make([]predicate.Customer, len(terms))
	for i, t := range terms {
		preds[i] = customer.SearchTextContains(t)
	}
	text := customer.And(preds...)
	if n, err := phone.Normalize(q); err == nil {
		return customer.Or(customer.PhoneEQ(n), text)
	}
	return text
}

// Segment returns the query of the viewer's customers that match where and
// search (SearchPredicate): the one filter of the customers query,
// exportCustomers and ZNS campaigns. A where the schema cannot apply is
// BAD_USER_INPUT on field where.
func Segment(client *ent.Client, where *ent.CustomerWhereInput, search string) (*ent.CustomerQuery, error) {
	q, err := where.Filter(client.Customer.Query())
	if err != nil {
		return nil, apierr.BadInput("where", "invalid filter: %v", err)
	}
	return q.Where(SearchPredicate(search)), nil
}
