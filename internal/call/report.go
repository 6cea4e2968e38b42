package call

import (
	"context"
	"sort"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/callhours"
	"github.com/dakenh/dakenh/internal/gid"
)

// ReportGrouping is how callReport groups calls (CallReportGrouping).
type ReportGrouping string

// The groupings of callReport.
const (
	ByOperator ReportGrouping = "OPERATOR"
	ByDay      ReportGrouping = "DAY"
)

// maxReportSpan bounds a report's time range.
const maxReportSpan = 366 * 24 * time.Hour

// NoOperator is the key of the row of calls no operator took (OPERATOR
// grouping).
const NoOperator = "NONE"

// ReportRow is one row of callReport (CallReportRow): the calls of one
// operator or one local day. Answered counts ANSWERED calls, Missed the
// MISSED and NO_ANSWER ones (nobody picked up); TalkSeconds sums their
// talk time and AverageSeconds is its mean over the answered calls.
type ReportRow struct {
	Key            string
	OperatorID     gid.ID
	Day            *string
	Total          int
	Answered       int
	Missed         int
	TalkSeconds    int
	AverageSeconds float64
}

// Report counts the calls that started in [from, to), of one OA or of
// every one the viewer may see, per operator (most calls first) or per day
// (in order) in the OA's zone, or Asia/Ho_Chi_Minh across OAs.
func (s *Service) Report(ctx context.Context, from, to time.Time, channelID *gid.ID, by ReportGrouping) ([]*ReportRow, error) {
	if _, err := requireViewer(ctx); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, apierr.BadInput("to", "to must be after from")
	}
	if to.Sub(from) > maxReportSpan {
		return nil, apierr.BadInput("to", "a report spans at most 366 days")
	}
	if by != ByOperator && by != ByDay {
		return nil, apierr.BadInput("groupBy", "groupBy must be OPERATOR or DAY")
	}
	zone, _ := time.LoadLocation(callhours.DefaultZone)
	q := s.client.Call.Query().Where(entcall.StartedAtGTE(from), entcall.StartedAtLT(to))
	if channelID != nil {
		ch, err := zaloOA(ctx, s.client, *channelID, "channelId")
		if err != nil {
			return nil, err
		}
		cs, err := settingsOf(ctx, s.client, ch)
		if err != nil {
			return nil, err
		}
		if z := Hours(cs).Zone(); z != nil {
			zone = z
		}
		q.Where(entcall.ChannelID(ch.ID))
	}
	calls, err := q.Select(entcall.FieldOperatorID, entcall.FieldStartedAt, entcall.FieldResult, entcall.FieldDurationSeconds).
		All(ctx)
	if err != nil {
		return nil, err
	}
	rows := map[string]*ReportRow{}
	for _, c := range calls {
		key := NoOperator
		r := &ReportRow{}
		if by == ByDay {
			day := c.StartedAt.In(zone).Format(time.DateOnly)
			key, r.Day = day, &day
		} else if c.OperatorID != nil {
			key, r.OperatorID = string(*c.OperatorID), *c.OperatorID
		}
		if old, ok := rows[key]; ok {
			r = old
		} else {
			r.Key = key
			rows[key] = r
		}
		count(r, c)
	}
	out := make([]*ReportRow, 0, len(rows))
	for _, r := range rows {
		if r.Answered > 0 {
			r.AverageSeconds = float64(r.TalkSeconds) / float64(r.Answered)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if by == ByOperator && out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// count adds c to r.
func count(r *ReportRow, c *ent.Call) {
	r.Total++
	if c.Result == nil {
		return
	}
	switch *c.Result {
	case entcall.ResultANSWERED:
		r.Answered++
		if c.DurationSeconds != nil {
			r.TalkSeconds += *c.DurationSeconds
		}
	case entcall.ResultMISSED, entcall.ResultNO_ANSWER:
		r.Missed++
	}
}
