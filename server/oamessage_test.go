package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

const sendOAMessageMutation = `mutation($in: SendOAMessageInput!) { sendOAMessage(input: $in) {
	id kind status text attachments { type url } content { imageUrl templateId templateData } } }`

const oaMessageQuery = `query($id: ID!) { node(id: $id) { ... on Message {
	id kind status failureReason attempts lastError conversation { id } } } }`

type oaMessageOut struct {
	ID            gid.ID
	Kind, Status  string
	Text          string
	FailureReason string
	Attempts      int
	LastError     *string
	Attachments   []struct{ Type, URL string }
	Content       *struct {
		ImageURL     *string
		TemplateID   *string
		TemplateData map[string]string
	}
	Conversation *struct{ ID gid.ID }
}

// oaEnv is a znsEnv with synced templates and a follower who wrote to the
// OA, so both consultation and template messages may reach them.
type oaEnv struct {
	*znsEnv
	customer gid.ID
}

const oaFollower = "u-oa-follower"

// oldTemplate was approved before Zalo allowed template sends by user ID.
var oldTemplate = zalofake.ZNSTemplate{
	ID: "230001", Name: "Thông báo cũ", Status: "ENABLE", Quality: "HIGH", Tag: "CUSTOMER_CARE",
	Params: []zalofake.ZNSParam{{Name: "customer_name", Type: "STRING", Require: true, MaxLength: 30}},
	Price:  200, DailyQuota: 100, RemainingQuota: 100,
	CreatedTime: time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC),
}

func newOAEnv(t *testing.T) *oaEnv {
	t.Helper()
	z := newZnsEnv(t)
	z.zfake.SetZNSTemplate(testOAID, oldTemplate)
	if _, r := z.sync(z.tn.adminToken); r.code() != "" {
		t.Fatalf("sync: %+v", r.Errors)
	}
	// Shared, so that agents and API keys see the OA's conversations.
	z.db.Client.Channel.UpdateOneID(z.oa.ID).SetChatPermission(channel.ChatPermissionSHARED).ExecX(z.sys())
	z.zfake.SetNow(z.clock.Now)
	z.zfake.SetUser(oaFollower, zalofake.User{DisplayName: "Trần Thị Bích", IsFollower: true})
	z.sendZalo(z.userEvent("user_send_text", oaFollower, map[string]any{"msg_id": z.msgID("in"), "text": "Cho mình hỏi giá"}))
	z.process()
	return &oaEnv{znsEnv: z, customer: z.identityOf(z.oa, oaFollower).CustomerID}
}

// send sends an OA message to the follower with in over the defaults.
func (o *oaEnv) send(token string, in map[string]any) (*oaMessageOut, *gqlResponse) {
	o.t.Helper()
	full := map[string]any{"channelId": o.oa.ID, "customerId": o.customer}
	for k, v := range in {
		full[k] = v
	}
	r := o.gql(token, sendOAMessageMutation, map[string]any{"in": full})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var out struct{ SendOAMessage oaMessageOut }
	r.decode(o.t, &out)
	return &out.SendOAMessage, r
}

// deliver runs the inbox's delivery worker once over what is due.
func (o *oaEnv) deliver() {
	o.t.Helper()
	if _, err := o.app.inbox.DeliverDue(context.Background()); err != nil {
		o.t.Fatalf("DeliverDue: %v", err)
	}
}

func (o *oaEnv) message(id gid.ID) oaMessageOut {
	o.t.Helper()
	var out struct{ Node oaMessageOut }
	o.must(o.tn.adminToken, oaMessageQuery, map[string]any{"id": id}, &out)
	return out.Node
}

