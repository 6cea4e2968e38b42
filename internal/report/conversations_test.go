package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/report"
	"github.com/dakenh/dakenh/internal/viewer"
)

// local is a time in Asia/Ho_Chi_Minh.
func local(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05 -07:00", s+" +07:00")
	if err != nil {
		panic(err)
	}
	return t
}

// history is a known set of conversations: what the report of
// 2026-11-01 and 2026-11-02 (local) must count, and what it must not.
type history struct {
	org            gid.ID
	owner, a, b    gid.ID
	shared, onlyMe gid.ID
}

func seed(t *testing.T, c *ent.Client) history {
	t.Helper()
	org := c.Organization.Create().SetName("Báo cáo").SaveX(viewer.SystemContext(context.Background(), ""))
	ctx := viewer.SystemContext(context.Background(), org.ID)
	user := func(name string, role viewer.Role) gid.ID {
		return c.User.Create().SetName(name).SetEmail(fmt.Sprintf("%s@bao-cao.vn", name)).SetPasswordHash("x").SetRole(role).SaveX(ctx).ID
	}
	h := history{org: org.ID, owner: user("chu", viewer.RoleOwner), a: user("an", viewer.RoleAgent), b: user("binh", viewer.RoleAgent)}
	ch := func(name string, perm channel.ChatPermission, by gid.ID) gid.ID {
		return c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-" + name).SetName(name).
			SetChatPermission(perm).SetConnectedByID(by).SetLastConnectedAt(time.Now()).SaveX(ctx).ID
	}
	h.shared, h.onlyMe = ch("chung", channel.ChatPermissionSHARED, h.owner), ch("rieng", channel.ChatPermissionONLY_ME, h.b)

	n := 0
	conv := func(chID gid.ID, assignee *gid.ID, opened string, resolved string) gid.ID {
		n++
		cust := c.Customer.Create().SetName(fmt.Sprint("Khách ", n)).SaveX(ctx)
		cr := c.Conversation.Create().SetChannelID(chID).SetCustomerID(cust.ID).SetNillableAssigneeID(assignee).SetCreatedAt(local(opened))
		if resolved != "" {
			cr.SetStatus(conversation.StatusRESOLVED).SetResolvedAt(local(resolved))
		}
		return cr.SaveX(ctx).ID
	}
	msg := func(convID, chID gid.ID, at string, dir message.Direction, sender message.SenderType, by *gid.ID, status message.Status) {
		c.Message.Create().SetConversationID(convID).SetChannelID(chID).SetDirection(dir).SetSenderType(sender).
			SetNillableSenderUserID(by).SetStatus(status).SetText("…").SetCreatedAt(local(at)).SaveX(ctx)
	}
	in := func(convID, chID gid.ID, at string) {
		msg(convID, chID, at, message.DirectionINBOUND, message.SenderTypeCUSTOMER, nil, message.StatusRECEIVED)
	}
	reply := func(convID, chID gid.ID, at string, by gid.ID) {
		msg(convID, chID, at, message.DirectionOUTBOUND, message.SenderTypeUSER, &by, message.StatusSENT)
	}
	S := h.shared
	// c1: A's, opened 1 Nov 08:00, answered in 60 s, resolved in an hour.
	c1 := conv(S, &h.a, "2026-11-01 08:00:00", "2026-11-01 09:00:00")
	in(c1, S, "2026-11-01 08:00:00")
	reply(c1, S, "2026-11-01 08:01:00", h.a)
	msg(c1, S, "2026-11-01 08:02:00", message.DirectionOUTBOUND, message.SenderTypeUSER, &h.a, message.StatusFAILED)
	// c2: A's, opened late on 1 Nov (16:30 UTC), answered in 300 s,
	// resolved an hour later, on 2 Nov local.
	c2 := conv(S, &h.a, "2026-11-01 23:30:00", "2026-11-02 00:30:00")
	in(c2, S, "2026-11-01 23:30:00")
	reply(c2, S, "2026-11-01 23:35:00", h.a)
	// c3: B's, an auto-reply after 10 s (not a response), B's after 600 s.
	c3 := conv(S, &h.b, "2026-11-02 10:00:00", "")
	in(c3, S, "2026-11-02 10:00:00")
	msg(c3, S, "2026-11-02 10:00:10", message.DirectionOUTBOUND, message.SenderTypeSYSTEM, nil, message.StatusSENT)
	reply(c3, S, "2026-11-02 10:10:00", h.b)
	// c4: unassigned, two messages, never answered.
	c4 := conv(S, nil, "2026-11-02 11:00:00", "")
	in(c4, S, "2026-11-02 11:00:00")
	in(c4, S, "2026-11-02 11:05:00")
	// c5: A's, opened before the range, resolved in it after 36 h.
	c5 := conv(S, &h.a, "2026-10-31 20:00:00", "2026-11-02 08:00:00")
	in(c5, S, "2026-10-31 20:00:00")
	// c6: on B's ONLY_ME channel: only B's report would show it.
	c6 := conv(h.onlyMe, &h.b, "2026-11-01 12:00:00", "")
	in(c6, h.onlyMe, "2026-11-01 12:00:00")
	// c7: opened exactly at the end of the range, which excludes it.
	c7 := conv(S, &h.a, "2026-11-03 00:00:00", "")
	in(c7, S, "2026-11-03 00:00:00")
	return h
}

