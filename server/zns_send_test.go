package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

const sendZnsMutation = `mutation($in: SendZnsInput!) { sendZns(input: $in) {
	id phone params trackingId status failureReason providerMessageId cost sentAt deliveredAt createdAt
	channel { id } template { templateId price } customer { id } } }`

type znsMessageOut struct {
	ID                gid.ID
	Phone             string
	Params            map[string]string
	TrackingID        string
	Status            string
	FailureReason     *string
	ProviderMessageID *string
	Cost              int
	SentAt            *time.Time
	DeliveredAt       *time.Time
	Channel           struct{ ID gid.ID }
	Template          struct {
		TemplateID string
		Price      int
	}
	Customer *struct{ ID gid.ID }
}

// orderParams are valid parameters of orderConfirmed.
func orderParams() map[string]any {
	return map[string]any{"customer_name": "Nguyễn Văn A", "order_code": "DH1024", "amount": 1250000, "order_date": "21/11/2026"}
}

// newSyncedZnsEnv is a znsEnv whose templates are synced.
func newSyncedZnsEnv(t *testing.T, opts ...func(*webhookEnv) envOption) *znsEnv {
	t.Helper()
	z := newZnsEnv(t, opts...)
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatalf("sync: %+v", r.Errors)
	}
	return z
}

func (z *znsEnv) sendZns(e *env, token string, in map[string]any) (*znsMessageOut, *gqlResponse) {
	z.t.Helper()
	full := map[string]any{"channelId": z.oa.ID, "templateId": orderConfirmed.ID, "phone": "0912345678",
		"params": orderParams(), "trackingId": "order-" + string(gid.New("ZnsMessage"))[4:]}
	for k, v := range in {
		full[k] = v
	}
	r := e.gql(token, sendZnsMutation, map[string]any{"in": full})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var out struct{ SendZns znsMessageOut }
	r.decode(z.t, &out)
	return &out.SendZns, r
}

