// Package report computes the dashboard's conversation report (README.md,
// "Conversation report"): conversations opened and resolved, messages in
// and out, and the median and 90th percentile of first response and
// resolution times, per agent, channel or local day. Everything is
// aggregated by the database; no conversation or message row is loaded
// into the server.
package report

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Grouping is how conversationReport groups (ConversationReportGrouping).
type Grouping string

// The groupings of conversationReport.
const (
	ByAgent   Grouping = "AGENT"
	ByChannel Grouping = "CHANNEL"
	ByDay     Grouping = "DAY"
)

// None is the AGENT key of what no agent is attributed: unassigned
// conversations, and replies sent by the system or auto-messages.
const None = "NONE"

// Zone is the zone of the report's days. Asia/Ho_Chi_Minh has been UTC+7
// without daylight saving since 1975, which is what lets SQLite, which has
// no zone database, compute the same days as PostgreSQL.
const Zone = "Asia/Ho_Chi_Minh"

// maxSpan bounds a report's range.
const maxSpan = 366 * 24 * time.Hour

// Row is one row of conversationReport (ConversationReportRow). See
// schema.graphqls for the definitions of its figures.
type Row struct {
	Key       string
	AgentID   gid.ID
	ChannelID gid.ID
	Day       *string

	Opened      int
	Resolved    int
	MessagesIn  int
	MessagesOut int

	FirstResponseMedianSeconds *float64
	FirstResponseP90Seconds    *float64
	ResolutionMedianSeconds    *float64
	ResolutionP90Seconds       *float64
}

// Reporter runs reports over the database.
type Reporter struct {
	client  *ent.Client
	dialect string
}

// New returns a reporter over client, whose database speaks dialect
// (dialect.SQLite or dialect.Postgres).
func New(client *ent.Client, dialect string) *Reporter {
	return &Reporter{client: client, dialect: dialect}
}

// authorize returns the viewer when they may read a report over
// [from, to), what being the report's name for the refusal: owners,
// admins and API keys with READ, over at most maxSpan.
func authorize(ctx context.Context, from, to time.Time, what string) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.OrgID == "":
		return nil, apierr.NeedCredentials("authentication required")
	case v.IsAPIKey() && !v.Has(viewer.ScopeRead):
		return nil, apierr.New(apierr.Forbidden, "this API key lacks the READ scope")
	case !v.IsAdmin() && !v.IsAPIKey():
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN, or an API key, can read %s", what)
	}
	if !to.After(from) {
		return nil, apierr.BadInput("to", "to must be after from")
	}
	if to.Sub(from) > maxSpan {
		return nil, apierr.BadInput("to", "a report spans at most 366 days")
	}
	return v, nil
}

// channel is the channel a report is narrowed to, read with the viewer's
// rules: one they may not see is NOT_FOUND.
func (r *Reporter) channel(ctx context.Context, id gid.ID) (*ent.Channel, error) {
	ch, err := r.client.Channel.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "channel not found")
	}
	return ch, err
}

