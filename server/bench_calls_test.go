package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// BenchmarkCallHistory times calls(first: 50, search:) through HTTP on
// 100,000 calls and counts its SQL statements for two page sizes: eager
// loading must keep the count flat.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench CallHistory -benchtime 1x -timeout 30m
func BenchmarkCallHistory(b *testing.B) {
	const (
		customers = 2000
		calls     = 100_000
		requests  = 300
		chunk     = 2000
	)
	db, counter := dbtest.OpenCounting(b)
	e := newEnvOn(b, db)
	tn := e.newTenant("Call History Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	sys := viewer.SystemContext(context.Background(), me.Me.Organization.ID)
	c := db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-calls-bench").SetName("Calls OA").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys)
	families := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"}
	custs := make([]gid.ID, 0, customers)
	for start := 0; start < customers; start += chunk {
		var bulk []*ent.CustomerCreate
		for i := start; i < min(start+chunk, customers); i++ {
			name := fmt.Sprintf("%s Thị Khách %d", families[i%len(families)], i)
			bulk = append(bulk, c.Customer.Create().SetName(name).SetSearchText(crm.SearchText(name, "", "")))
		}
		for _, cu := range c.Customer.CreateBulk(bulk...).SaveX(sys) {
			custs = append(custs, cu.ID)
		}
	}
	operators := []gid.ID{gid.ID(tn.ownerID), gid.ID(tn.adminID), gid.ID(tn.agentID), ""}
	results := []entcall.Result{entcall.ResultANSWERED, entcall.ResultMISSED, entcall.ResultREJECTED, entcall.ResultBUSY, entcall.ResultNO_ANSWER, entcall.ResultFAILED, entcall.ResultCANCELLED}
	base := time.Now().Add(-90 * 24 * time.Hour)
	for start := 0; start < calls; start += chunk {
		var bulk []*ent.CallCreate
		for i := start; i < min(start+chunk, calls); i++ {
			at := base.Add(time.Duration(i) * time.Minute)
			cc := c.Call.Create().SetChannelID(ch.ID).SetCustomerID(custs[i%customers]).
				SetDirection(entcall.DirectionINBOUND).SetStatus(entcall.StatusENDED).
				SetResult(results[i%len(results)]).SetStartedAt(at).SetEndedAt(at.Add(time.Minute)).
				SetDurationSeconds(i % 300).SetProviderCallID(fmt.Sprint("bench-", i))
			if op := operators[i%len(operators)]; op != "" {
				cc.SetOperatorID(op)
			}
			bulk = append(bulk, cc)
		}
		c.Call.CreateBulk(bulk...).ExecX(sys)
	}

	query := `query($n: Int, $s: String) { calls(first: $n, search: $s) { edges { node {
		id startedAt direction result durationSeconds customer { id name } operator { id name } channel { id name } } } } }`
	check := func(r *gqlResponse, n int) {
		var out struct {
			Calls struct {
				Edges []struct {
					Node struct {
						StartedAt time.Time
						Customer  *struct{ Name string }
					}
				}
			}
		}
		r.decode(b, &out)
		if len(out.Calls.Edges) != n {
			b.Fatalf("page of %d has %d calls", n, len(out.Calls.Edges))
		}
		for i, edge := range out.Calls.Edges {
			if edge.Node.Customer == nil || i > 0 && edge.Node.StartedAt.After(out.Calls.Edges[i-1].Node.StartedAt) {
				b.Fatalf("call %d: %+v", i, edge.Node)
			}
		}
	}
	stmts := map[int]int{}
	for _, n := range []int{5, 50} {
		counter.Reset()
		r := e.gql(tn.adminToken, query, map[string]any{"n": n, "s": "nguyen thi"})
		stmts[n] = counter.Count()
		check(r, n)
	}

	for b.Loop() {
		// Reported here: b.Loop clears metrics reported before it starts.
		for n, c := range stmts {
			b.ReportMetric(float64(c), fmt.Sprintf("stmts-first%d", n))
		}
		lat := make([]time.Duration, 0, requests)
		for range requests {
			t0 := time.Now()
			r := e.gql(tn.adminToken, query, map[string]any{"n": 50, "s": "nguyen thi"})
			lat = append(lat, time.Since(t0))
			if len(r.Errors) > 0 {
				b.Fatalf("%+v", r.Errors)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(benchPct(lat, 0.50), "p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "p99-ms")
	}
}
