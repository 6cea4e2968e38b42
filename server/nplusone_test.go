package main

import (
	"fmt"
	"testing"

	"github.com/dakenh/dakenh/internal/dbtest"
)

// TestCustomersPageStatementCount proves entgql's eager loading: the SQL
// statements of one customers page with owner and tags do not grow with the
// page size.
func TestCustomersPageStatementCount(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	e := newEnvOn(t, db)
	tn := e.newTenant("Count Org")
	var tags []string
	for i := 0; i < 3; i++ {
		var out struct{ CreateTag struct{ ID string } }
		e.must(tn.ownerToken, `mutation($n: String!) { createTag(input: {name: $n}) { id } }`, map[string]any{"n": fmt.Sprint("tag", i)}, &out)
		tags = append(tags, out.CreateTag.ID)
	}
	for i := 0; i < 100; i++ {
		e.createCustomer(tn.ownerToken, map[string]any{
			"name": fmt.Sprint("Khách ", i), "ownerID": []string{tn.ownerID, tn.adminID, tn.agentID}[i%3], "tagIDs": tags[:i%3+1],
		})
	}
	query := `query($n: Int) { customers(first: $n) { totalCount edges { node { id name owner { id name } tags { id name } } } } }`
	counts := map[int]int{}
	for _, n := range []int{1, 10, 100} {
		counter.Reset()
		var out struct {
			Customers struct {
				Edges []struct {
					Node struct {
						Owner *struct{ ID string }
						Tags  []struct{ ID string }
					}
				}
			}
		}
		e.must(tn.ownerToken, query, map[string]any{"n": n}, &out)
		if len(out.Customers.Edges) != n || out.Customers.Edges[n-1].Node.Owner == nil || len(out.Customers.Edges[n-1].Node.Tags) == 0 {
			t.Fatalf("page of %d: %+v", n, out)
		}
		counts[n] = counter.Count()
	}
	t.Logf("statements per page: %v", counts)
	if counts[1] != counts[100] || counts[10] != counts[100] {
		t.Fatalf("statement count grows with page size: %v", counts)
	}
}
