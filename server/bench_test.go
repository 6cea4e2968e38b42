package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/fold"
)

// Vietnamese name parts for realistic seed data: 16 × 8 × 24 distinct
// names, so a full-name search matches a few dozen of 100k customers.
var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	middleNames = []string{"Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang"}
	givenNames  = []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Vy", "Yến", "Đạt"}
)

// seedCSV returns n customers as import CSV: unique phones and emails,
// names drawn from the parts above, a tag on every third row.
func seedCSV(n int, rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("name,phone,email,tags,stage\n")
	for i := 0; i < n; i++ {
		name := familyNames[rng.IntN(len(familyNames))] + " " + middleNames[rng.IntN(len(middleNames))] + " " + givenNames[rng.IntN(len(givenNames))]
		tag := ""
		if i%3 == 0 {
			tag = "vip"
		}
		fmt.Fprintf(&b, "%s,09%08d,kh%d@example.vn,%s,%s\n", name, i, i, tag, []string{"LEAD", "CONTACT", "CUSTOMER"}[i%3])
	}
	return b.String()
}

// BenchmarkCustomers100k imports 100k customers through importCustomers,
// then times customer searches through the whole stack (HTTP, GraphQL,
// privacy, SQL). Run once, on PostgreSQL:
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench Customers100k -benchtime 1x -timeout 30m
//
// It reports import rows/s and search latency percentiles.
func BenchmarkCustomers100k(b *testing.B) {
	const rows, searches = 100_000, 2000
	e := newEnv(b, func(c *Config, _ *appOptions) { c.MaxBodyBytes = 64 << 20 })
	tn := e.newTenant("Bench Org")
	rng := rand.New(rand.NewPCG(1, 2))
	csvText := seedCSV(rows, rng)

	for b.Loop() {
		start := time.Now()
		var out struct {
			ImportCustomers struct {
				Imported int
				Errors   []struct{ Line int }
			}
		}
		e.must(tn.adminToken, `mutation($c: String!) { importCustomers(csv: $c) { imported errors { line } } }`, map[string]any{"c": csvText}, &out)
		elapsed := time.Since(start)
		if out.ImportCustomers.Imported != rows || len(out.ImportCustomers.Errors) > 0 {
			b.Fatalf("imported %d with %d errors", out.ImportCustomers.Imported, len(out.ImportCustomers.Errors))
		}
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "import-rows/s")

		query := `query($s: String) { customers(first: 20, search: $s) { totalCount edges { node { id name phone } } } }`
		terms := func() string {
			switch rng.IntN(4) {
			case 0: // a full name, typed without accents
				return fold.String(familyNames[rng.IntN(16)] + " " + middleNames[rng.IntN(8)] + " " + givenNames[rng.IntN(24)])
			case 1: // a given name with its accents
				return givenNames[rng.IntN(24)]
			case 2: // a phone number as people type it
				return fmt.Sprintf("09%02d %03d %03d", rng.IntN(1), rng.IntN(100), rng.IntN(1000))
			default: // an email
				return fmt.Sprintf("kh%d@example", rng.IntN(rows))
			}
		}
		lat := make([]time.Duration, 0, searches)
		for i := 0; i < searches; i++ {
			s := terms()
			t0 := time.Now()
			r := e.gql(tn.agentToken, query, map[string]any{"s": s})
			lat = append(lat, time.Since(t0))
			if len(r.Errors) > 0 {
				b.Fatalf("search %q: %+v", s, r.Errors)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "search-p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "search-p99-ms")
	}
}