// deliverZns runs the ZNS delivery worker until nothing is due, with the
// server's event bus as the running worker has it.
func (z *znsEnv) deliverZns() {
	z.t.Helper()
	for range 20 {
		n, err := z.app.zns.DeliverDue(event.WithBus(context.Background(), z.app.bus))
		if err != nil {
			z.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	z.t.Fatal("DeliverDue kept finding work")
}

func (z *znsEnv) znsMessage(id gid.ID) *znsMessageOut {
	z.t.Helper()
	var out struct{ Node *znsMessageOut }
	z.must(z.tn.adminToken, `query($id: ID!) { node(id: $id) { ... on ZnsMessage {
		id phone params trackingId status failureReason providerMessageId cost sentAt deliveredAt channel { id } template { templateId price } customer { id } } } }`,
		map[string]any{"id": id}, &out)
	return out.Node
}

func (z *znsEnv) znsMessageCount() int {
	z.t.Helper()
	return z.db.Client.ZnsMessage.Query().CountX(z.sys())
}

func TestSendZnsValidation(t *testing.T) {
	z := newSyncedZnsEnv(t)
	with := func(changes map[string]any) map[string]any {
		p := orderParams()
		for k, v := range changes {
			if v == "<absent>" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return map[string]any{"params": p}
	}
	for _, tc := range []struct {
		name  string
		in    map[string]any
		field string
	}{
		{"MissingRequired", with(map[string]any{"order_code": "<absent>"}), "params.order_code"},
		{"EmptyRequired", with(map[string]any{"customer_name": "  "}), "params.customer_name"},
		{"Unknown", with(map[string]any{"coupon": "SALE50"}), "params.coupon"},
		{"TooLong", with(map[string]any{"order_code": "DH123456789"}), "params.order_code"},
		{"TooLongInCharacters", with(map[string]any{"customer_name": strings.Repeat("Đ", 31)}), "params.customer_name"},
		{"NotANumber", with(map[string]any{"amount": "một triệu"}), "params.amount"},
		{"NotADate", with(map[string]any{"order_date": "2026-11-21"}), "params.order_date"},
		{"NullNotAccepted", with(map[string]any{"customer_name": nil}), "params.customer_name"},
		{"NotAScalar", with(map[string]any{"note": map[string]any{"x": 1}}), "params.note"},
		{"TrackingIDTooLong", map[string]any{"trackingId": strings.Repeat("x", 49)}, "trackingId"},
		{"TrackingIDEmpty", map[string]any{"trackingId": " "}, "trackingId"},
		{"BadPhone", map[string]any{"phone": "12345"}, "phone"},
		{"ForeignPhone", map[string]any{"phone": "+14155552671"}, "phone"},
		{"UnknownTemplate", map[string]any{"templateId": "999999"}, "templateId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := z.sendZns(z.env, z.tn.agentToken, tc.in)
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("errors %+v, want BAD_USER_INPUT", r.Errors)
			}
			if f, _ := r.Errors[0].Extensions["field"].(string); f != tc.field {
				t.Errorf("field %q, want %q (%s)", f, tc.field, r.Errors[0].Message)
			}
		})
	}

	dnc := z.createCustomer(z.tn.adminToken, map[string]any{"name": "Không làm phiền", "phone": "0987654321", "doNotContact": true})
	readKey := z.createAPIKey(z.tn.ownerToken, "READ")
	other := z.newTenant("Other ZNS Org")
	pending := map[string]any{"templateId": pendingOTP.ID, "params": map[string]any{"otp": "123456"}}
	for _, tc := range []struct {
		name, token string
		in          map[string]any
		code        string
		reason      string
	}{
		{"TemplateNotEnabled", z.tn.agentToken, pending, "FAILED_PRECONDITION", "TEMPLATE_NOT_ENABLED"},
		{"DoNotContactByCustomer", z.tn.agentToken, map[string]any{"customerId": dnc, "phone": nil}, "FAILED_PRECONDITION", "DO_NOT_CONTACT"},
		{"DoNotContactByPhone", z.tn.agentToken, map[string]any{"phone": "+84 98 765 4321"}, "FAILED_PRECONDITION", "DO_NOT_CONTACT"},
		{"FacebookPage", z.tn.adminToken, map[string]any{"channelId": z.page.ID}, "FAILED_PRECONDITION", "CHANNEL_UNSUPPORTED"},
		{"ReadKey", readKey, nil, "FORBIDDEN", ""},
		{"OtherTenant", other.adminToken, nil, "NOT_FOUND", ""},
		{"OtherTenantsCustomer", z.tn.adminToken, map[string]any{"customerId": z.createCustomer(other.adminToken, map[string]any{"name": "X"})}, "NOT_FOUND", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := z.sendZns(z.env, tc.token, tc.in)
			if r.code() != tc.code {
				t.Fatalf("errors %+v, want %s", r.Errors, tc.code)
			}
			if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
	if n := z.znsMessageCount(); n != 0 {
		t.Errorf("%d messages stored by refused sends", n)
	}
	z.deliverZns()
	if n := len(z.zfake.ZNSSent()); n != 0 {
		t.Errorf("Zalo got %d sends", n)
	}
	// null is fine where the template accepts it, and numbers go as text.
	m, r := z.sendZns(z.env, z.tn.apiKey, with(map[string]any{"note": nil}))
	if r.code() != "" || m.Params["note"] != "" || m.Params["amount"] != "1250000" {
		t.Fatalf("a valid send: %+v %+v", m, r.Errors)
	}
}

func TestSendZnsDeliversAndIsDelivered(t *testing.T) {
	z := newSyncedZnsEnv(t)
	cus := z.createCustomer(z.tn.adminToken, map[string]any{"name": "Lê Thị C", "phone": "0912345678"})
	// An old 11-digit number of that customer, as a spreadsheet keeps it.
	m, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"phone": "0162 234 5678", "trackingId": "order-1024"})
	if r.code() != "" {
		t.Fatalf("sendZns: %+v", r.Errors)
	}
	if m.Status != "QUEUED" || m.Phone != "+84322345678" || m.TrackingID != "order-1024" || m.Cost != 0 ||
		m.Template.TemplateID != orderConfirmed.ID || m.Channel.ID != z.oa.ID {
		t.Fatalf("queued %+v", m)
	}
	byPhone, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"phone": "+84 912 345 678"})
	if r.code() != "" || byPhone.Customer == nil || string(byPhone.Customer.ID) != cus {
		t.Fatalf("the customer found by phone: %+v %+v", byPhone, r.Errors)
	}
	z.deliverZns()
	sent := z.zfake.ZNSSent()
	if len(sent) == 2 && sent[0].TrackingID != "order-1024" {
		sent[0], sent[1] = sent[1], sent[0] // delivered concurrently, in either order
	}
	if len(sent) != 2 || sent[0].Phone != "84322345678" || sent[0].TrackingID != "order-1024" || sent[0].Development ||
		sent[0].Data["amount"] != "1250000" || sent[0].Data["customer_name"] != "Nguyễn Văn A" {
		t.Fatalf("Zalo got %+v", sent)
	}
	got := z.znsMessage(m.ID)
	if got.Status != "SENT" || got.Cost != 300 || got.ProviderMessageID == nil || *got.ProviderMessageID != sent[0].MsgID || got.SentAt == nil {
		t.Fatalf("after delivery %+v", got)
	}
	// The quota in Zalo's answers is the template's now.
	if ts := z.templates(z.tn.agentToken, map[string]any{"templateID": orderConfirmed.ID}); ts[0].RemainingQuota != 998 {
		t.Errorf("remaining quota %d, want 998", ts[0].RemainingQuota)
	}

	// Zalo's receipt, twice: DELIVERED at the delivery time.
	z.clock.Advance(time.Minute)
	at := z.clock.Now().Add(-20 * time.Second).Truncate(time.Millisecond)
	receipt := zalofake.ZNSDelivered(testZaloAppID, zalofake.ZNSMessage{OAID: testOAID, Phone: sent[0].Phone, MsgID: sent[0].MsgID, TrackingID: "order-1024"}, at)
	z.sendZalo(receipt)
	z.sendZalo(receipt)
	z.process()
	got = z.znsMessage(m.ID)
	if got.Status != "DELIVERED" || got.DeliveredAt == nil || !got.DeliveredAt.Equal(at) || got.Cost != 300 {
		t.Fatalf("after the receipt %+v", got)
	}
	if other := z.znsMessage(byPhone.ID); other.Status != "SENT" {
		t.Errorf("the other message is %s", other.Status)
	}

	// A testing channel sends in development mode.
	z.db.Client.Channel.UpdateOneID(z.oa.ID).SetIsTesting(true).ExecX(z.sys())
	if _, r := z.sendZns(z.env, z.tn.agentToken, nil); r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.deliverZns()
	if sent := z.zfake.ZNSSent(); !sent[len(sent)-1].Development {
		t.Errorf("a testing OA's send was not mode development")
	}
}

