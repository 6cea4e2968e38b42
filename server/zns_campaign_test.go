package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
	"github.com/dakenh/dakenh/internal/zns"
)

const znsCampaignFields = `id name status waitingFor total queued sent delivered failed skipped createdBy { id } createdAt`

type znsCampaignOut struct {
	ID                                              gid.ID
	Name, Status                                    string
	WaitingFor                                      *string
	Total, Queued, Sent, Delivered, Failed, Skipped int
	CreatedBy                                       *struct{ ID string }
}

// orderCampaignParams fill orderConfirmed from the customer.
func orderCampaignParams() map[string]any {
	return map[string]any{"customer_name": "{{name}}", "order_code": "{{customFields.code}}", "amount": 150000, "order_date": "21/11/2026"}
}

func (z *znsEnv) createCampaign(token string, in map[string]any) (*znsCampaignOut, *gqlResponse) {
	z.t.Helper()
	full := map[string]any{"name": "Tháng 11", "channelId": z.oa.ID, "templateId": orderConfirmed.ID, "params": orderCampaignParams()}
	for k, v := range in {
		full[k] = v
	}
	r := z.gql(token, `mutation($in: CreateZnsCampaignInput!) { createZnsCampaign(input: $in) { `+znsCampaignFields+` } }`, map[string]any{"in": full})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var out struct{ CreateZnsCampaign znsCampaignOut }
	r.decode(z.t, &out)
	return &out.CreateZnsCampaign, r
}

