package customer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/internal/customer"
)

// importCSV returns n rows of realistic customers, numbered from offset so
// that two files can overlap or not; edit changes names and scores, so a
// file matching stored customers really updates them.
func importCSV(n, offset int, edit bool) string {
	var b strings.Builder
	b.WriteString("name,phone,email,address,gender,stage,score,tags,company\n")
	lastNames := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng"}
	suffix, score := "", 0
	if edit {
		suffix, score = " (mới)", 1
	}
	for i := offset; i < offset+n; i++ {
		fmt.Fprintf(&b, "%s Văn Khách %d%s,09%08d,khach%d@example.com,\"%d Lê Lợi, Quận 1\",nam,LEAD,%d,VIP;Nhóm %d,Công ty %d\n",
			lastNames[i%len(lastNames)], i, suffix, i, i, i, i%100+score, i%10, i%50)
	}
	return b.String()
}

// BenchmarkImport imports 10,000 rows per iteration into a fresh
// organization, so every iteration measures the same work: "create" makes
// 10,000 customers, "update" changes 10,000 stored ones, and "unchanged"
// imports the file the customers came from again.
func BenchmarkImport(b *testing.B) {
	e := newEnv(b)
	const rows = 10_000
	seed := importCSV(rows, 0, false)
	for _, bc := range []struct {
		name   string
		seeded bool
		text   string
	}{
		{"create", false, seed},
		{"update", true, importCSV(rows, 0, true)},
		{"unchanged", true, seed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				org := e.newTenant(b, fmt.Sprintf("Org %s %d", bc.name, i))
				e.defineFields(b, org, field{key: "company", typ: customfield.TypeTEXT})
				if bc.seeded {
					if _, err := customer.Import(asOwner(org), e.client, seed); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				res, err := customer.Import(asOwner(org), e.client, bc.text)
				if err != nil || res.Imported+res.Updated != rows {
					b.Fatalf("Import = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkSearch searches 10,000 seeded customers the way the customers
// query does: the first page of matches.
func BenchmarkSearch(b *testing.B) {
	e := newEnv(b)
	ctx := asOwner(e.org)
	e.defineFields(b, e.org, field{key: "company", typ: customfield.TypeTEXT})
	if _, err := customer.Import(ctx, e.client, importCSV(10_000, 0, false)); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"nguyen van khach 4242", "0900004242", "khach4242@example", "dang"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cs, err := e.client.Customer.Query().Where(customer.SearchPredicate(q)).
					Order(ent.Asc("id")).Limit(20).All(ctx)
				if err != nil || len(cs) == 0 {
					b.Fatalf("search %q = %d customers, %v", q, len(cs), err)
				}
			}
		})
	}
}
