package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/ent/znscampaignrecipient"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
	"github.com/dakenh/dakenh/internal/zns"
)

// TestKill9DuringZnsCampaign runs a campaign of 1,000 customers on a server
// process, kills it with SIGKILL midway and starts it again on the same
// database: every eligible customer gets exactly one ZNS, each skipped one
// keeps its reason, and the campaign's counts are the messages'.
//
// At the kill the campaign is in every state at once: recipients sent,
// recipients queued and waiting for the delivery worker, four sends held
// by Zalo (the channel's deliveries in flight, whose answers never come),
// and recipients still pending because the template's remaining quota
// paces the runner. The kill comes once every send Zalo answered is
// recorded: a send Zalo accepts in the instant before a crash, before its
// answer is written, goes again after the restart (Zalo documents no
// idempotency for tracking_id; the delivery queue is at least once, see
// internal/delivery), and no test can tell that instant from any other.
func TestKill9DuringZnsCampaign(t *testing.T) {
	zfake, env, open := chaosSetup(t)
	env = append(env, "ZNS_API_URL="+zfake.URL())
	// The runner queues at most the template's remaining quota, 400: the
	// rest of the 700 eligible wait until a sync brings more.
	tpl := orderConfirmed
	tpl.DailyQuota, tpl.RemainingQuota = 5000, 400
	zfake.SetZNSTemplate(testOAID, tpl)
	zfake.SetZNSQuota(testOAID, 5000, 5000)
	// withDB runs fn on the database while no server holds it, and closes
	// the embedded one again for the next server.
	withDB := func(fn func(db *database.DB)) {
		db := open()
		fn(db)
		if dbtest.Dialect() != dialect.Postgres {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}

	srv := startChild(t, env)
	var up struct{ SignUp struct{ Token string } }
	srv.graphql(t, "", `mutation { signUp(input: {organizationName: "Chaos", name: "Chủ", email: "chu@chaos.vn", password: "mat-khau-dai-chaos"}) { token } }`, nil, &up)
	token := up.SignUp.Token
	var oa struct{ ConnectZaloOA struct{ ID gid.ID } }
	srv.graphql(t, token, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`, map[string]any{"in": zaloInput(testOAID)}, &oa)
	chID := oa.ConnectZaloOA.ID
	srv.graphql(t, token, `mutation($c: ID!) { syncZnsTemplates(channelId: $c) { id } }`, map[string]any{"c": chID}, nil)
	srv.graphql(t, token, `mutation { createCustomField(input: {key: "code", label: "Mã đơn", type: TEXT}) { id } }`, nil, nil)
	srv.stop(t)

	// 1,000 customers, as an import stores them: every tenth has no
	// phone, every tenth asked not to be contacted, every tenth has an
	// order code longer than the template's 10 characters.
	const customers = 1000
	want := map[gid.ID]string{} // customer → "" (eligible) or its skip reason
	withDB(func(db *database.DB) {
		orgID := db.Client.Organization.Query().Where(organization.Name("Chaos")).OnlyIDX(viewer.SystemContext(context.Background(), ""))
		sys := viewer.SystemContext(context.Background(), orgID)
		creates := make([]*ent.CustomerCreate, customers)
		for i := range creates {
			c := db.Client.Customer.Create().SetName(fmt.Sprintf("KH %04d", i)).SetCustomFields(map[string]any{"code": fmt.Sprintf("C%d", i)})
			switch i % 10 {
			case 0:
			case 1:
				c.SetPhone("+8491" + pad7(i)).SetDoNotContact(true)
			case 2:
				c.SetPhone("+8491" + pad7(i)).SetCustomFields(map[string]any{"code": fmt.Sprintf("TOOLONGCODE%d", i)})
			default:
				c.SetPhone("+8491" + pad7(i))
			}
			creates[i] = c
		}
		for start := 0; start < customers; start += 500 {
			for i, c := range db.Client.Customer.CreateBulk(creates[start : start+500]...).SaveX(sys) {
				want[c.ID] = map[int]string{0: "NO_PHONE", 1: "DO_NOT_CONTACT", 2: "INVALID_PARAMS"}[(start+i)%10]
			}
		}
	})
	eligible := 0
	for _, reason := range want {
		if reason == "" {
			eligible++
		}
	}

	srv = startChild(t, env)
	token = chaosLogin(t, srv)
	var created struct{ CreateZnsCampaign struct{ ID gid.ID } }
	srv.graphql(t, token, `mutation($in: CreateZnsCampaignInput!) { createZnsCampaign(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Tháng 11", "channelId": chID, "templateId": tpl.ID, "where": map[string]any{"nameHasPrefix": "KH"},
		"params": orderCampaignParams(),
	}}, &created)
	campaignID := created.CreateZnsCampaign.ID
	campaign := func(srv *childServer) znsCampaignOut {
		var out struct{ Node znsCampaignOut }
		srv.graphql(t, token, `query($id: ID!) { node(id: $id) { ... on ZnsCampaign { `+znsCampaignFields+` } } }`, map[string]any{"id": campaignID}, &out)
		return out.Node
	}
	heldSends := func() int {
		n := 0
		for _, r := range zfake.Requests() {
			if r.Path == string(zalofake.ZNSSend) && r.Method == http.MethodPost {
				n++
			}
		}
		return n - len(zfake.ZNSSent())
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(patience); !cond(); time.Sleep(20 * time.Millisecond) { // polling the condition
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v (campaign %+v, Zalo got %d)\n%s", what, patience, campaign(srv), len(zfake.ZNSSent()), srv.log)
			}
		}
	}

	// A third of the way, Zalo holds the next four sends without
	// answering. Once they are taken, they are the channel's four
	// deliveries in flight (no fifth can start), and once every answered
	// send is recorded, the server is killed.
	waitFor("a third of the campaign sent", func() bool { return len(zfake.ZNSSent()) >= eligible/3 })
	zfake.FailNext(zalofake.ZNSSend, delivery.MaxInFlightPerKey, zalofake.Slow(time.Hour))
	waitFor("the deliveries in flight held and the answered ones recorded", func() bool {
		return zfake.PendingFailures(zalofake.ZNSSend) == 0 && heldSends() == delivery.MaxInFlightPerKey &&
			campaign(srv).Sent == len(zfake.ZNSSent())
	})
	srv.kill()
	sentAtKill := len(zfake.ZNSSent())

	withDB(func(db *database.DB) {
		sys := viewer.SystemContext(context.Background(), "")
		pending := db.Client.ZnsCampaignRecipient.Query().Where(znscampaignrecipient.StatusEQ(znscampaignrecipient.StatusPENDING)).CountX(sys)
		queued := db.Client.ZnsMessage.Query().Where(znsmessage.StatusEQ(znsmessage.StatusQUEUED)).CountX(sys)
		leased := db.Client.ZnsMessage.Query().Where(znsmessage.StatusEQ(znsmessage.StatusQUEUED), znsmessage.LeaseUntilNotNil()).CountX(sys)
		t.Logf("killed with %d sent, %d queued (%d in flight), %d pending", sentAtKill, queued, leased, pending)
		if pending == 0 || queued <= leased || leased != delivery.MaxInFlightPerKey {
			t.Fatalf("the kill did not find the campaign midway: %d pending, %d queued, %d in flight", pending, queued, leased)
		}
	})

	// Zalo raises the template's quota; the restarted server's sync brings
	// it, and its workers take over the dead one's deliveries once their
	// leases end.
	tpl.RemainingQuota = 5000
	zfake.SetZNSTemplate(testOAID, tpl)
	srv = startChild(t, env)
	token = chaosLogin(t, srv)
	srv.graphql(t, token, `mutation($c: ID!) { syncZnsTemplates(channelId: $c) { id } }`, map[string]any{"c": chID}, nil)
	waitFor("the campaign done", func() bool { return campaign(srv).Status == "DONE" })
	got := campaign(srv)
	if got.Total != customers || got.Skipped != customers-eligible || got.Queued != eligible || got.Sent != eligible || got.Failed != 0 {
		t.Errorf("campaign %+v, want %d total, %d skipped, %d queued and sent", got, customers, customers-eligible, eligible)
	}
	if strings.Contains(srv.log.String(), `"level":"ERROR"`) {
		t.Errorf("the restarted server logged errors:\n%s", srv.log)
	}
	srv.stop(t)

	// Zalo got one send per eligible customer, with the campaign's
	// trackingId for them.
	byTracking := map[string]int{}
	byPhone := map[string]int{}
	for _, m := range zfake.ZNSSent() {
		byTracking[m.TrackingID]++
		byPhone[m.Phone]++
	}
	if len(zfake.ZNSSent()) != eligible || len(byPhone) != eligible {
		t.Errorf("Zalo got %d sends to %d phones, want %d", len(zfake.ZNSSent()), len(byPhone), eligible)
	}
	withDB(func(db *database.DB) {
		sys := viewer.SystemContext(context.Background(), "")
		recipients := db.Client.ZnsCampaignRecipient.Query().WithMessage().AllX(sys)
		if len(recipients) != customers {
			t.Fatalf("%d recipients, want %d", len(recipients), customers)
		}
		for _, r := range recipients {
			reason, ok := want[*r.CustomerID]
			switch {
			case !ok:
				t.Errorf("recipient %s is no customer of the segment", r.ID)
			case reason != "":
				if r.Status != znscampaignrecipient.StatusSKIPPED || r.SkipReason == nil || string(*r.SkipReason) != reason || r.MessageID != nil {
					t.Errorf("customer %s: %s %v, want SKIPPED %s", *r.CustomerID, r.Status, r.SkipReason, reason)
				}
			default:
				m := r.Edges.Message
				if r.Status != znscampaignrecipient.StatusQUEUED || m == nil || m.Status != znsmessage.StatusSENT ||
					m.TrackingID != zns.CampaignTrackingID(campaignID, *r.CustomerID) || byTracking[m.TrackingID] != 1 {
					t.Errorf("customer %s: %s, message %+v, Zalo got its trackingId %d times", *r.CustomerID, r.Status, m, byTracking[r.TrackingID])
				}
			}
		}
		if n := db.Client.ZnsMessage.Query().CountX(sys); n != eligible {
			t.Errorf("%d ZNS messages stored, want %d", n, eligible)
		}
		if n := db.Client.Customer.Query().Where(customer.PhoneIsNil()).CountX(sys); n != customers/10 {
			t.Errorf("%d customers without a phone", n)
		}
	})
}
