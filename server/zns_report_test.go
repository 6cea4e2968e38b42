package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

const znsReportQuery = `query($from: Time!, $to: Time!, $c: ID, $by: ZnsReportGrouping!) {
	znsReport(from: $from, to: $to, channelId: $c, groupBy: $by) { key template { templateId name } day sent delivered failed cost } }`

type znsReportRow struct {
	Key      string
	Template *struct{ TemplateID, Name string }
	Day      *string
	Sent     int
	Delivered, Failed,
	Cost int
}

// TestZnsReport: on known messages, the report per template and per
// Vietnam day counts sent (delivered included), delivered and failed,
// sums the sent messages' costs, leaves QUEUED ones and those outside the
// range out, and its sums equal the messages'.
func TestZnsReport(t *testing.T) {
	z := newSyncedZnsEnv(t)
	sys := viewer.SystemContext(context.Background(), z.org)
	tpl := func(id string) gid.ID {
		return z.db.Client.ZnsTemplate.Query().Where(znstemplate.ChannelID(z.oa.ID), znstemplate.TemplateID(id)).OnlyIDX(sys)
	}
	order, sale := tpl(orderConfirmed.ID), tpl(flashSale.ID)
	// 2026-11-20 16:59 UTC is 23:59 on the 20th in Vietnam; 17:00 UTC is
	// the 21st.
	day20 := time.Date(2026, 11, 20, 16, 59, 0, 0, time.UTC)
	day21 := time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)
	seed := []struct {
		tpl    gid.ID
		at     time.Time
		status znsmessage.Status
		cost   int
	}{
		{order, day20, znsmessage.StatusSENT, 300},
		{order, day20, znsmessage.StatusDELIVERED, 300},
		{order, day21, znsmessage.StatusDELIVERED, 300},
		{order, day21, znsmessage.StatusFAILED, 0},
		{order, day21, znsmessage.StatusQUEUED, 0},
		{sale, day20, znsmessage.StatusFAILED, 0},
		{sale, day21, znsmessage.StatusSENT, 450},
		{sale, day21.Add(time.Hour), znsmessage.StatusDELIVERED, 450},
		// Outside the range.
		{order, day20.Add(-48 * time.Hour), znsmessage.StatusSENT, 300},
	}
	for i, m := range seed {
		z.db.Client.ZnsMessage.Create().SetChannelID(z.oa.ID).SetTemplateID(m.tpl).SetPhone("+84912345678").
			SetParams(map[string]string{}).SetTrackingID(fmt.Sprintf("report-%d", i)).
			SetStatus(m.status).SetCost(m.cost).SetCreatedAt(m.at).SaveX(sys)
	}
	vars := func(by string, channel any) map[string]any {
		return map[string]any{"from": "2026-11-20T00:00:00+07:00", "to": "2026-11-22T00:00:00+07:00", "by": by, "c": channel}
	}
	run := func(token string, v map[string]any) []znsReportRow {
		t.Helper()
		var out struct{ ZnsReport []znsReportRow }
		z.must(token, znsReportQuery, v, &out)
		return out.ZnsReport
	}

	byTemplate := run(z.tn.adminToken, vars("TEMPLATE", nil))
	if len(byTemplate) != 2 {
		t.Fatalf("by template: %+v", byTemplate)
	}
	o, s := byTemplate[0], byTemplate[1]
	if o.Key != string(order) || o.Template == nil || o.Template.TemplateID != orderConfirmed.ID || o.Day != nil ||
		o.Sent != 3 || o.Delivered != 2 || o.Failed != 1 || o.Cost != 900 {
		t.Errorf("order template row %+v", o)
	}
	if s.Key != string(sale) || s.Template == nil || s.Template.Name != flashSale.Name ||
		s.Sent != 2 || s.Delivered != 1 || s.Failed != 1 || s.Cost != 900 {
		t.Errorf("sale template row %+v", s)
	}

	byDay := run(z.tn.apiKey, vars("DAY", z.oa.ID))
	if len(byDay) != 2 || byDay[0].Key != "2026-11-20" || byDay[1].Key != "2026-11-21" ||
		byDay[0].Day == nil || *byDay[0].Day != "2026-11-20" || byDay[0].Template != nil {
		t.Fatalf("by day: %+v", byDay)
	}
	if d := byDay[0]; d.Sent != 2 || d.Delivered != 1 || d.Failed != 1 || d.Cost != 600 {
		t.Errorf("20th %+v", d)
	}
	if d := byDay[1]; d.Sent != 3 || d.Delivered != 2 || d.Failed != 1 || d.Cost != 1200 {
		t.Errorf("21st %+v", d)
	}

	// The sums equal the messages of the range, counted one by one.
	var sent, delivered, failed, cost int
	for _, m := range seed {
		if m.at.Before(day20.Add(-24*time.Hour)) || m.status == znsmessage.StatusQUEUED {
			continue
		}
		switch m.status {
		case znsmessage.StatusDELIVERED:
			delivered++
			sent++
			cost += m.cost
		case znsmessage.StatusSENT:
			sent++
			cost += m.cost
		case znsmessage.StatusFAILED:
			failed++
		}
	}
	for _, rows := range [][]znsReportRow{byTemplate, byDay} {
		var a, b, c, d int
		for _, r := range rows {
			a, b, c, d = a+r.Sent, b+r.Delivered, c+r.Failed, d+r.Cost
		}
		if a != sent || b != delivered || c != failed || d != cost {
			t.Errorf("sums %d %d %d %d, messages %d %d %d %d", a, b, c, d, sent, delivered, failed, cost)
		}
	}

	// The Facebook page has no ZNS: its report is empty, not an error.
	if rows := run(z.tn.adminToken, vars("DAY", z.page.ID)); len(rows) != 0 {
		t.Errorf("page report %+v", rows)
	}
	for name, c := range map[string]struct {
		token string
		vars  map[string]any
		code  string
	}{
		"Agent":          {z.tn.agentToken, vars("DAY", nil), "FORBIDDEN"},
		"ToBeforeFrom":   {z.tn.adminToken, map[string]any{"from": "2026-11-22T00:00:00Z", "to": "2026-11-20T00:00:00Z", "by": "DAY"}, "BAD_USER_INPUT"},
		"OverAYear":      {z.tn.adminToken, map[string]any{"from": "2025-01-01T00:00:00Z", "to": "2026-11-20T00:00:00Z", "by": "DAY"}, "BAD_USER_INPUT"},
		"UnknownChannel": {z.tn.adminToken, vars("DAY", string(gid.New("Channel"))), "NOT_FOUND"},
		"Anonymous":      {"", vars("DAY", nil), "UNAUTHENTICATED"},
	} {
		t.Run(name, func(t *testing.T) {
			if r := z.gql(c.token, znsReportQuery, c.vars); r.code() != c.code {
				t.Fatalf("code %q, want %s: %+v", r.code(), c.code, r.Errors)
			}
		})
	}
}
