package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/event"
)

// TestKill9WhileDeliveringPartnerWebhooks kills the server with SIGKILL
// while it delivers partner webhooks to a slow partner, and restarts it:
// every event reaches the partner, in the log's order, and an event sent
// twice (the one in flight at the kill) carries the same delivery ID both
// times.
func TestKill9WhileDeliveringPartnerWebhooks(t *testing.T) {
	zfake, env, _ := chaosSetup(t)
	env = append(env, "DAKENH_ALLOW_INSECURE_WEBHOOKS=true")
	srv := startChild(t, env)
	token := chaosOrg(t, srv)

	// Deliveries see what an API key sees: the OA's conversations once it
	// is SHARED.
	var chs struct {
		Channels struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	srv.graphql(t, token, `{ channels { edges { node { id } } } }`, nil, &chs)
	srv.graphql(t, token, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": chs.Channels.Edges[0].Node.ID}, nil)

	p := newPartnerServer(t, func(int) int {
		time.Sleep(100 * time.Millisecond) // slow enough for the kill to find one in flight
		return http.StatusOK
	})
	var ep struct {
		CreateWebhookEndpoint struct{ Secret string }
	}
	srv.graphql(t, token, `mutation($u: String!) { createWebhookEndpoint(input: {url: $u, events: ["message.created"]}) { secret } }`,
		map[string]any{"u": p.srv.URL}, &ep)
	p.secrets = []string{ep.CreateWebhookEndpoint.Secret}

	const events = 30
	for i := range events {
		body, sig := chaosText(zfake, fmt.Sprint("hook-user-", i), fmt.Sprint("hook-msg-", i), "hỏi giá")
		if !postWebhook(srv, body, sig) {
			t.Fatal("an inbound message was refused")
		}
	}
	waitFor(t, "a third of the deliveries", func() bool { return len(p.requests()) >= events/3 })
	srv.kill()
	before := len(p.requests())
	if before >= events {
		t.Fatal("every event was delivered before the kill")
	}
	t.Logf("killed after %d of %d deliveries", before, events)

	srv = startChild(t, env)
	messageOf := map[string]string{} // delivery ID -> message ID
	deliveryOf := map[string]string{}
	var lastSeq int64
	waitFor(t, "every event delivered after the restart", func() bool {
		seen := map[string]bool{}
		for _, r := range p.requests() {
			seen[r.delivery] = true
		}
		return len(seen) == events
	})
	for i, r := range p.requests() {
		var b struct {
			ID      string
			Cursor  string
			Message struct{ ID string }
		}
		if err := json.Unmarshal(r.body, &b); err != nil || b.ID != r.delivery || b.Message.ID == "" {
			t.Fatalf("request %d: %s", i, r.body)
		}
		if m, ok := messageOf[b.ID]; ok && m != b.Message.ID {
			t.Fatalf("delivery %s carried %s and %s", b.ID, m, b.Message.ID)
		}
		if d, ok := deliveryOf[b.Message.ID]; ok && d != b.ID {
			t.Fatalf("message %s was delivered as %s and as %s", b.Message.ID, d, b.ID)
		}
		messageOf[b.ID], deliveryOf[b.Message.ID] = b.Message.ID, b.ID
		c, err := event.ParseCursor(b.Cursor)
		if err != nil || c.Seq() < lastSeq {
			t.Fatalf("request %d (seq %d) came after seq %d", i, c.Seq(), lastSeq)
		}
		lastSeq = c.Seq()
	}
	if again := len(p.requests()) - events; again > 1 {
		t.Fatalf("%d deliveries sent again; only the one in flight may be", again)
	}
	srv.stop(t)
}
