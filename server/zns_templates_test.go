package main

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	enttimer "github.com/dakenh/dakenh/ent/timer"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// znsEnv is a webhookEnv on the test clock whose OA has ZNS templates on
// the fake.
type znsEnv struct{ *webhookEnv }

// The ZNS templates of the fake OA.
var (
	orderConfirmed = zalofake.ZNSTemplate{
		ID: "231456", Name: "Xác nhận đơn hàng", Status: "ENABLE", Quality: "HIGH", Tag: "TRANSACTION",
		Params: []zalofake.ZNSParam{
			{Name: "customer_name", Type: "STRING", Require: true, MinLength: 1, MaxLength: 30},
			{Name: "order_code", Type: "STRING", Require: true, MaxLength: 10},
			{Name: "amount", Type: "NUMBER", Require: true, MaxLength: 12},
			{Name: "order_date", Type: "DATE", Require: true},
			{Name: "note", Type: "STRING", MaxLength: 50, AcceptNull: true},
		},
		Price: 300, TimeoutMs: 7200000, PreviewURL: "https://account.zalo.cloud/znspreview/order",
		DailyQuota: 1000, RemainingQuota: 1000,
	}
	flashSale = zalofake.ZNSTemplate{
		ID: "231789", Name: "Khuyến mãi cuối tuần", Status: "ENABLE", Quality: "MEDIUM", Tag: "PROMOTION",
		Params: []zalofake.ZNSParam{{Name: "customer_name", Type: "STRING", Require: true, MaxLength: 30}},
		Price:  450, TimeoutMs: 3600000, PreviewURL: "https://account.zalo.cloud/znspreview/sale",
		DailyQuota: 200, RemainingQuota: 200,
	}
	pendingOTP = zalofake.ZNSTemplate{
		ID: "231999", Name: "Mã OTP", Status: "PENDING_REVIEW", Quality: "UNDEFINED", Tag: "TRANSACTION",
		Params: []zalofake.ZNSParam{{Name: "otp", Type: "STRING", Require: true, MinLength: 6, MaxLength: 6}},
		Price:  200, DailyQuota: 500, RemainingQuota: 500,
	}
)

func newZnsEnv(t *testing.T, opts ...func(*webhookEnv) envOption) *znsEnv {
	t.Helper()
	z := &znsEnv{webhookEnv: newWebhookEnv(t, append([]func(*webhookEnv) envOption{onTheTestClock}, opts...)...)}
	for _, tpl := range []zalofake.ZNSTemplate{orderConfirmed, flashSale, pendingOTP} {
		z.zfake.SetZNSTemplate(testOAID, tpl)
	}
	return z
}

const (
	znsTemplateFields = `id templateId name status tag params { name type required minLength maxLength acceptNull }
		price quality previewUrl timeoutMs dailyQuota remainingQuota syncedAt channel { id }`
	syncZnsTemplatesMutation = `mutation($c: ID!) { syncZnsTemplates(channelId: $c) { ` + znsTemplateFields + ` } }`
	znsTemplatesQuery        = `query($w: ZnsTemplateWhereInput) { znsTemplates(first: 50, where: $w) { totalCount edges { node { ` + znsTemplateFields + ` } } } }`
)

type znsTemplateOut struct {
	ID         gid.ID
	TemplateID string
	Name       string
	Status     string
	Tag        string
	Params     []struct {
		Name                 string
		Type                 string
		Required             bool
		MinLength, MaxLength int
		AcceptNull           bool
	}
	Price, TimeoutMs           int
	Quality, PreviewURL        string
	DailyQuota, RemainingQuota int
	SyncedAt                   time.Time
	Channel                    struct{ ID gid.ID }
}

func (z *znsEnv) sync(token string) ([]znsTemplateOut, *gqlResponse) {
	z.t.Helper()
	r := z.gql(token, syncZnsTemplatesMutation, map[string]any{"c": z.oa.ID})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var out struct{ SyncZnsTemplates []znsTemplateOut }
	r.decode(z.t, &out)
	return out.SyncZnsTemplates, r
}

