package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/gid"
)

// TestPartnerWebhookFeedFollowsTheBus: with polling too slow to matter,
// events reach an endpoint because the event bus wakes the feed, and an
// endpoint created later, in another organization, is followed too.
func TestPartnerWebhookFeedFollowsTheBus(t *testing.T) {
	h := newHookEnv(t, func(_ *Config, o *appOptions) { o.webhookPoll = time.Hour })
	p := newPartnerServer(t, func(int) int { return http.StatusOK })
	_, secret := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": p.srv.URL, "events": []string{"conversation.updated"}})
	p.secrets = []string{secret}
	h.touch(3)
	waitFor(t, "three deliveries woken by the bus", func() bool { return len(p.requests()) >= 3 })
	h.touch(2)
	waitFor(t, "two more", func() bool { return len(p.requests()) >= 5 })

	other := h.newTenant("Second Partner Org")
	q := newPartnerServer(t, func(int) int { return http.StatusOK })
	_, qs := h.createEndpoint(other.ownerToken, map[string]any{"url": q.srv.URL, "events": []string{"conversation.updated"}})
	q.secrets = []string{qs}
	otherOrg := orgOf(t, h.env, other)
	h.touchIn(otherOrg, seedConversation(t, h.env, otherOrg, gid.ID(other.ownerID), channel.ChatPermissionSHARED, "Second OA"), 1)
	waitFor(t, "the second organization's events", func() bool { return len(q.requests()) >= 1 })
	if n := len(p.requests()); n != 5 {
		t.Fatalf("the first endpoint got %d deliveries, want 5", n)
	}
}