func f(v float64) *float64 { return &v }

// TestConversationReport checks every figure of the report on known data,
// grouped each way, for an owner and an API key; and who may not run it.
func TestConversationReport(t *testing.T) {
	db := dbtest.Open(t)
	h := seed(t, db.Client)
	r := report.New(db.Client, db.Dialect)
	from, to := local("2026-11-01 00:00:00"), local("2026-11-03 00:00:00")
	owner := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: h.org, UserID: h.owner, Role: viewer.RoleOwner})
	key := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: h.org, APIKeyID: "key_1", Scopes: []viewer.Scope{viewer.ScopeRead}})
	day := func(s string) *string { return &s }

	byDay := []*report.Row{
		{Key: "2026-11-01", Day: day("2026-11-01"), Opened: 2, Resolved: 1, MessagesIn: 2, MessagesOut: 2,
			FirstResponseMedianSeconds: f(60), FirstResponseP90Seconds: f(300), ResolutionMedianSeconds: f(3600), ResolutionP90Seconds: f(3600)},
		{Key: "2026-11-02", Day: day("2026-11-02"), Opened: 2, Resolved: 2, MessagesIn: 3, MessagesOut: 2,
			FirstResponseMedianSeconds: f(600), FirstResponseP90Seconds: f(600), ResolutionMedianSeconds: f(3600), ResolutionP90Seconds: f(129600)},
	}
	byAgent := []*report.Row{
		{Key: string(h.a), AgentID: h.a, Opened: 2, Resolved: 3, MessagesIn: 2, MessagesOut: 2,
			FirstResponseMedianSeconds: f(60), FirstResponseP90Seconds: f(300), ResolutionMedianSeconds: f(3600), ResolutionP90Seconds: f(129600)},
		{Key: report.None, Opened: 1, MessagesIn: 2, MessagesOut: 1},
		{Key: string(h.b), AgentID: h.b, Opened: 1, MessagesIn: 1, MessagesOut: 1,
			FirstResponseMedianSeconds: f(600), FirstResponseP90Seconds: f(600)},
	}
	byChannel := []*report.Row{
		{Key: string(h.shared), ChannelID: h.shared, Opened: 4, Resolved: 3, MessagesIn: 5, MessagesOut: 4,
			FirstResponseMedianSeconds: f(300), FirstResponseP90Seconds: f(600), ResolutionMedianSeconds: f(3600), ResolutionP90Seconds: f(129600)},
	}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		channel *gid.ID
		by      report.Grouping
		want    []*report.Row
	}{
		{"ByDay", owner, nil, report.ByDay, byDay},
		{"ByAgent", owner, nil, report.ByAgent, byAgent},
		{"ByChannel", owner, nil, report.ByChannel, byChannel},
		{"OneChannel", owner, &h.shared, report.ByDay, byDay},
		{"APIKey", key, nil, report.ByChannel, byChannel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Conversations(tc.ctx, from, to, tc.channel, tc.by)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Fatalf("got  %s\nwant %s", g, w)
			}
		})
	}

	t.Run("ConnectorSeesTheirOnlyMeChannel", func(t *testing.T) {
		b := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: h.org, UserID: h.b, Role: viewer.RoleAdmin})
		got, err := r.Conversations(b, from, to, nil, report.ByChannel)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[1].ChannelID != h.onlyMe || got[1].Opened != 1 || got[1].MessagesIn != 1 {
			g, _ := json.Marshal(got)
			t.Fatalf("got %s", g)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		agent := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: h.org, UserID: h.a, Role: viewer.RoleAgent})
		writeOnly := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: h.org, APIKeyID: "key_2", Scopes: []viewer.Scope{viewer.ScopeWrite}})
		other := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: gid.New("Organization"), UserID: gid.New("User"), Role: viewer.RoleOwner})
		for _, tc := range []struct {
			name     string
			ctx      context.Context
			from, to time.Time
			channel  *gid.ID
			by       report.Grouping
			code     apierr.Code
		}{
			{"Agent", agent, from, to, nil, report.ByDay, apierr.Forbidden},
			{"KeyWithoutRead", writeOnly, from, to, nil, report.ByDay, apierr.Forbidden},
			{"EmptyRange", owner, to, from, nil, report.ByDay, apierr.BadUserInput},
			{"OverAYear", owner, from, from.AddDate(1, 1, 0), nil, report.ByDay, apierr.BadUserInput},
			{"BadGrouping", owner, from, to, nil, report.Grouping("WEEK"), apierr.BadUserInput},
			{"ForeignChannel", other, from, to, &h.shared, report.ByDay, apierr.NotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.Conversations(tc.ctx, tc.from, tc.to, tc.channel, tc.by)
				if apierr.CodeOf(err) != tc.code {
					t.Fatalf("got %v (%s), want %s", err, apierr.CodeOf(err), tc.code)
				}
			})
		}
	})
}