// TestSendZnsIdempotentAcrossReplicas sends one trackingId 50 times at
// once, through two servers on one database: one message, one provider
// call, and every answer is that message.
func TestSendZnsIdempotentAcrossReplicas(t *testing.T) {
	z := newSyncedZnsEnv(t)
	second := newEnvOn(t, z.db, z.zaloURLs(), withSecret(testSecret), onTheTestClock(z.webhookEnv))
	in := map[string]any{"trackingId": "campaign-7-customer-42"}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[gid.ID]int{}
		errs []string
	)
	for i := range 50 {
		e := z.env
		if i%2 == 1 {
			e = second
		}
		wg.Go(func() {
			m, r := z.sendZns(e, z.tn.agentToken, in)
			mu.Lock()
			defer mu.Unlock()
			if r.code() != "" {
				errs = append(errs, fmt.Sprint(r.Errors))
				return
			}
			ids[m.ID]++
		})
	}
	wg.Wait()
	if len(errs) > 0 || len(ids) != 1 {
		t.Fatalf("%d distinct messages, errors %v", len(ids), errs)
	}
	z.deliverZns()
	if _, err := second.app.zns.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(z.zfake.ZNSSent()); n != 1 {
		t.Fatalf("Zalo got %d sends, want 1", n)
	}
	if n := z.znsMessageCount(); n != 1 {
		t.Errorf("%d messages stored", n)
	}
	// Once sent, the same trackingId still answers the same message.
	for id := range ids {
		if m, r := z.sendZns(second, z.tn.agentToken, in); r.code() != "" || m.ID != id || m.Status != "SENT" {
			t.Errorf("again after delivery: %+v %+v", m, r.Errors)
		}
	}
	if n := len(z.zfake.ZNSSent()); n != 1 {
		t.Errorf("Zalo got %d sends after the repeat", n)
	}
}

