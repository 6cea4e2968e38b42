package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/report"
	"github.com/dakenh/dakenh/internal/viewer"
)

// BenchmarkZnsReport times znsReport through HTTP over 1,000,000 ZNS
// messages of 20 templates spread over 90 days, per template and per day,
// against the same statement run directly on the database: the difference
// is the API's own cost. PostgreSQL only; the messages are inserted by one
// SQL statement.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench ZnsReport -benchtime 1x -timeout 40m
func BenchmarkZnsReport(b *testing.B) {
	const (
		messages  = 1_000_000
		templates = 20
		requests  = 20
	)
	db := dbtest.Open(b)
	if db.Dialect != dialect.Postgres {
		b.Skip("the 1M-message seed is PostgreSQL's generate_series")
	}
	e := newEnvOn(b, db)
	tn := e.newTenant("ZNS Report Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	org := me.Me.Organization.ID
	sys := viewer.SystemContext(context.Background(), org)
	c := db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-zns-bench").SetName("ZNS OA").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys)
	var bulk []*ent.ZnsTemplateCreate
	for i := range templates {
		bulk = append(bulk, c.ZnsTemplate.Create().SetChannelID(ch.ID).SetTemplateID(fmt.Sprint(240000+i)).
			SetName(fmt.Sprintf("Mẫu %d", i)).SetStatus("ENABLE").SetParams(nil).SetPrice(200+10*i).
			SetSyncedAt(time.Now()).SetRemainingQuota(1000))
	}
	var tplIDs []string
	for _, t := range c.ZnsTemplate.CreateBulk(bulk...).SaveX(sys) {
		tplIDs = append(tplIDs, string(t.ID))
	}
	to := time.Now().UTC().Truncate(time.Hour)
	from := to.Add(-90 * 24 * time.Hour)
	// Of every 10 messages: 6 DELIVERED, 2 SENT, 1 FAILED, 1 QUEUED.
	seed := `
INSERT INTO zns_messages (id, created_at, updated_at, phone, params, tracking_id, status, cost,
	organization_id, channel_id, template_id)
SELECT 'bench_' || lpad(g::text, 8, '0'), ts, ts, '+84912345678', '{}'::jsonb, 'bench-' || g,
	CASE WHEN g % 10 < 6 THEN 'DELIVERED' WHEN g % 10 < 8 THEN 'SENT' WHEN g % 10 = 8 THEN 'FAILED' ELSE 'QUEUED' END,
	CASE WHEN g % 10 < 8 THEN 200 + 10 * (g % 20) ELSE 0 END,
	$1, $2, ($3::text[])[1 + g % 20]
FROM generate_series(0, $4 - 1) AS g, LATERAL (SELECT $5::timestamptz + (g * 7.776) * interval '1 second' AS ts) AS t`
	if _, err := c.ExecContext(sys, seed, string(org), string(ch.ID), "{"+strings.Join(tplIDs, ",")+"}", messages, from); err != nil {
		b.Fatalf("seeding: %v", err)
	}
	if _, err := c.ExecContext(sys, "ANALYZE zns_messages"); err != nil {
		b.Fatal(err)
	}
	var wantSent, wantCost int
	if err := db.SQL.QueryRowContext(sys, `SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM zns_messages
		WHERE organization_id = $1 AND status IN ('SENT', 'DELIVERED')`, string(org)).Scan(&wantSent, &wantCost); err != nil {
		b.Fatal(err)
	}

	query := `query($from: Time!, $to: Time!, $by: ZnsReportGrouping!) { znsReport(from: $from, to: $to, groupBy: $by) { key sent delivered failed cost } }`
	vars := func(by string) map[string]any {
		return map[string]any{"from": from.Format(time.RFC3339), "to": to.Add(time.Hour).Format(time.RFC3339), "by": by}
	}
	where := "m.organization_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND m.status <> 'QUEUED'"
	keys := map[string]string{"TEMPLATE": "m.template_id", "DAY": report.LocalDay(dialect.Postgres, "m.created_at")}

	for b.Loop() {
		for _, by := range []string{"TEMPLATE", "DAY"} {
			api := make([]time.Duration, 0, requests)
			for range requests {
				t0 := time.Now()
				r := e.gql(tn.adminToken, query, vars(by))
				api = append(api, time.Since(t0))
				var out struct {
					ZnsReport []struct{ Sent, Cost int }
				}
				r.decode(b, &out)
				sent, cost := 0, 0
				for _, row := range out.ZnsReport {
					sent, cost = sent+row.Sent, cost+row.Cost
				}
				if sent != wantSent || cost != wantCost {
					b.Fatalf("%s: sent %d cost %d, messages %d %d", by, sent, cost, wantSent, wantCost)
				}
			}
			direct := make([]time.Duration, 0, requests)
			stmt := report.ZnsStatement(keys[by], where)
			for range requests {
				t0 := time.Now()
				rows, err := db.SQL.QueryContext(sys, stmt, string(org), from, to.Add(time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				_ = rows.Close()
				direct = append(direct, time.Since(t0))
			}
			slices.Sort(api)
			slices.Sort(direct)
			b.ReportMetric(benchPct(api, 0.50), "p50-ms-"+by)
			b.ReportMetric(benchPct(direct, 0.50), "sql-p50-ms-"+by)
		}
	}
}