func (z *znsEnv) templates(token string, where map[string]any) []znsTemplateOut {
	z.t.Helper()
	var out struct {
		ZnsTemplates struct {
			TotalCount int
			Edges      []struct{ Node znsTemplateOut }
		}
	}
	z.must(token, znsTemplatesQuery, map[string]any{"w": where}, &out)
	var ts []znsTemplateOut
	for _, e := range out.ZnsTemplates.Edges {
		ts = append(ts, e.Node)
	}
	slices.SortFunc(ts, func(a, b znsTemplateOut) int { return compareStrings(a.TemplateID, b.TemplateID) })
	return ts
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func statuses(ts []znsTemplateOut) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[t.TemplateID] = t.Status
	}
	return m
}

// syncTimer returns the OA's pending periodic sync, or nil.
func (z *znsEnv) syncTimer() *ent.Timer {
	z.t.Helper()
	t, err := z.db.Client.Timer.Query().Where(enttimer.Kind("zns.template_sync"), enttimer.Key(string(z.oa.ID))).Only(z.sys())
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		z.t.Fatal(err)
	}
	return t
}

// runTimers moves the clock by d and runs the timers that came due.
func (z *znsEnv) runTimers(d time.Duration) int {
	z.t.Helper()
	z.clock.Advance(d)
	n, err := z.app.timers.RunDue(context.Background())
	if err != nil {
		z.t.Fatalf("RunDue: %v", err)
	}
	return n
}

func TestSyncZnsTemplates(t *testing.T) {
	z := newZnsEnv(t)
	got, r := z.sync(z.tn.adminToken)
	if r.code() != "" {
		t.Fatalf("sync: %+v", r.Errors)
	}
	if len(got) != 3 {
		t.Fatalf("synced %d templates, want 3", len(got))
	}
	o := got[0]
	if o.TemplateID != "231456" || o.Name != "Xác nhận đơn hàng" || o.Status != "ENABLE" || o.Tag != "TRANSACTION" ||
		o.Price != 300 || o.Quality != "HIGH" || o.PreviewURL != orderConfirmed.PreviewURL || o.TimeoutMs != 7200000 ||
		o.DailyQuota != 1000 || o.RemainingQuota != 1000 || !o.SyncedAt.Equal(z.clock.Now()) || o.Channel.ID != z.oa.ID ||
		len(o.Params) != 5 {
		t.Errorf("stored %+v", o)
	}
	if p := o.Params[0]; p.Name != "customer_name" || p.Type != "STRING" || !p.Required || p.MinLength != 1 || p.MaxLength != 30 || p.AcceptNull {
		t.Errorf("first parameter %+v", p)
	}
	if p := o.Params[4]; p.Name != "note" || p.Required || !p.AcceptNull || p.MaxLength != 50 {
		t.Errorf("last parameter %+v", p)
	}
	if s := statuses(got); s["231789"] != "ENABLE" || s["231999"] != "PENDING_REVIEW" {
		t.Errorf("statuses %v", s)
	}

	// Everyone reads; the where-input filters.
	if ts := z.templates(z.tn.agentToken, nil); len(ts) != 3 {
		t.Errorf("the agent sees %d templates", len(ts))
	}
	if ts := z.templates(z.tn.agentToken, map[string]any{"status": "ENABLE"}); len(ts) != 2 {
		t.Errorf("%d ENABLE templates, want 2", len(ts))
	}

	// Zalo removes one, approves another and renames the third; a WRITE
	// key syncs. The removed one is DELETE, not deleted.
	z.zfake.RemoveZNSTemplate(testOAID, flashSale.ID)
	approved := pendingOTP
	approved.Status = "ENABLE"
	z.zfake.SetZNSTemplate(testOAID, approved)
	renamed := orderConfirmed
	renamed.Name, renamed.RemainingQuota = "Xác nhận đơn", 640
	z.zfake.SetZNSTemplate(testOAID, renamed)
	z.clock.Advance(time.Minute)
	got, r = z.sync(z.tn.apiKey)
	if r.code() != "" {
		t.Fatalf("sync by a WRITE key: %+v", r.Errors)
	}
	if s := statuses(got); len(got) != 3 || s["231789"] != "DELETE" || s["231999"] != "ENABLE" || s["231456"] != "ENABLE" {
		t.Errorf("after the second sync: %v", s)
	}
	if got[0].Name != "Xác nhận đơn" || got[0].RemainingQuota != 640 || got[0].ID != o.ID {
		t.Errorf("the renamed template: %+v (was %s)", got[0], o.ID)
	}
	// A template coming back is itself again.
	z.zfake.SetZNSTemplate(testOAID, flashSale)
	if got, _ = z.sync(z.tn.ownerToken); statuses(got)["231789"] != "ENABLE" {
		t.Errorf("a template back on Zalo: %v", statuses(got))
	}
	// Each sync schedules the next periodic one.
	if tm := z.syncTimer(); tm == nil || !tm.DueAt.Equal(z.clock.Now().Add(4*time.Hour)) {
		t.Errorf("periodic sync timer %+v", tm)
	}
}