// TestResolvedAtFollowsStatus: resolving stamps resolved_at, reopening
// clears it, whoever changes the status.
func TestResolvedAtFollowsStatus(t *testing.T) {
	db := dbtest.Open(t)
	h := seed(t, db.Client)
	ctx := viewer.SystemContext(context.Background(), h.org)
	cust := db.Client.Customer.Create().SetName("Mới").SaveX(ctx)
	c := db.Client.Conversation.Create().SetChannelID(h.shared).SetCustomerID(cust.ID).SaveX(ctx)
	if c.ResolvedAt != nil {
		t.Fatalf("open conversation resolved at %v", c.ResolvedAt)
	}
	before := time.Now().Add(-time.Second)
	c = db.Client.Conversation.UpdateOne(c).SetStatus(conversation.StatusRESOLVED).SaveX(ctx)
	if c.ResolvedAt == nil || c.ResolvedAt.Before(before) {
		t.Fatalf("resolved at %v", c.ResolvedAt)
	}
	c = db.Client.Conversation.UpdateOne(c).SetStatus(conversation.StatusOPEN).SaveX(ctx)
	if c.ResolvedAt != nil {
		t.Fatalf("reopened conversation resolved at %v", c.ResolvedAt)
	}
	n := db.Client.Conversation.Update().Where(conversation.ID(c.ID)).SetStatus(conversation.StatusRESOLVED).SaveX(ctx)
	if got := db.Client.Conversation.GetX(ctx, c.ID); n != 1 || got.ResolvedAt == nil {
		t.Fatalf("bulk resolve: %d rows, resolved at %v", n, got.ResolvedAt)
	}
}
