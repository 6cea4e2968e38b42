package report

import (
	"context"
	"sort"
	"time"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

// ZnsGrouping is how znsReport groups (ZnsReportGrouping).
type ZnsGrouping string

// The groupings of znsReport.
const (
	ZnsByTemplate ZnsGrouping = "TEMPLATE"
	ZnsByDay      ZnsGrouping = "DAY"
)

// ZnsRow is one row of znsReport (ZnsReportRow): the ZNS messages created
// in the range of one template or one local day. Sent counts the messages
// Zalo accepted (DELIVERED ones included), Delivered those with a
// delivery receipt, Failed those that will not be sent; messages still
// QUEUED count nowhere. Cost sums the accepted messages' costs, in VND.
type ZnsRow struct {
	Key        string
	TemplateID gid.ID
	Day        *string
	Sent       int
	Delivered  int
	Failed     int
	Cost       int
}

// Zns computes the ZNS report of [from, to) for the viewer's organization,
// of one channel or of all, grouped by template (most sent first) or by
// local day (in order), in one statement. Owners, admins and API keys
// with READ may run it.
func (r *Reporter) Zns(ctx context.Context, from, to time.Time, channelID *gid.ID, by ZnsGrouping) ([]*ZnsRow, error) {
	v, err := authorize(ctx, from, to, "the ZNS report")
	if err != nil {
		return nil, err
	}
	var key string
	switch by {
	case ZnsByTemplate:
		key = "m.template_id"
	case ZnsByDay:
		key = LocalDay(r.dialect, "m.created_at")
	default:
		return nil, apierr.BadInput("groupBy", "groupBy must be TEMPLATE or DAY")
	}
	args := []any{string(v.OrgID), from.UTC(), to.UTC()}
	where := "m.organization_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND m.status <> 'QUEUED'"
	if channelID != nil {
		// Another organization's channel is NOT_FOUND, as everywhere.
		ch, err := r.channel(ctx, *channelID)
		if err != nil {
			return nil, err
		}
		args = append(args, string(ch.ID))
		where += " AND m.channel_id = $4"
	}
	stmt := ZnsStatement(key, where)
	var out []*ZnsRow
	err = r.scan(ctx, stmt, args, func(s scanner) error {
		x := &ZnsRow{}
		if err := s.Scan(&x.Key, &x.Sent, &x.Delivered, &x.Failed, &x.Cost); err != nil {
			return err
		}
		if by == ZnsByTemplate {
			x.TemplateID = gid.ID(x.Key)
		} else {
			day := x.Key
			x.Day = &day
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if by == ZnsByTemplate && out[i].Sent != out[j].Sent {
			return out[i].Sent > out[j].Sent
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// ZnsStatement is the report's one statement: the figures per key
// expression of the ZNS messages m meeting where. Exported so the
// benchmark times the same SQL directly.
func ZnsStatement(key, where string) string {
	return `
SELECT ` + key + ` AS k,
	SUM(CASE WHEN m.status IN ('SENT', 'DELIVERED') THEN 1 ELSE 0 END),
	SUM(CASE WHEN m.status = 'DELIVERED' THEN 1 ELSE 0 END),
	SUM(CASE WHEN m.status = 'FAILED' THEN 1 ELSE 0 END),
	SUM(CASE WHEN m.status IN ('SENT', 'DELIVERED') THEN m.cost ELSE 0 END)
FROM zns_messages m
WHERE ` + where + `
GROUP BY k`
}