// TestSendOAMessageKinds: each of the five kinds is stored QUEUED in the
// follower's conversation and sent by the delivery queue to the endpoint
// providers.md names, with the body Zalo documents.
func TestSendOAMessageKinds(t *testing.T) {
	o := newOAEnv(t)
	text, _ := o.send(o.tn.agentToken, map[string]any{"kind": "TEXT", "text": "Dạ, áo size M giá 250.000đ"})
	image, _ := o.send(o.tn.adminToken, map[string]any{"kind": "IMAGE", "imageUrl": "https://cdn.example.vn/ao.jpg", "text": "Mẫu áo"})
	form, _ := o.send(o.tn.apiKey, map[string]any{"kind": "FORM", "text": "Để lại thông tin để shop gọi lại", "imageUrl": "https://cdn.example.vn/form.png"})
	promo, _ := o.send(o.tn.adminToken, map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "Bích"}})
	trans, r := o.send(o.tn.adminToken, map[string]any{"kind": "TRANSACTION", "templateId": orderConfirmed.ID,
		"templateData": orderParams()})
	if trans == nil {
		t.Fatalf("transaction: %+v", r.Errors)
	}
	for i, m := range []*oaMessageOut{text, image, form, promo, trans} {
		if m == nil || m.Status != "QUEUED" {
			t.Fatalf("message %d not queued: %+v", i, m)
		}
	}
	if text.Kind != "TEXT" || image.Kind != "IMAGE" || len(image.Attachments) != 1 || image.Attachments[0].URL != "https://cdn.example.vn/ao.jpg" ||
		form.Kind != "FORM" || form.Content == nil || *form.Content.ImageURL != "https://cdn.example.vn/form.png" ||
		promo.Kind != "PROMOTION" || *promo.Content.TemplateID != flashSale.ID || promo.Content.TemplateData["customer_name"] != "Bích" ||
		trans.Kind != "TRANSACTION" || trans.Content.TemplateData["amount"] != "1250000" {
		t.Fatalf("stored %+v %+v %+v %+v %+v", text, image, form, promo, trans)
	}
	// The template messages took one from their templates' quota.
	tpl := o.db.Client.ZnsTemplate.Query().Where(znstemplate.ChannelID(o.oa.ID), znstemplate.TemplateID(flashSale.ID)).OnlyX(o.sys())
	if tpl.RemainingQuota != flashSale.RemainingQuota-1 {
		t.Errorf("remaining quota %d", tpl.RemainingQuota)
	}
	// One message of a conversation goes out at a time, in order.
	for range 6 {
		o.deliver()
	}
	var convID gid.ID
	for _, m := range []*oaMessageOut{text, image, form, promo, trans} {
		got := o.message(m.ID)
		if got.Status != "SENT" {
			t.Fatalf("%s: %+v", m.Kind, got)
		}
		if convID == "" {
			convID = got.Conversation.ID
		} else if got.Conversation.ID != convID {
			t.Fatalf("%s in another conversation", m.Kind)
		}
	}
	sent := o.zfake.Sent()
	if len(sent) != 3 || sent[0].UserID != oaFollower || sent[0].Text != "Dạ, áo size M giá 250.000đ" ||
		sent[1].Attachment == nil || sent[1].Attachment.Type != "image" || sent[1].Text != "Mẫu áo" ||
		sent[2].Attachment == nil || sent[2].Attachment.Type != "form" || sent[2].Attachment.Title != "Để lại thông tin để shop gọi lại" ||
		sent[2].Attachment.URL != "https://cdn.example.vn/form.png" {
		t.Fatalf("consultation messages %+v", sent)
	}
	tm := o.zfake.TemplateMessages()
	if len(tm) != 2 || tm[0].UserID != oaFollower || tm[0].TemplateID != flashSale.ID || tm[0].Data["customer_name"] != "Bích" ||
		tm[1].TemplateID != orderConfirmed.ID || tm[1].Data["order_date"] != "21/11/2026" {
		t.Fatalf("template messages %+v", tm)
	}
}

