package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/partner"
	"github.com/dakenh/dakenh/internal/viewer"
)

// received is one POST a test partner got.
type received struct {
	event, delivery, signature string
	body                       []byte
}

// partnerServer is a local partner endpoint: it verifies each delivery
// with README.md's snippet, records it, and answers what answer says.
type partnerServer struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	got []received
	// secrets are the secrets a delivery must verify with, every one.
	secrets []string
	// answer returns the status for the n-th request (from 1).
	answer func(n int) int
	bad    []string
}

func newPartnerServer(t *testing.T, answer func(n int) int) *partnerServer {
	p := &partnerServer{t: t, answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc := received{event: r.Header.Get(partner.HeaderEvent), delivery: r.Header.Get(partner.HeaderDelivery),
			signature: r.Header.Get(partner.HeaderSignature), body: body}
		p.mu.Lock()
		for _, s := range p.secrets {
			// The server's clock may be a test clock far from now.
			if err := verifySignature(s, rc.signature, body, signedAt(rc.signature)); err != nil {
				p.bad = append(p.bad, rc.delivery+": "+err.Error())
			}
		}
		p.got = append(p.got, rc)
		n := len(p.got)
		p.mu.Unlock()
		w.WriteHeader(p.answer(n))
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// signedAt is the t= of a signature header, for verifying deliveries
// signed on a test clock.
func signedAt(header string) time.Time {
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			var sec int64
			_ = json.Unmarshal([]byte(v), &sec)
			return time.Unix(sec, 0)
		}
	}
	return time.Time{}
}

func (p *partnerServer) requests() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bad) > 0 {
		p.t.Fatalf("deliveries that do not verify: %v", p.bad)
	}
	return append([]received(nil), p.got...)
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %v", what, patience)
		}
	}
}

// hookEnv is a server delivering partner webhooks to local receivers,
// polling often, with a conversation to make events about.
type hookEnv struct {
	*env
	tn   *tenant
	org  gid.ID
	conv gid.ID
}

func newHookEnv(t *testing.T, opts ...envOption) *hookEnv { return newHookEnvTB(t, opts...) }

func newHookEnvTB(t testing.TB, opts ...envOption) *hookEnv {
	opts = append([]envOption{func(c *Config, o *appOptions) {
		c.AllowInsecureWebhooks = true
		o.webhookPoll = 20 * time.Millisecond
	}}, opts...)
	e := newEnv(t, opts...)
	e.app.startWorkers()
	tn := e.newTenant("Webhook Partner Org")
	org := orgOf(t, e, tn)
	return &hookEnv{env: e, tn: tn, org: org, conv: seedConversation(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED, "Shop Hoa Lan OA")}
}

// touch appends n conversation.updated events of the conversation, one
// transaction each, and returns their seqs.
func (h *hookEnv) touch(n int) []int64 {
	h.t.Helper()
	return h.touchIn(h.org, h.conv, n)
}

