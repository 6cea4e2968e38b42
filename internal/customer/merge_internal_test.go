package customer

import (
	"maps"
	"slices"
	"testing"

	"github.com/dakenh/dakenh/ent/migrate"
)

// TestMoveReferencesCoversEveryForeignKey fails when a table starts
// referencing customers (a new entity with a customer edge, or a new join
// table) without a mover in referenceMovers: Merge would otherwise delete
// the source and, with it, the rows the foreign key cascades to or refuses.
// It also fails for a mover whose foreign key no longer exists.
func TestMoveReferencesCoversEveryForeignKey(t *testing.T) {
	var refs []string
	for _, table := range migrate.Tables {
		for _, fk := range table.ForeignKeys {
			if fk.RefTable != migrate.CustomersTable {
				continue
			}
			for _, col := range fk.Columns {
				refs = append(refs, table.Name+"."+col.Name)
			}
		}
	}
	slices.Sort(refs)
	if len(refs) == 0 {
		t.Fatal("no foreign key references the customers table; is migrate.Tables populated?")
	}
	movers := slices.Sorted(maps.Keys(referenceMovers))
	for _, ref := range refs {
		if !slices.Contains(movers, ref) {
			t.Errorf("%s references customers but merge does not move it: add a mover to referenceMovers in merge.go", ref)
		}
	}
	for _, m := range movers {
		if !slices.Contains(refs, m) {
			t.Errorf("referenceMovers has %s, which is no foreign key to customers any more", m)
		}
	}
}