func TestSendZnsRetriesThroughAnOutage(t *testing.T) {
	z := newSyncedZnsEnv(t)
	z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.Status(http.StatusBadGateway))
	z.zfake.FailNext(zalofake.ZNSSend, 2, zalofake.ConnectionReset())
	z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-100))
	m, r := z.sendZns(z.env, z.tn.agentToken, nil)
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	for attempt := 1; ; attempt++ {
		z.deliverZns()
		row := z.db.Client.ZnsMessage.GetX(z.sys(), m.ID)
		if row.Status == znsmessage.StatusSENT {
			break
		}
		if row.Status != znsmessage.StatusQUEUED || attempt > 6 || row.NextAttemptAt == nil || row.LastError == nil {
			t.Fatalf("attempt %d: %s %v next %v", attempt, row.Status, row.FailureReason, row.NextAttemptAt)
		}
		z.clock.Set(*row.NextAttemptAt)
	}
	if n := len(z.zfake.ZNSSent()); n != 1 {
		t.Errorf("Zalo accepted %d sends, want 1", n)
	}
}

func TestSendZnsProviderErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*znsEnv)
		reason string
	}{
		{"InvalidPhone", func(z *znsEnv) { z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-108)) }, "Zalo says the phone number is not valid."},
		{"ParamTooLong", func(z *znsEnv) { z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-1121)) }, "A parameter is longer than the template allows."},
		{"ParamMissing", func(z *znsEnv) { z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-1122)) }, "A parameter the template requires is missing."},
		{"OutOfBalance", func(z *znsEnv) { z.zfake.SetZNSBalance(testOAID, true) }, "The OA is out of ZNS quota or balance; top it up on Zalo."},
		{"NotApproved", func(z *znsEnv) {
			t := orderConfirmed
			t.Status = "REJECT"
			z.zfake.SetZNSTemplate(testOAID, t)
		}, "The template is not approved on Zalo."},
		{"QuietHours", func(z *znsEnv) { z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-133)) }, "Zalo does not send this kind of template between 22:00 and 06:00."},
		{"DailyLimit", func(z *znsEnv) { z.zfake.SetZNSQuota(testOAID, 500, 0) }, "The OA reached its daily ZNS limit."},
		{"LowQuality", func(z *znsEnv) {
			t := orderConfirmed
			t.Status = "DISABLE"
			z.zfake.SetZNSTemplate(testOAID, t)
		}, "Zalo disabled the template for low quality."},
		{"TemplateDailyLimit", func(z *znsEnv) {
			t := orderConfirmed
			t.RemainingQuota = 0
			z.zfake.SetZNSTemplate(testOAID, t)
		}, "The template reached its daily limit."},
		{"NoPermission", func(z *znsEnv) { z.zfake.RemoveZNSTemplate(testOAID, orderConfirmed.ID) }, "The OA has no permission to send this template."},
		{"UserRefused", func(z *znsEnv) { z.zfake.RefusePhone("84912345678", -139) }, "The recipient refused ZNS messages."},
		{"NotEligible", func(z *znsEnv) { z.zfake.RefusePhone("84912345678", -140) }, "The recipient cannot receive ZNS messages."},
		{"NotEligibleOther", func(z *znsEnv) { z.zfake.RefusePhone("84912345678", -141) }, "The recipient is not eligible for this ZNS message."},
		{"OtherCode", func(z *znsEnv) { z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(-999)) }, "Zalo refused the message (error -999)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newSyncedZnsEnv(t)
			tc.setup(z)
			m, r := z.sendZns(z.env, z.tn.agentToken, nil)
			if r.code() != "" {
				t.Fatal(r.Errors)
			}
			z.deliverZns()
			got := z.znsMessage(m.ID)
			if got.Status != "FAILED" || got.FailureReason == nil || *got.FailureReason != tc.reason || got.Cost != 0 {
				t.Fatalf("status %s reason %v cost %d, want FAILED %q", got.Status, got.FailureReason, got.Cost, tc.reason)
			}
		})
	}

	t.Run("TokenRefreshedOnce", func(t *testing.T) {
		z := newSyncedZnsEnv(t)
		z.zfake.ExpireToken(testOAID)
		m, _ := z.sendZns(z.env, z.tn.agentToken, nil)
		z.deliverZns()
		if got := z.znsMessage(m.ID); got.Status != "SENT" || z.zfake.RefreshCount() != 1 {
			t.Fatalf("status %s after %d refreshes", got.Status, z.zfake.RefreshCount())
		}
	})
}