func (z *znsEnv) campaign(id gid.ID) znsCampaignOut {
	z.t.Helper()
	var out struct{ Node znsCampaignOut }
	z.must(z.tn.agentToken, `query($id: ID!) { node(id: $id) { ... on ZnsCampaign { `+znsCampaignFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

func (z *znsEnv) campaignOp(op string, id gid.ID) (znsCampaignOut, *gqlResponse) {
	z.t.Helper()
	r := z.gql(z.tn.adminToken, `mutation($id: ID!) { `+op+`ZnsCampaign(id: $id) { `+znsCampaignFields+` } }`, map[string]any{"id": id})
	var out map[string]znsCampaignOut
	if len(r.Errors) == 0 {
		r.decode(z.t, &out)
	}
	return out[op+"ZnsCampaign"], r
}

// codeField is the first error's code with its reason or field.
func codeField(r *gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	ext := r.Errors[0].Extensions
	if reason, ok := ext["reason"].(string); ok {
		return r.code() + " " + reason
	}
	if field, ok := ext["field"].(string); ok {
		return r.code() + " " + field
	}
	return r.code()
}

// runCampaigns runs the due timers and delivers the queued ZNS messages
// until neither finds work.
func (z *znsEnv) runCampaigns() {
	z.t.Helper()
	for range 200 {
		n := z.runTimers(0)
		before := len(z.zfake.ZNSSent())
		for range 1000 {
			d, err := z.app.zns.DeliverDue(event.WithBus(context.Background(), z.app.bus))
			if err != nil {
				z.t.Fatalf("DeliverDue: %v", err)
			}
			if d == 0 {
				break
			}
		}
		if n == 0 && len(z.zfake.ZNSSent()) == before {
			return
		}
	}
	z.t.Fatal("the campaign kept finding work")
}

// addCustomers stores n customers named prefix-i with phones from base, as
// an import would.
func (z *znsEnv) addCustomers(prefix string, n, base int) {
	z.t.Helper()
	creates := make([]*ent.CustomerCreate, n)
	for i := range creates {
		creates[i] = z.db.Client.Customer.Create().SetName(prefix + " " + itoa(i)).
			SetPhone("+8491" + pad7(base+i)).SetCustomFields(map[string]any{"code": "C" + itoa(i)})
	}
	for start := 0; start < n; start += 500 {
		z.db.Client.Customer.CreateBulk(creates[start:min(start+500, n)]...).ExecX(z.sys())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func pad7(i int) string { return fmt.Sprintf("%07d", i) }

func TestZnsCampaignSegmentAndSkips(t *testing.T) {
	z := newSyncedZnsEnv(t)
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	an := z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH An", "phone": "0912000001", "customFields": map[string]any{"code": "A1"}})
	binh := z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH Bình", "customFields": map[string]any{"code": "B1"}})
	chi := z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH Chi", "phone": "0912000003", "doNotContact": true, "customFields": map[string]any{"code": "C1"}})
	dung := z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH Dũng", "phone": "0912000004"}) // no code: required
	em := z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH Em", "phone": "0912000005", "customFields": map[string]any{"code": "TOOLONGCODE1"}})
	z.createCustomer(z.tn.adminToken, map[string]any{"name": "Ngoài nhóm", "phone": "0912000006", "customFields": map[string]any{"code": "X1"}})

	if _, r := z.createCampaign(z.tn.agentToken, map[string]any{"search": "KH"}); r.code() != "FORBIDDEN" {
		t.Fatalf("an agent created a campaign: %+v", r.Errors)
	}
	c, r := z.createCampaign(z.tn.apiKey, map[string]any{"where": map[string]any{"nameHasPrefix": "KH"}})
	if r.code() != "" {
		t.Fatalf("createZnsCampaign: %+v", r.Errors)
	}
	if c.Status != "RUNNING" || c.Total != 5 || c.Skipped != 4 || c.Queued != 0 || c.CreatedBy != nil {
		t.Fatalf("created %+v", c)
	}
	var rec struct {
		Node struct {
			Recipients struct {
				Edges []struct {
					Node struct {
						Status     string
						SkipReason *string
						SkipDetail *string
						TrackingID string
						Customer   struct{ ID string }
						Message    *struct{ ID string }
					}
				}
			}
		}
	}
	recipients := func() map[string]string {
		z.must(z.tn.agentToken, `query($id: ID!) { node(id: $id) { ... on ZnsCampaign { recipients(first: 50) { edges { node {
			status skipReason skipDetail trackingId customer { id } message { id } } } } } } }`, map[string]any{"id": c.ID}, &rec)
		out := map[string]string{}
		for _, e := range rec.Node.Recipients.Edges {
			n := e.Node
			v := n.Status
			if n.SkipReason != nil {
				v += " " + *n.SkipReason
			}
			if n.SkipDetail != nil && n.SkipReason != nil && *n.SkipReason == "INVALID_PARAMS" {
				v += " " + (*n.SkipDetail)[:len("params.order_code")]
			}
			if n.TrackingID != zns.CampaignTrackingID(c.ID, gid.ID(n.Customer.ID)) {
				t.Errorf("trackingId %q of %s", n.TrackingID, n.Customer.ID)
			}
			out[n.Customer.ID] = v
		}
		return out
	}
	want := map[string]string{an: "PENDING", binh: "SKIPPED NO_PHONE", chi: "SKIPPED DO_NOT_CONTACT",
		dung: "SKIPPED INVALID_PARAMS params.order_code", em: "SKIPPED INVALID_PARAMS params.order_code"}
	if got := recipients(); !mapsEqual(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}

	z.runCampaigns()
	sent := z.zfake.ZNSSent()
	if len(sent) != 1 || sent[0].Phone != "84912000001" || sent[0].Data["customer_name"] != "KH An" || sent[0].Data["order_code"] != "A1" ||
		sent[0].Data["amount"] != "150000" || sent[0].TrackingID != zns.CampaignTrackingID(c.ID, gid.ID(an)) {
		t.Fatalf("Zalo got %+v", sent)
	}
	want[an] = "QUEUED"
	if got := recipients(); !mapsEqual(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	if got := z.campaign(c.ID); got.Status != "DONE" || got.Queued != 1 || got.Sent != 1 || got.Delivered != 0 || got.Failed != 0 || got.Skipped != 4 {
		t.Fatalf("after sending %+v", got)
	}
	// The receipt counts as delivered, and the message names its campaign.
	z.sendZalo(zalofake.ZNSDelivered(testZaloAppID, zalofake.ZNSMessage{OAID: testOAID, Phone: sent[0].Phone, MsgID: sent[0].MsgID, TrackingID: sent[0].TrackingID}, z.clock.Now()))
	z.process()
	var msgs struct {
		ZnsMessages struct {
			Edges []struct {
				Node struct {
					Status   string
					Campaign struct {
						ID        gid.ID
						Delivered int
					}
				}
			}
		}
	}
	z.must(z.tn.agentToken, `{ znsMessages(first: 5) { edges { node { status campaign { id delivered } } } } }`, nil, &msgs)
	if e := msgs.ZnsMessages.Edges; len(e) != 1 || e[0].Node.Status != "DELIVERED" || e[0].Node.Campaign.ID != c.ID || e[0].Node.Campaign.Delivered != 1 {
		t.Fatalf("messages %+v", msgs)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestZnsCampaignRefusals(t *testing.T) {
	z := newSyncedZnsEnv(t)
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.createCustomer(z.tn.adminToken, map[string]any{"name": "KH An", "phone": "0912000001"})
	with := func(name string, v any) map[string]any {
		p := orderCampaignParams()
		if v == nil {
			delete(p, name)
		} else {
			p[name] = v
		}
		return map[string]any{"params": p}
	}
	for _, tc := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"UnknownPlaceholder", with("customer_name", "Chào {{email}}"), "BAD_USER_INPUT params.customer_name"},
		{"UnknownCustomField", with("order_code", "{{customFields.nope}}"), "BAD_USER_INPUT params.order_code"},
		{"UnknownParameter", with("coupon", "X"), "BAD_USER_INPUT params.coupon"},
		{"MissingRequired", with("amount", nil), "BAD_USER_INPUT params.amount"},
		{"StaticValueRefused", with("order_date", "tomorrow"), "BAD_USER_INPUT params.order_date"},
		{"NoName", map[string]any{"name": "  "}, "BAD_USER_INPUT name"},
		{"UnknownTemplate", map[string]any{"templateId": "000"}, "BAD_USER_INPUT templateId"},
		{"TemplateNotEnabled", map[string]any{"templateId": pendingOTP.ID, "params": map[string]any{"otp": "123456"}}, "FAILED_PRECONDITION TEMPLATE_NOT_ENABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := z.createCampaign(z.tn.adminToken, tc.in)
			if got := codeField(r); got != tc.want && !(tc.name == "BadWhere" && r.code() == "BAD_USER_INPUT") {
				t.Fatalf("got %q (%+v), want %q", got, r.Errors, tc.want)
			}
		})
	}
	if n := z.db.Client.ZnsCampaign.Query().CountX(z.sys()); n != 0 {
		t.Errorf("%d campaigns stored", n)
	}
}

func TestZnsCampaignQuotaPacing(t *testing.T) {
	z := newZnsEnv(t)
	small := orderConfirmed
	small.DailyQuota, small.RemainingQuota = 1000, 3
	z.zfake.SetZNSTemplate(testOAID, small)
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.addCustomers("KH", 5, 100)
	c, r := z.createCampaign(z.tn.adminToken, nil)
	if r.code() != "" || c.Total != 5 || c.Skipped != 0 || c.CreatedBy == nil {
		t.Fatalf("create %+v %+v", c, r.Errors)
	}
	// Three fit the quota; the others wait while those are in flight.
	z.runTimers(0)
	z.runTimers(0)
	if got := z.campaign(c.ID); got.Queued != 3 || got.WaitingFor != nil {
		t.Fatalf("first batch %+v", got)
	}
	z.runCampaigns()
	z.runTimers(3 * time.Second) // past the in-flight wait
	if got := z.campaign(c.ID); got.Status != "RUNNING" || got.Queued != 3 || got.Sent != 3 || got.WaitingFor == nil || *got.WaitingFor != "QUOTA" {
		t.Fatalf("at quota 0 %+v", got)
	}
	if n := len(z.zfake.ZNSSent()); n != 3 {
		t.Fatalf("Zalo got %d sends", n)
	}
	// The quota resets at midnight, Vietnam time (17:00 UTC): the OA's
	// sync brings it and the campaign goes on.
	small.RemainingQuota = 1000
	z.zfake.SetZNSTemplate(testOAID, small)
	z.runTimers(8 * time.Hour)
	z.runTimers(time.Minute)
	z.runTimers(15 * time.Minute)
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Status != "DONE" || got.Queued != 5 || got.Sent != 5 || got.WaitingFor != nil {
		t.Fatalf("after the reset %+v", got)
	}
	if n := len(z.zfake.ZNSSent()); n != 5 {
		t.Fatalf("Zalo got %d sends", n)
	}
}

func TestZnsCampaignQuietHours(t *testing.T) {
	z := newSyncedZnsEnv(t)
	z.zfake.SetNow(z.clock.Now)
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.addCustomers("KH", 3, 200)
	z.clock.Advance(6*time.Hour + 30*time.Minute) // 22:30 in Vietnam
	c, r := z.createCampaign(z.tn.adminToken, map[string]any{"templateId": flashSale.ID, "params": map[string]any{"customer_name": "{{name}}"}})
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Queued != 0 || got.WaitingFor == nil || *got.WaitingFor != "QUIET_HOURS" {
		t.Fatalf("at 22:30 %+v", got)
	}
	z.runTimers(7*time.Hour + 29*time.Minute) // 05:59
	if got := z.campaign(c.ID); got.Queued != 0 || len(z.zfake.ZNSSent()) != 0 {
		t.Fatalf("at 05:59 %+v", got)
	}
	z.runTimers(time.Minute) // 06:00
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Status != "DONE" || got.Sent != 3 || got.Failed != 0 {
		t.Fatalf("at 06:00 %+v", got)
	}
	// A transaction template is not held.
	z.clock.Advance(16*time.Hour + 30*time.Minute) // 22:30 again
	c2, r := z.createCampaign(z.tn.adminToken, map[string]any{"params": map[string]any{"customer_name": "{{name}}", "order_code": "A1", "amount": 1, "order_date": "21/11/2026"}})
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.runCampaigns()
	if got := z.campaign(c2.ID); got.Status != "DONE" || got.Sent != 3 {
		t.Fatalf("a transaction campaign at night %+v", got)
	}
}

func TestZnsCampaignPauseResumeCancel(t *testing.T) {
	z := newSyncedZnsEnv(t)
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.addCustomers("KH", 250, 300)
	c, r := z.createCampaign(z.tn.adminToken, nil)
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.runTimers(0) // one batch
	if got := z.campaign(c.ID); got.Queued != zns.CampaignBatch {
		t.Fatalf("first batch %+v", got)
	}
	if got, r := z.campaignOp("pause", c.ID); r.code() != "" || got.Status != "PAUSED" {
		t.Fatalf("pause %+v %+v", got, r.Errors)
	}
	if _, r := z.campaignOp("pause", c.ID); codeField(r) != "FAILED_PRECONDITION CAMPAIGN_NOT_RUNNING" {
		t.Fatalf("pause twice %+v", r.Errors)
	}
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Status != "PAUSED" || got.Queued != zns.CampaignBatch || got.Sent != zns.CampaignBatch {
		t.Fatalf("paused %+v", got)
	}
	if r := z.gql(z.tn.agentToken, `mutation($id: ID!) { resumeZnsCampaign(id: $id) { id } }`, map[string]any{"id": c.ID}); r.code() != "FORBIDDEN" {
		t.Fatalf("an agent resumed: %+v", r.Errors)
	}
	if got, r := z.campaignOp("resume", c.ID); r.code() != "" || got.Status != "RUNNING" {
		t.Fatalf("resume %+v %+v", got, r.Errors)
	}
	if _, r := z.campaignOp("resume", c.ID); codeField(r) != "FAILED_PRECONDITION CAMPAIGN_NOT_PAUSED" {
		t.Fatalf("resume twice %+v", r.Errors)
	}
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Status != "DONE" || got.Queued != 250 || got.Sent != 250 {
		t.Fatalf("resumed %+v", got)
	}
	if _, r := z.campaignOp("cancel", c.ID); codeField(r) != "FAILED_PRECONDITION CAMPAIGN_FINISHED" {
		t.Fatalf("cancel a finished one %+v", r.Errors)
	}

	// Cancelled before it ran: nothing is queued, ever.
	c2, _ := z.createCampaign(z.tn.adminToken, nil)
	if got, r := z.campaignOp("cancel", c2.ID); r.code() != "" || got.Status != "CANCELLED" {
		t.Fatalf("cancel %+v %+v", got, r.Errors)
	}
	if _, r := z.campaignOp("resume", c2.ID); codeField(r) != "FAILED_PRECONDITION CAMPAIGN_NOT_PAUSED" {
		t.Fatalf("resume a cancelled one %+v", r.Errors)
	}
	z.runCampaigns()
	if got := z.campaign(c2.ID); got.Queued != 0 {
		t.Fatalf("cancelled %+v", got)
	}
	// Every customer got one message of the first campaign, none of the second.
	n := z.db.Client.ZnsMessage.Query().Where(znsmessage.HasCampaignWith(znscampaign.ID(c.ID))).CountX(z.sys())
	total := z.db.Client.ZnsMessage.Query().CountX(z.sys())
	if n != 250 || total != 250 || len(z.zfake.ZNSSent()) != 250 {
		t.Fatalf("%d messages of the campaign, %d stored, %d sent", n, total, len(z.zfake.ZNSSent()))
	}
}

// TestZnsCampaignQuotaAcrossReplicas runs two campaigns of one template on
// two server instances at the same moment: together they never queue more
// than the template's remaining quota, and Zalo refuses none for it.
func TestZnsCampaignQuotaAcrossReplicas(t *testing.T) {
	z := newZnsEnv(t)
	second := newEnvOn(t, z.db, z.zaloURLs(), withSecret(testSecret), onTheTestClock(z.webhookEnv))
	tpl := orderConfirmed
	tpl.DailyQuota, tpl.RemainingQuota = 1000, 150
	z.zfake.SetZNSTemplate(testOAID, tpl)
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.addCustomers("KH", 200, 400)
	var campaigns []gid.ID
	for _, name := range []string{"Đợt 1", "Đợt 2"} {
		c, r := z.createCampaign(z.tn.adminToken, map[string]any{"name": name})
		if r.code() != "" {
			t.Fatal(r.Errors)
		}
		campaigns = append(campaigns, c.ID)
	}
	// Each instance's timer worker claims one campaign's runner; both
	// run at once.
	for range 3 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, a := range []*App{z.app, second.app} {
			wg.Go(func() {
				<-start
				if _, err := a.timers.RunDue(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := z.db.Client.ZnsMessage.Query().CountX(z.sys()); n > tpl.RemainingQuota {
			t.Fatalf("%d messages queued for a remaining quota of %d", n, tpl.RemainingQuota)
		}
	}
	z.runCampaigns()
	z.runTimers(3 * time.Second) // past the in-flight wait: the quota is 0
	queued, sent := 0, 0
	for _, id := range campaigns {
		got := z.campaign(id)
		if got.Status != "RUNNING" || got.Failed != 0 || got.WaitingFor == nil || *got.WaitingFor != "QUOTA" {
			t.Errorf("campaign %+v", got)
		}
		queued += got.Queued
		sent += got.Sent
	}
	if queued != tpl.RemainingQuota || sent != tpl.RemainingQuota || len(z.zfake.ZNSSent()) != tpl.RemainingQuota {
		t.Errorf("%d queued, %d sent, Zalo got %d, for a quota of %d", queued, sent, len(z.zfake.ZNSSent()), tpl.RemainingQuota)
	}
	if n := z.db.Client.ZnsMessage.Query().Where(znsmessage.StatusNEQ(znsmessage.StatusSENT)).CountX(z.sys()); n != 0 {
		t.Errorf("%d messages not sent", n)
	}
}

// TestZnsCampaignWaitsOutZalosQuota: when Zalo's quota for the template is
// lower than the one stored (other sends used it), the campaign's messages
// Zalo refuses for the daily limit (-147) wait for the reset instead of
// failing, and go out after it; the campaign waits with them.
func TestZnsCampaignWaitsOutZalosQuota(t *testing.T) {
	z := newSyncedZnsEnv(t) // 1,000 remaining stored
	z.must(z.tn.ownerToken, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	z.addCustomers("KH", 5, 500)
	low := orderConfirmed
	low.RemainingQuota = 2
	z.zfake.SetZNSTemplate(testOAID, low)
	c, r := z.createCampaign(z.tn.adminToken, nil)
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.runCampaigns()
	z.runTimers(3 * time.Second)
	got := z.campaign(c.ID)
	if got.Status != "RUNNING" || got.Queued != 5 || got.Sent != 2 || got.Failed != 0 || got.WaitingFor == nil || *got.WaitingFor != "QUOTA" {
		t.Fatalf("at Zalo's limit %+v", got)
	}
	waiting := z.db.Client.ZnsMessage.Query().Where(znsmessage.StatusEQ(znsmessage.StatusQUEUED)).AllX(z.sys())
	if len(waiting) != 3 || waiting[0].LastError == nil || *waiting[0].LastError != "The template reached its daily limit." {
		t.Fatalf("waiting messages %+v", waiting)
	}
	// Midnight in Vietnam (17:00 UTC): the sync brings the new quota and
	// the waiting messages go.
	z.zfake.SetZNSTemplate(testOAID, orderConfirmed)
	z.runTimers(8*time.Hour + time.Minute)
	z.runTimers(time.Minute)
	z.runCampaigns()
	if got := z.campaign(c.ID); got.Status != "DONE" || got.Sent != 5 || got.Failed != 0 {
		t.Fatalf("after the reset %+v", got)
	}
	sent := map[string]int{}
	for _, m := range z.zfake.ZNSSent() {
		sent[m.TrackingID]++
	}
	if len(sent) != 5 || len(z.zfake.ZNSSent()) != 5 {
		t.Fatalf("Zalo took %d sends for %d trackingIds", len(z.zfake.ZNSSent()), len(sent))
	}
}