func TestSyncZnsTemplatesRefusals(t *testing.T) {
	z := newZnsEnv(t)
	other := z.newTenant("Other Org")
	readKey := z.createAPIKey(z.tn.ownerToken, "READ")
	for _, tc := range []struct {
		name, token string
		channel     gid.ID
		code        string
		reason      string
	}{
		{"Agent", z.tn.agentToken, z.oa.ID, "FORBIDDEN", ""},
		{"ReadKey", readKey, z.oa.ID, "FORBIDDEN", ""},
		{"Anonymous", "", z.oa.ID, "UNAUTHENTICATED", ""},
		{"OtherTenant", other.adminToken, z.oa.ID, "NOT_FOUND", ""},
		{"Unknown", z.tn.adminToken, gid.New("Channel"), "NOT_FOUND", ""},
		{"FacebookPage", z.tn.adminToken, z.page.ID, "FAILED_PRECONDITION", "CHANNEL_UNSUPPORTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := z.gql(tc.token, syncZnsTemplatesMutation, map[string]any{"c": tc.channel})
			if r.code() != tc.code {
				t.Fatalf("errors %+v, want %s", r.Errors, tc.code)
			}
			if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
	if n := len(z.templates(z.tn.adminToken, nil)); n != 0 {
		t.Errorf("%d templates stored by refused syncs", n)
	}

	// Zalo failing leaves nothing half-stored; the message says to retry.
	z.zfake.FailNext(zalofake.ZNSTemplateDetail, 1, zalofake.Status(http.StatusBadGateway))
	_, r := z.sync(z.tn.adminToken)
	if reason, _ := r.Errors[0].Extensions["reason"].(string); r.code() != "FAILED_PRECONDITION" || reason != "PROVIDER_UNAVAILABLE" {
		t.Fatalf("a 502 from Zalo: %+v", r.Errors)
	}
	if n := len(z.templates(z.tn.adminToken, nil)); n != 0 {
		t.Errorf("%d templates stored by a failed sync", n)
	}
	// An expired token is refreshed once and the sync goes through.
	z.zfake.ExpireToken(testOAID)
	if got, r := z.sync(z.tn.adminToken); r.code() != "" || len(got) != 3 {
		t.Fatalf("after a token refresh: %d templates, %+v", len(got), r.Errors)
	}
	// Another organization sees none of them.
	if n := len(z.templates(other.adminToken, nil)); n != 0 {
		t.Errorf("another organization sees %d templates", n)
	}
}

func TestZnsTemplateWebhooksAndPeriodicSync(t *testing.T) {
	z := newZnsEnv(t)
	// Start-up gives the OA a sync due in a minute; ensuring again does
	// not postpone it.
	if err := z.app.zns.EnsureSyncs(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := z.syncTimer()
	if first == nil || !first.DueAt.Equal(z.clock.Now().Add(time.Minute)) {
		t.Fatalf("first sync timer %+v", first)
	}
	z.clock.Advance(30 * time.Second)
	if err := z.app.zns.EnsureSyncs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := z.syncTimer(); !again.DueAt.Equal(first.DueAt) {
		t.Errorf("ensuring again moved the sync to %v", again.DueAt)
	}
	if n := z.runTimers(30 * time.Second); n != 1 {
		t.Fatalf("%d timers ran, want the sync", n)
	}
	if s := statuses(z.templates(z.tn.agentToken, nil)); len(s) != 3 {
		t.Fatalf("the periodic sync stored %v", s)
	}
	if tm := z.syncTimer(); tm == nil || !tm.DueAt.Equal(z.clock.Now().Add(4*time.Hour)) {
		t.Fatalf("next periodic sync %+v", tm)
	}

	// Zalo disables a template: the webhook, a duplicate of it, and the
	// stored status follows.
	ev := zalofake.TemplateStatusChanged(testZaloAppID, testOAID, orderConfirmed.ID, "ENABLE", "DISABLE", "low quality", z.clock.Now())
	z.sendZalo(ev)
	z.sendZalo(ev)
	z.process()
	if s := statuses(z.templates(z.tn.agentToken, nil)); s[orderConfirmed.ID] != "DISABLE" || s[flashSale.ID] != "ENABLE" {
		t.Errorf("after change_template_status: %v", s)
	}

	// The OA's daily quota changes: the templates' quotas are read again
	// at once, by whichever replica runs the timer.
	lowered := flashSale
	lowered.DailyQuota, lowered.RemainingQuota = 100, 37
	z.zfake.SetZNSTemplate(testOAID, lowered)
	z.sendZalo(zalofake.DailyQuotaChanged(testZaloAppID, testOAID, 500, 100, z.clock.Now()))
	z.process()
	if tm := z.syncTimer(); !tm.DueAt.Equal(z.clock.Now()) {
		t.Fatalf("a quota change left the sync due at %v", tm.DueAt)
	}
	z.runTimers(0)
	for _, tpl := range z.templates(z.tn.agentToken, nil) {
		if tpl.TemplateID == flashSale.ID && (tpl.DailyQuota != 100 || tpl.RemainingQuota != 37) {
			t.Errorf("quota after the webhook: %d/%d", tpl.RemainingQuota, tpl.DailyQuota)
		}
	}

	// A status change of a template never synced brings the sync forward,
	// which stores it.
	fresh := zalofake.ZNSTemplate{ID: "232000", Name: "Nhắc lịch hẹn", Status: "ENABLE", Tag: "CUSTOMER_CARE", Price: 250}
	z.zfake.SetZNSTemplate(testOAID, fresh)
	z.sendZalo(zalofake.TemplateStatusChanged(testZaloAppID, testOAID, fresh.ID, "PENDING_REVIEW", "ENABLE", "", z.clock.Now()))
	z.process()
	z.runTimers(0)
	if s := statuses(z.templates(z.tn.agentToken, nil)); s[fresh.ID] != "ENABLE" {
		t.Errorf("the new template after its webhook: %v", s)
	}

	// A periodic sync that fails is tried again ten minutes later.
	z.zfake.FailNext(zalofake.ZNSTemplateList, 1, zalofake.Status(http.StatusServiceUnavailable))
	z.runTimers(4 * time.Hour)
	if tm := z.syncTimer(); tm == nil || !tm.DueAt.Equal(z.clock.Now().Add(10*time.Minute)) {
		t.Errorf("after a failed periodic sync the next is %+v", tm)
	}
}