// Conversations computes the report of [from, to) for the viewer's
// organization, of one channel or of all, grouped by by. Owners, admins
// and API keys with READ may run it; it covers the SHARED channels and the
// ONLY_ME channels the viewer connected, as the inbox does.
func (r *Reporter) Conversations(ctx context.Context, from, to time.Time, channelID *gid.ID, by Grouping) ([]*Row, error) {
	v, err := authorize(ctx, from, to, "the conversation report")
	if err != nil {
		return nil, err
	}
	if by != ByAgent && by != ByChannel && by != ByDay {
		return nil, apierr.BadInput("groupBy", "groupBy must be AGENT, CHANNEL or DAY")
	}
	q := query{d: r.dialect, by: by, args: []any{string(v.OrgID), from.UTC(), to.UTC(), string(v.UserID)}}
	if channelID != nil {
		// Another organization's channel, or an ONLY_ME one of someone
		// else, is NOT_FOUND, as everywhere.
		ch, err := r.channel(ctx, *channelID)
		if err != nil {
			return nil, err
		}
		q.args = append(q.args, string(ch.ID))
		q.channel = true
	}
	rows := map[string]*Row{}
	row := func(key string) *Row {
		if x, ok := rows[key]; ok {
			return x
		}
		x := &Row{Key: key}
		switch by {
		case ByAgent:
			if key != None {
				x.AgentID = gid.ID(key)
			}
		case ByChannel:
			x.ChannelID = gid.ID(key)
		case ByDay:
			day := key
			x.Day = &day
		}
		rows[key] = x
		return x
	}
	stmt, args := q.counts()
	err = r.scan(ctx, stmt, args, func(s scanner) error {
		var key string
		var opened, resolved, in, out int
		if err := s.Scan(&key, &opened, &resolved, &in, &out); err != nil {
			return err
		}
		x := row(key)
		x.Opened, x.Resolved, x.MessagesIn, x.MessagesOut = opened, resolved, in, out
		return nil
	})
	if err != nil {
		return nil, err
	}
	stmt, args = q.percentiles()
	err = r.scan(ctx, stmt, args, func(s scanner) error {
		var key, what string
		var median, p90 sql.NullFloat64
		if err := s.Scan(&key, &what, &median, &p90); err != nil {
			return err
		}
		x := row(key)
		if what == "first_response" {
			x.FirstResponseMedianSeconds, x.FirstResponseP90Seconds = nullable(median), nullable(p90)
		} else {
			x.ResolutionMedianSeconds, x.ResolutionP90Seconds = nullable(median), nullable(p90)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Row, 0, len(rows))
	for _, x := range rows {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool {
		if by != ByDay && out[i].Opened != out[j].Opened {
			return out[i].Opened > out[j].Opened
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

type scanner interface{ Scan(...any) error }

// scan runs a report query and hands each row to f.
func (r *Reporter) scan(ctx context.Context, stmt string, args []any, f func(scanner) error) error {
	rows, err := r.client.QueryContext(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return rows.Err()
}

func nullable(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

// query builds the report's two statements. Its arguments are $1 the
// organization, $2 and $3 the range, $4 the viewing user ("" for an API
// key) and, with channel, $5 the channel.
type query struct {
	d       string
	by      Grouping
	channel bool
	args    []any
}

// day is the local date of a time column, "2026-12-03".
func (q query) day(col string) string { return LocalDay(q.d, col) }

// seconds is the time from column a to column b, in seconds to the
// millisecond.
func (q query) seconds(a, b string) string {
	if q.d == dialect.Postgres {
		return "round(EXTRACT(EPOCH FROM (" + b + " - " + a + "))::numeric, 3)::float8"
	}
	// julianday's days carry about 40 µs of floating-point noise.
	return "round((julianday(" + b + ") - julianday(" + a + ")) * 86400.0, 3)"
}

// conversations are the conditions every conversation of the report
// meets: the organization's, on a channel the viewer may report on (and
// the one asked for).
func (q query) conversations() string {
	w := "c.organization_id = $1 AND (ch.chat_permission = 'SHARED' OR ch.connected_by_id = $4)"
	if q.channel {
		w += " AND c.channel_id = $5"
	}
	return w
}

// key is a conversation's key: its assignee, its channel or the local day
// of the time column at.
func (q query) key(at string) string {
	switch q.by {
	case ByAgent:
		return "COALESCE(c.assignee_id, '" + None + "')"
	case ByChannel:
		return "c.channel_id"
	}
	return q.day(at)
}

// counts returns the statement counting, per key, the conversations
// opened and resolved and the messages in and out of the range.
func (q query) counts() (string, []any) {
	msgKey := q.key("m.created_at")
	if q.by == ByAgent {
		// A reply counts for whoever sent it; a customer's message for
		// the conversation's assignee.
		msgKey = "CASE WHEN m.direction = 'OUTBOUND' THEN COALESCE(m.sender_user_id, '" + None + "') ELSE COALESCE(c.assignee_id, '" + None + "') END"
	}
	stmt := `
SELECT k, SUM(opened), SUM(resolved), SUM(msg_in), SUM(msg_out) FROM (
	SELECT ` + q.key("c.created_at") + ` AS k, 1 AS opened, 0 AS resolved, 0 AS msg_in, 0 AS msg_out
	FROM conversations c JOIN channels ch ON ch.id = c.channel_id
	WHERE ` + q.conversations() + ` AND c.created_at >= $2 AND c.created_at < $3
	UNION ALL
	SELECT ` + q.key("c.resolved_at") + `, 0, 1, 0, 0
	FROM conversations c JOIN channels ch ON ch.id = c.channel_id
	WHERE ` + q.conversations() + ` AND c.resolved_at >= $2 AND c.resolved_at < $3
	UNION ALL
	SELECT ` + msgKey + `,
		0, 0,
		CASE WHEN m.direction = 'INBOUND' THEN 1 ELSE 0 END,
		CASE WHEN m.direction = 'OUTBOUND' THEN 1 ELSE 0 END
	FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN channels ch ON ch.id = c.channel_id
	WHERE m.organization_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ` + q.conversations() + `
		AND m.status NOT IN ('FAILED', 'CANCELLED')
) AS figures
GROUP BY k`
	return stmt, q.args
}

// percentiles returns the statement of the median and 90th percentile,
// per key, of first response times (what "first_response") and resolution
// times ("resolution"), by nearest rank: the value at position ⌈p·n⌉ of
// the n times in order, so each is a time that was actually seen.
func (q query) percentiles() (string, []any) {
	firstReply := `(SELECT MIN(r.created_at) FROM messages r
		WHERE r.conversation_id = c.id AND r.direction = 'OUTBOUND' AND r.sender_type = 'USER'
			AND r.auto_message_id IS NULL AND r.status NOT IN ('FAILED', 'CANCELLED'))`
	stmt := `
WITH times AS (
	SELECT 'first_response' AS what, k, ` + q.seconds("created_at", "first_reply") + ` AS s FROM (
		SELECT ` + q.key("c.created_at") + ` AS k, c.created_at, ` + firstReply + ` AS first_reply
		FROM conversations c JOIN channels ch ON ch.id = c.channel_id
		WHERE ` + q.conversations() + ` AND c.created_at >= $2 AND c.created_at < $3
	) AS opened WHERE first_reply IS NOT NULL
	UNION ALL
	SELECT 'resolution', ` + q.key("c.resolved_at") + `, ` + q.seconds("c.created_at", "c.resolved_at") + `
	FROM conversations c JOIN channels ch ON ch.id = c.channel_id
	WHERE ` + q.conversations() + ` AND c.resolved_at >= $2 AND c.resolved_at < $3
), ranked AS (
	SELECT what, k, s,
		ROW_NUMBER() OVER (PARTITION BY what, k ORDER BY s) AS rn,
		COUNT(*) OVER (PARTITION BY what, k) AS n
	FROM times
)
SELECT k, what,
	MIN(CASE WHEN rn = (n + 1) / 2 THEN s END),
	MIN(CASE WHEN rn = (9 * n + 9) / 10 THEN s END)
FROM ranked
GROUP BY k, what`
	return stmt, q.args
}

// Backfill dates the resolution of conversations resolved before
// resolved_at existed by their last update, the closest the database
// knows. It changes nothing once every resolved conversation has a date.
func Backfill(ctx context.Context, client *ent.Client) error {
	_, err := client.ExecContext(ctx, `UPDATE conversations SET resolved_at = updated_at WHERE status = 'RESOLVED' AND resolved_at IS NULL`)
	if err != nil {
		return fmt.Errorf("report: dating resolved conversations: %w", err)
	}
	return nil
}