// touchIn is touch for a conversation of any organization.
func (h *hookEnv) touchIn(org, conv gid.ID, n int) []int64 {
	h.t.Helper()
	ctx := event.WithBus(viewer.SystemContext(context.Background(), org), h.app.bus)
	var seqs []int64
	for range n {
		t, err := h.db.Client.Tx(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		ev, err := event.Append(ctx, t, event.Entry{OrgID: org, Topic: event.TopicConversation, Type: event.TypeUpdated, ConversationID: conv})
		if err != nil {
			h.t.Fatal(err)
		}
		if err := t.Commit(); err != nil {
			h.t.Fatal(err)
		}
		seqs = append(seqs, ev.Seq)
	}
	return seqs
}

// body is a delivery's JSON.
type hookBody struct {
	ID             string
	Type           string
	CreatedAt      time.Time
	OrganizationID string
	Cursor         string
	Conversation   *struct {
		ID       string
		Status   string
		Customer struct{ Name string }
		Channel  struct{ Name string }
	}
}

func decodeHook(t *testing.T, b []byte) hookBody {
	t.Helper()
	var out hookBody
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return out
}

type deliveryRow struct {
	ID, EventType, Status string
	Attempts              []struct {
		StatusCode *int
		Error      *string
		Response   string
	}
}

func (h *hookEnv) deliveries(endpoint string) []deliveryRow {
	h.t.Helper()
	var out struct {
		WebhookDeliveries struct {
			Edges []struct{ Node deliveryRow }
		}
	}
	h.must(h.tn.ownerToken, `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) { edges { node { id eventType status attempts { statusCode error response } } } } }`,
		map[string]any{"id": endpoint}, &out)
	var rows []deliveryRow
	for _, e := range out.WebhookDeliveries.Edges {
		rows = append(rows, e.Node)
	}
	return rows
}

// TestPartnerWebhookDelivery: the events an endpoint chose arrive in the
// log's order, signed (verified by README.md's snippet), shaped as the
// subscription's, with stable delivery IDs; a rotation signs with both
// secrets; the delivery log lists each attempt; redelivery sends the same
// delivery again; an endpoint that chose other events receives nothing.
func TestPartnerWebhookDelivery(t *testing.T) {
	h := newHookEnv(t)
	p := newPartnerServer(t, func(int) int { return http.StatusOK })
	other := newPartnerServer(t, func(int) int { return http.StatusOK })
	ep, secret := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": p.srv.URL + "/hook", "events": []string{"conversation.updated"}})
	p.secrets = []string{secret}
	h.createEndpoint(h.tn.ownerToken, map[string]any{"url": other.srv.URL, "events": []string{"message.created"}})

	seqs := h.touch(5)
	waitFor(t, "five deliveries", func() bool { return len(p.requests()) >= 5 })
	got := p.requests()
	if len(got) != 5 {
		t.Fatalf("%d deliveries, want 5", len(got))
	}
	for i, r := range got {
		b := decodeHook(t, r.body)
		if r.event != "conversation.updated" || b.Type != "conversation.updated" || r.delivery != b.ID || !strings.HasPrefix(b.ID, "whd_") ||
			b.OrganizationID != string(h.org) || b.CreatedAt.IsZero() {
			t.Fatalf("delivery %d: headers %+v body %s", i, r, r.body)
		}
		if b.Conversation == nil || b.Conversation.ID != string(h.conv) || b.Conversation.Channel.Name != "Shop Hoa Lan OA" || b.Conversation.Customer.Name != "Khách Shop Hoa Lan OA" {
			t.Fatalf("delivery %d's subject: %s", i, r.body)
		}
		c, err := event.ParseCursor(b.Cursor)
		if err != nil || c.Seq() != seqs[i] {
			t.Fatalf("delivery %d has cursor %q (seq %d), want seq %d", i, b.Cursor, c.Seq(), seqs[i])
		}
	}

	t.Run("Rotation", func(t *testing.T) {
		var rot struct{ RotateWebhookSecret struct{ Secret string } }
		h.must(h.tn.ownerToken, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": ep.ID}, &rot)
		p.mu.Lock()
		p.secrets = []string{secret, rot.RotateWebhookSecret.Secret}
		p.mu.Unlock()
		h.touch(1)
		waitFor(t, "the delivery after the rotation", func() bool { return len(p.requests()) >= 6 })
		if sig := p.requests()[5].signature; strings.Count(sig, "v1=") != 2 {
			t.Fatalf("signature during rotation: %s", sig)
		}
	})

	t.Run("Log", func(t *testing.T) {
		// The partner has the last POST before the server has written
		// its outcome.
		waitFor(t, "six deliveries logged as delivered", func() bool {
			n := 0
			for _, r := range h.deliveries(ep.ID) {
				if r.Status == "DELIVERED" {
					n++
				}
			}
			return n == 6
		})
		rows := h.deliveries(ep.ID)
		if len(rows) != 6 {
			t.Fatalf("%d deliveries logged", len(rows))
		}
		for _, r := range rows {
			if r.Status != "DELIVERED" || r.EventType != "conversation.updated" || len(r.Attempts) != 1 ||
				r.Attempts[0].StatusCode == nil || *r.Attempts[0].StatusCode != 200 || r.Attempts[0].Error != nil || r.Attempts[0].Response != `{"ok":true}` {
				t.Fatalf("logged %+v", r)
			}
		}
	})

	t.Run("Redeliver", func(t *testing.T) {
		first := got[0].delivery
		var out struct{ RedeliverWebhook struct{ ID, Status string } }
		h.must(h.tn.ownerToken, `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id status } }`, map[string]any{"id": first}, &out)
		if out.RedeliverWebhook.ID != first || out.RedeliverWebhook.Status != "PENDING" {
			t.Fatalf("redeliver: %+v", out)
		}
		waitFor(t, "the redelivery", func() bool { return len(p.requests()) >= 7 })
		if r := p.requests()[6]; r.delivery != first || string(r.body) != string(got[0].body) {
			t.Fatalf("redelivered %s %s, want %s %s", r.delivery, r.body, first, got[0].body)
		}
		if r := h.gql(h.tn.agentToken, `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }`, map[string]any{"id": first}); r.code() != "FORBIDDEN" {
			t.Fatalf("an agent redelivered: %q", r.code())
		}
	})

	if n := len(other.requests()); n != 0 {
		t.Fatalf("the message.created endpoint received %d deliveries", n)
	}
}