// TestSendOAMessageRefusals: each rule refuses with its code, field or
// reason, and nothing is stored.
func TestSendOAMessageRefusals(t *testing.T) {
	o := newOAEnv(t)
	stranger := o.createCustomer(o.tn.adminToken, map[string]any{"name": "Không theo dõi"})
	pending := map[string]any{"kind": "TRANSACTION", "templateId": pendingOTP.ID, "templateData": map[string]any{"otp": "123456"}}
	cases := []struct {
		name          string
		in            map[string]any
		field, reason string
	}{
		{"TextWithoutText", map[string]any{"kind": "TEXT", "text": "  "}, "text", ""},
		{"TextTooLong", map[string]any{"kind": "TEXT", "text": strings.Repeat("a", 2001)}, "text", ""},
		{"TextWithImage", map[string]any{"kind": "TEXT", "text": "x", "imageUrl": "https://cdn.example.vn/a.jpg"}, "imageUrl", ""},
		{"TextWithTemplate", map[string]any{"kind": "TEXT", "text": "x", "templateId": orderConfirmed.ID}, "templateId", ""},
		{"ImageWithoutURL", map[string]any{"kind": "IMAGE"}, "imageUrl", ""},
		{"ImageNotHTTP", map[string]any{"kind": "IMAGE", "imageUrl": "file:///etc/passwd"}, "imageUrl", ""},
		{"FormWithoutTitle", map[string]any{"kind": "FORM", "imageUrl": "https://cdn.example.vn/f.png"}, "text", ""},
		{"FormTitleTooLong", map[string]any{"kind": "FORM", "text": strings.Repeat("á", 101), "imageUrl": "https://cdn.example.vn/f.png"}, "text", ""},
		{"FormWithoutImage", map[string]any{"kind": "FORM", "text": "Thông tin"}, "imageUrl", ""},
		{"PromotionWithoutTemplate", map[string]any{"kind": "PROMOTION", "templateData": map[string]any{}}, "templateId", ""},
		{"PromotionWithoutData", map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID}, "templateData", ""},
		{"PromotionWithText", map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{}, "text": "x"}, "text", ""},
		{"PromotionOfTransactionTemplate", map[string]any{"kind": "PROMOTION", "templateId": orderConfirmed.ID, "templateData": orderParams()}, "templateId", ""},
		{"TransactionOfPromotionTemplate", map[string]any{"kind": "TRANSACTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "B"}}, "templateId", ""},
		{"UnknownTemplate", map[string]any{"kind": "TRANSACTION", "templateId": "999", "templateData": map[string]any{}}, "templateId", ""},
		{"MissingParam", map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{}}, "templateData.customer_name", ""},
		{"ParamTooLong", map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": strings.Repeat("b", 31)}}, "templateData.customer_name", ""},
		{"UnknownParam", map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "B", "coupon": "X"}}, "templateData.coupon", ""},
		{"TemplateNotEnabled", pending, "", "TEMPLATE_NOT_ENABLED"},
		{"NotAFollower", map[string]any{"kind": "TEXT", "text": "x", "customerId": stranger}, "", "NOT_A_FOLLOWER"},
		{"FacebookPage", map[string]any{"kind": "TEXT", "text": "x", "channelId": o.page.ID}, "", "CHANNEL_UNSUPPORTED"},
	}
	before := o.db.Client.Message.Query().CountX(o.sys())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, r := o.send(o.tn.adminToken, tc.in)
			if r == nil || len(r.Errors) == 0 {
				t.Fatalf("accepted")
			}
			field, _ := r.Errors[0].Extensions["field"].(string)
			reason, _ := r.Errors[0].Extensions["reason"].(string)
			want := "BAD_USER_INPUT"
			if tc.reason != "" {
				want = "FAILED_PRECONDITION"
			}
			if r.code() != want || field != tc.field || reason != tc.reason {
				t.Fatalf("%s field %q reason %q: %+v", r.code(), field, reason, r.Errors)
			}
		})
	}
	t.Run("ReadOnlyKey", func(t *testing.T) {
		var key struct{ CreateApiKey struct{ Key string } }
		o.must(o.tn.ownerToken, `mutation { createApiKey(input: {name: "read only", scopes: [READ]}) { key } }`, nil, &key)
		r := o.gql(key.CreateApiKey.Key, sendOAMessageMutation, map[string]any{"in": map[string]any{
			"channelId": o.oa.ID, "customerId": o.customer, "kind": "TEXT", "text": "x"}})
		if r.code() != "FORBIDDEN" {
			t.Fatalf("%+v", r.Errors)
		}
	})
	t.Run("QuotaExhausted", func(t *testing.T) {
		o.db.Client.ZnsTemplate.Update().Where(znstemplate.ChannelID(o.oa.ID), znstemplate.TemplateID(flashSale.ID)).
			SetRemainingQuota(0).ExecX(o.sys())
		_, r := o.send(o.tn.adminToken, map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "B"}})
		if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != "QUOTA_EXHAUSTED" {
			t.Fatalf("%+v", r.Errors)
		}
	})
	t.Run("DoNotContact", func(t *testing.T) {
		o.db.Client.Customer.UpdateOneID(o.customer).SetDoNotContact(true).ExecX(o.sys())
		defer o.db.Client.Customer.UpdateOneID(o.customer).SetDoNotContact(false).ExecX(o.sys())
		_, r := o.send(o.tn.adminToken, map[string]any{"kind": "TEXT", "text": "x"})
		if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != "DO_NOT_CONTACT" {
			t.Fatalf("%+v", r.Errors)
		}
	})
	if after := o.db.Client.Message.Query().CountX(o.sys()); after != before {
		t.Fatalf("refusals stored %d messages", after-before)
	}
	t.Run("OutsideWindow", func(t *testing.T) {
		// Eight days after the follower last wrote, consultation messages
		// are refused; template messages still go.
		o.clock.Advance(8 * 24 * time.Hour)
		_, r := o.send(o.tn.adminToken, map[string]any{"kind": "FORM", "text": "Thông tin", "imageUrl": "https://cdn.example.vn/f.png"})
		if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != "OUTSIDE_MESSAGING_WINDOW" {
			t.Fatalf("%+v", r.Errors)
		}
		if m, r := o.send(o.tn.adminToken, map[string]any{"kind": "TRANSACTION", "templateId": orderConfirmed.ID, "templateData": orderParams()}); m == nil {
			t.Fatalf("template message refused: %+v", r.Errors)
		}
	})
}