func TestSendZnsQuotaExhausted(t *testing.T) {
	z := newZnsEnv(t)
	last := orderConfirmed
	last.DailyQuota, last.RemainingQuota = 1000, 1
	z.zfake.SetZNSTemplate(testOAID, last)
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatal(r.Errors)
	}
	if _, r := z.sendZns(z.env, z.tn.agentToken, nil); r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.deliverZns()
	// Zalo's answer said 0 left: the next send is refused before Zalo.
	_, r := z.sendZns(z.env, z.tn.agentToken, nil)
	if reason, _ := r.Errors[0].Extensions["reason"].(string); r.code() != "FAILED_PRECONDITION" || reason != "QUOTA_EXHAUSTED" {
		t.Fatalf("errors %+v, want QUOTA_EXHAUSTED", r.Errors)
	}
	if n := len(z.zfake.ZNSSent()); n != 1 || z.znsMessageCount() != 1 {
		t.Errorf("Zalo got %d sends, %d stored", n, z.znsMessageCount())
	}
}

// TestSendZnsPromotionQuietHours: a promotion template is refused up front
// from 22:00 to 06:00 Vietnam time, when Zalo would refuse it (-133),
// storing nothing; a transaction template goes at any hour.
func TestSendZnsPromotionQuietHours(t *testing.T) {
	z := newZnsEnv(t) // 16:00 in Vietnam
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatal(r.Errors)
	}
	promotion := map[string]any{"templateId": flashSale.ID, "params": map[string]any{"customer_name": "Bích"}}
	z.clock.Advance(5*time.Hour + 59*time.Minute)
	if _, r := z.sendZns(z.env, z.tn.agentToken, promotion); r.code() != "" {
		t.Fatalf("at 21:59: %+v", r.Errors)
	}
	z.clock.Advance(time.Minute)
	_, r := z.sendZns(z.env, z.tn.agentToken, promotion)
	if reason, _ := r.Errors[0].Extensions["reason"].(string); r.code() != "FAILED_PRECONDITION" || reason != "QUIET_HOURS" ||
		!strings.Contains(r.Errors[0].Message, "from 06:00") {
		t.Fatalf("at 22:00: %+v, want QUIET_HOURS", r.Errors)
	}
	if n := z.znsMessageCount(); n != 1 {
		t.Fatalf("%d messages stored, want the one of 21:59", n)
	}
	if _, r := z.sendZns(z.env, z.tn.agentToken, nil); r.code() != "" {
		t.Fatalf("a transaction at 22:00: %+v", r.Errors)
	}
	z.clock.Advance(8 * time.Hour)
	if _, r := z.sendZns(z.env, z.tn.agentToken, promotion); r.code() != "" {
		t.Fatalf("at 06:00: %+v", r.Errors)
	}
}

