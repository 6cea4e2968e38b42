package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/gid"
)

// znsHook is a ZNS delivery's body: the znsEvents payload's message.
type znsHook struct {
	ID      string
	Type    string
	Message *struct {
		ID, TrackingID, Phone, Status string
		CreatedAt, UpdatedAt          time.Time
		Params                        map[string]string
		FailureReason                 *string
		Development                   bool
		Cost                          int
		ProviderMessageID             *string
		SentAt, DeliveredAt           *time.Time
		Channel                       struct{ ID gid.ID }
		Template                      struct{ ID, TemplateID, Name string }
		Customer                      *struct{ ID, Name, Phone string }
	}
}

// feedAndDeliver feeds the log to the endpoints and delivers until
// nothing is due, as the running worker would.
func (z *znsEnv) feedAndDeliver() {
	z.t.Helper()
	ctx := context.Background()
	if _, err := z.app.deliveries.Feed(ctx); err != nil {
		z.t.Fatalf("Feed: %v", err)
	}
	for range 20 {
		n, err := z.app.deliveries.DeliverDue(ctx)
		if err != nil {
			z.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	z.t.Fatal("DeliverDue kept finding work")
}

// TestPartnerWebhookZnsEvents: an endpoint that chose ZNS types and one
// that chose every event receive a ZNS send's events, in order, with the
// message shaped as znsEvents shows it, as it was when each was fed.
func TestPartnerWebhookZnsEvents(t *testing.T) {
	z := newSyncedZnsEnv(t, func(*webhookEnv) envOption {
		return func(c *Config, _ *appOptions) { c.AllowInsecureWebhooks = true }
	})
	cus := z.createCustomer(z.tn.adminToken, map[string]any{"name": "Lê Thị C", "phone": "0912345678"})
	typed := newPartnerServer(t, func(int) int { return http.StatusOK })
	all := newPartnerServer(t, func(int) int { return http.StatusOK })
	_, typedSecret := z.createEndpoint(z.tn.ownerToken, map[string]any{"url": typed.srv.URL, "events": []string{"zns.queued", "zns.sent", "zns.failed"}})
	_, allSecret := z.createEndpoint(z.tn.ownerToken, map[string]any{"url": all.srv.URL, "events": []string{"*"}})
	typed.secrets, all.secrets = []string{typedSecret}, []string{allSecret}

	m, r := z.sendZns(z.env, z.tn.agentToken, map[string]any{"trackingId": "order-2048"})
	if r.code() != "" {
		t.Fatalf("sendZns: %+v", r.Errors)
	}
	z.feedAndDeliver() // the QUEUED event, fed while the message is queued
	z.deliverZns()
	z.feedAndDeliver() // the SENT event
	sent := z.zfake.ZNSSent()
	if len(sent) != 1 {
		t.Fatalf("Zalo got %d sends", len(sent))
	}

	for name, p := range map[string]*partnerServer{"typed": typed, "all": all} {
		got := p.requests()
		if len(got) != 2 {
			t.Fatalf("%s endpoint: %d deliveries, want 2", name, len(got))
		}
		for i, want := range []string{"QUEUED", "SENT"} {
			var b znsHook
			if err := json.Unmarshal(got[i].body, &b); err != nil {
				t.Fatalf("%s: %s: %v", name, got[i].body, err)
			}
			typ := "zns." + map[string]string{"QUEUED": "queued", "SENT": "sent"}[want]
			msg := b.Message
			if got[i].event != typ || b.Type != typ || b.ID != got[i].delivery || msg == nil {
				t.Fatalf("%s delivery %d: %+v %s", name, i, got[i], got[i].body)
			}
			if msg.ID != string(m.ID) || msg.TrackingID != "order-2048" || msg.Phone != "+84912345678" || msg.Status != want ||
				msg.Params["order_code"] != "DH1024" || msg.FailureReason != nil || msg.Development || msg.CreatedAt.IsZero() || msg.UpdatedAt.IsZero() ||
				msg.Channel.ID != z.oa.ID || msg.Template.TemplateID != orderConfirmed.ID || msg.Template.Name != orderConfirmed.Name ||
				msg.Template.ID == "" || msg.Customer == nil || msg.Customer.ID != cus || msg.Customer.Name != "Lê Thị C" || msg.Customer.Phone != "+84912345678" {
				t.Fatalf("%s delivery %d's message: %s", name, i, got[i].body)
			}
			if want == "SENT" && (msg.Cost != 300 || msg.ProviderMessageID == nil || *msg.ProviderMessageID != sent[0].MsgID || msg.SentAt == nil) {
				t.Fatalf("%s: the SENT delivery's message: %s", name, got[i].body)
			}
			if want == "QUEUED" && (msg.ProviderMessageID != nil || msg.SentAt != nil || msg.DeliveredAt != nil) {
				t.Fatalf("%s: the QUEUED delivery's message: %s", name, got[i].body)
			}
		}
	}
}