// TestSendOAMessageProvider: Zalo's refusals fail the message with a
// readable reason and no retry; a 5xx is retried until Zalo takes it,
// sending it once.
func TestSendOAMessageProvider(t *testing.T) {
	o := newOAEnv(t)
	t.Run("OldTemplate", func(t *testing.T) {
		m, _ := o.send(o.tn.adminToken, map[string]any{"kind": "TRANSACTION", "templateId": oldTemplate.ID, "templateData": map[string]any{"customer_name": "Bích"}})
		o.deliver()
		got := o.message(m.ID)
		if got.Status != "FAILED" || got.FailureReason != "The template was approved before Zalo allowed sending it by user ID; send it as a ZNS to a phone number." {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("InactiveUser", func(t *testing.T) {
		o.zfake.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-230))
		m, _ := o.send(o.tn.adminToken, map[string]any{"kind": "TEXT", "text": "Shop chào bạn"})
		o.deliver()
		if got := o.message(m.ID); got.Status != "FAILED" || got.Attempts != 1 ||
			got.FailureReason != "The customer has not interacted with the OA in the last 7 days, so Zalo does not allow consultation messages now (error -230)." {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("TemplateDailyLimit", func(t *testing.T) {
		o.zfake.FailNext(zalofake.TemplateMessage, 1, zalofake.ErrorCode(-147))
		m, _ := o.send(o.tn.adminToken, map[string]any{"kind": "TRANSACTION", "templateId": orderConfirmed.ID, "templateData": orderParams()})
		o.deliver()
		if got := o.message(m.ID); got.Status != "FAILED" || got.FailureReason != "The template reached its daily limit." {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("RetryOn5xx", func(t *testing.T) {
		before := len(o.zfake.TemplateMessages())
		o.zfake.FailNext(zalofake.TemplateMessage, 2, zalofake.Status(502))
		m, _ := o.send(o.tn.adminToken, map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "Bích"}})
		o.deliver()
		if got := o.message(m.ID); got.Status != "QUEUED" || got.Attempts != 1 || got.LastError == nil {
			t.Fatalf("after a 502: %+v", got)
		}
		for i := 0; i < 10 && o.message(m.ID).Status == "QUEUED"; i++ {
			o.clock.Advance(5 * time.Minute)
			o.deliver()
		}
		if got := o.message(m.ID); got.Status != "SENT" || got.Attempts != 3 {
			t.Fatalf("after the outage: %+v", got)
		}
		if n := len(o.zfake.TemplateMessages()) - before; n != 1 {
			t.Fatalf("Zalo took %d messages", n)
		}
	})
}

// TestSendOAMessagePromotionQuietHours: a PROMOTION is refused up front
// from 22:00 to 06:00 Vietnam time, when Zalo would refuse it (-133),
// storing nothing; a TRANSACTION goes at any hour.
func TestSendOAMessagePromotionQuietHours(t *testing.T) {
	o := newOAEnv(t) // 16:00 in Vietnam
	promotion := map[string]any{"kind": "PROMOTION", "templateId": flashSale.ID, "templateData": map[string]any{"customer_name": "Bích"}}
	sent := func(at string) {
		t.Helper()
		m, r := o.send(o.tn.adminToken, promotion)
		if m == nil {
			t.Fatalf("at %s: %+v", at, r.Errors)
		}
		o.deliver()
		if got := o.message(m.ID); got.Status != "SENT" {
			t.Fatalf("at %s: %+v", at, got)
		}
	}
	refused := func(at string) {
		t.Helper()
		before := o.db.Client.Message.Query().CountX(o.sys())
		_, r := o.send(o.tn.adminToken, promotion)
		if codeField(r) != "FAILED_PRECONDITION QUIET_HOURS" || !strings.Contains(r.Errors[0].Message, "from 06:00") {
			t.Fatalf("at %s: %+v", at, r.Errors)
		}
		if after := o.db.Client.Message.Query().CountX(o.sys()); after != before {
			t.Fatalf("at %s the refusal stored %d messages", at, after-before)
		}
	}
	o.clock.Advance(5*time.Hour + 59*time.Minute)
	sent("21:59")
	o.clock.Advance(time.Minute)
	refused("22:00")
	if m, r := o.send(o.tn.adminToken, map[string]any{"kind": "TRANSACTION", "templateId": orderConfirmed.ID, "templateData": orderParams()}); m == nil {
		t.Fatalf("a transaction at 22:00: %+v", r.Errors)
	} else if o.deliver(); o.message(m.ID).Status != "SENT" {
		t.Fatalf("a transaction at 22:00: %+v", o.message(m.ID))
	}
	o.clock.Advance(7*time.Hour + 59*time.Minute)
	refused("05:59")
	o.clock.Advance(time.Minute)
	sent("06:00")
}