// TestZnsInInteractionsAndMerge: a customer's ZNS messages are among their
// interactions, and a merge gives them to the survivor.
func TestZnsInInteractionsAndMerge(t *testing.T) {
	z := newSyncedZnsEnv(t)
	source := z.createCustomer(z.tn.adminToken, map[string]any{"name": "Phạm D", "phone": "0912345678"})
	target := z.createCustomer(z.tn.adminToken, map[string]any{"name": "Phạm Văn D"})
	m, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"customerId": source, "phone": nil})
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	const q = `query($id: ID!) { node(id: $id) { ... on Customer { interactions(first: 10) { totalCount
		edges { node { __typename ... on ZnsMessage { id status template { templateId } } } } } } } }`
	interactions := func(id string) (int, []string) {
		var out struct {
			Node struct {
				Interactions struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Typename string `json:"__typename"`
							ID       gid.ID
						}
					}
				}
			}
		}
		z.must(z.tn.agentToken, q, map[string]any{"id": id}, &out)
		var ids []string
		for _, e := range out.Node.Interactions.Edges {
			ids = append(ids, e.Node.Typename+":"+string(e.Node.ID))
		}
		return out.Node.Interactions.TotalCount, ids
	}
	if n, ids := interactions(source); n != 1 || len(ids) != 1 || ids[0] != "ZnsMessage:"+string(m.ID) {
		t.Fatalf("the source's interactions: %d %v", n, ids)
	}
	z.must(z.tn.adminToken, `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { id } }`,
		map[string]any{"s": source, "t": target}, nil)
	if n, ids := interactions(target); n != 1 || ids[0] != "ZnsMessage:"+string(m.ID) {
		t.Fatalf("the survivor's interactions: %d %v", n, ids)
	}
	if got := z.znsMessage(m.ID); got.Customer == nil || string(got.Customer.ID) != target {
		t.Errorf("the message's customer after the merge: %+v", got.Customer)
	}
}

// TestZnsEvents follows znsEvents over a WebSocket while a message is
// queued, fails once, is sent and delivered; a second subscription resumes
// after the first event and gets the rest. (Each organization has its own
// log, so no other organization's stream can carry them.)
func TestZnsEvents(t *testing.T) {
	z := newSyncedZnsEnv(t)
	const q = `subscription($after: Cursor) { znsEvents(after: $after) { cursor type message { id status trackingId } } }`
	type ev struct {
		ZnsEvents struct {
			Cursor  string
			Type    string
			Message struct {
				ID         gid.ID
				Status     string
				TrackingID string
			}
		}
	}
	// From the log's start: a subscription without a cursor starts when
	// the server has set it up, which the first send can precede.
	sub := subscribe(t, z.env, z.tn.agentToken, q, map[string]any{"after": event.Start.String()})

	// evt-2 is refused by Zalo, then evt-1 fails once with a 503 (an
	// attempt that will be retried has no event) and is sent.
	z.zfake.RefusePhone("84912000111", -139)
	if _, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"trackingId": "evt-2", "phone": "0912000111"}); r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.deliverZns()
	z.zfake.FailNext(zalofake.ZNSSend, 1, zalofake.Status(http.StatusServiceUnavailable))
	m, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"trackingId": "evt-1"})
	if r.code() != "" {
		t.Fatal(r.Errors)
	}
	z.deliverZns()
	row := z.db.Client.ZnsMessage.GetX(z.sys(), m.ID)
	if row.Status != znsmessage.StatusQUEUED || row.NextAttemptAt == nil {
		t.Fatalf("after the 503: %s", row.Status)
	}
	z.clock.Set(*row.NextAttemptAt)
	z.deliverZns()
	sent := z.zfake.ZNSSent()
	z.sendZalo(zalofake.ZNSDelivered(testZaloAppID, sent[len(sent)-1], z.clock.Now()))
	z.process()

	var got []string
	var first string
	for range 5 {
		var e ev
		sub.next(&e)
		if first == "" {
			first = e.ZnsEvents.Cursor
		}
		got = append(got, e.ZnsEvents.Message.TrackingID+" "+e.ZnsEvents.Type)
	}
	want := []string{"evt-2 QUEUED", "evt-2 FAILED", "evt-1 QUEUED", "evt-1 SENT", "evt-1 DELIVERED"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	resumed := subscribe(t, z.env, z.tn.apiKey, q, map[string]any{"after": first})
	for range 4 {
		var e ev
		resumed.next(&e)
		if e.ZnsEvents.Message.TrackingID == "evt-2" && e.ZnsEvents.Type == "QUEUED" {
			t.Fatal("the resumed stream repeated the event it resumed after")
		}
	}
}
