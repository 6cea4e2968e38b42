package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// BenchmarkZnsCampaign measures a ZNS campaign of 10,000 customers on one
// replica with its workers running: createZnsCampaign (the recipients
// fixed in one transaction), then the runner queueing them in batches and
// the delivery worker sending them to the Zalo fake, which answers at once.
// It reports the creation's seconds, recipients queued per second and
// messages sent per second, both from the creation's answer.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench ZnsCampaign -benchtime 1x
func BenchmarkZnsCampaign(b *testing.B) {
	const customers = 10_000
	db := dbtest.Open(b)
	if db.Dialect != dialect.Postgres {
		b.Log("the figures of BENCHMARKS.md are PostgreSQL's")
	}
	zfake := zalofake.New(b)
	zfake.SetApp("app-1", "APP-SECRET-zalo-1")
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken, RefreshToken: "REFRESH-TOKEN-zalo-1"})
	tpl := orderConfirmed
	tpl.DailyQuota, tpl.RemainingQuota = 1_000_000, 1_000_000
	zfake.SetZNSTemplate(testOAID, tpl)
	zfake.SetZNSQuota(testOAID, 1_000_000, 1_000_000)
	e := newEnvOn(b, db, func(c *Config, _ *appOptions) {
		c.ZaloOpenAPIURL, c.ZaloOAuthURL, c.ZNSAPIURL = zfake.URL(), zfake.URL(), zfake.URL()
	})
	tn := e.newTenant("ZNS Campaign Org")
	var oa struct{ ConnectZaloOA struct{ ID gid.ID } }
	e.must(tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`, map[string]any{"in": zaloInput(testOAID)}, &oa)
	e.must(tn.adminToken, `mutation($c: ID!) { syncZnsTemplates(channelId: $c) { id } }`, map[string]any{"c": oa.ConnectZaloOA.ID}, nil)
	e.must(tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	sys := viewer.SystemContext(context.Background(), orgOf(b, e, tn))
	e.app.startWorkers()

	for n := range b.N {
		prefix := fmt.Sprintf("KH%d", n)
		creates := make([]*ent.CustomerCreate, customers)
		for i := range creates {
			creates[i] = db.Client.Customer.Create().SetName(fmt.Sprintf("%s %05d", prefix, i)).
				SetPhone(fmt.Sprintf("+849%d%07d", 1+n%8, i)).SetCustomFields(map[string]any{"code": fmt.Sprint("C", i)})
		}
		for start := 0; start < customers; start += 1000 {
			db.Client.Customer.CreateBulk(creates[start : start+1000]...).ExecX(sys)
		}
		before := len(zfake.ZNSSent())

		start := time.Now()
		var out struct {
			CreateZnsCampaign struct{ ID gid.ID }
		}
		e.must(tn.adminToken, `mutation($in: CreateZnsCampaignInput!) { createZnsCampaign(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"name": prefix, "channelId": oa.ConnectZaloOA.ID, "templateId": tpl.ID,
			"where": map[string]any{"nameHasPrefix": prefix + " "}, "params": orderCampaignParams(),
		}}, &out)
		created := time.Since(start)
		var queuedIn time.Duration
		for deadline := time.Now().Add(10 * patience); ; time.Sleep(5 * time.Millisecond) {
			c := db.Client.ZnsCampaign.GetX(sys, out.CreateZnsCampaign.ID)
			if c.Total != customers || c.Skipped != 0 || c.Failed != 0 {
				b.Fatalf("campaign %+v", c)
			}
			if queuedIn == 0 && c.Queued == customers {
				queuedIn = time.Since(start)
			}
			if c.Sent == customers {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d queued, %d sent after %v", c.Queued, c.Sent, 10*patience)
			}
		}
		sentIn := time.Since(start)
		if got := len(zfake.ZNSSent()) - before; got != customers {
			b.Fatalf("Zalo got %d sends, want %d", got, customers)
		}
		b.ReportMetric(created.Seconds(), "create-s")
		b.ReportMetric(customers/queuedIn.Seconds(), "queued/s")
		b.ReportMetric(customers/sentIn.Seconds(), "sent/s")
	}
}
