package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/event"
)

// attemptsOf returns how many attempts the delivery log holds for the
// endpoint's deliveries, in the log's order (newest first).
func (h *hookEnv) attemptsOf(endpoint string) []int {
	var n []int
	for _, d := range h.deliveries(endpoint) {
		n = append(n, len(d.Attempts))
	}
	return n
}

// TestPartnerWebhookRetriesInOrder: a partner down for three attempts gets
// its first event retried with backoff (the test clock makes each retry
// due) and the later events only after it, in order, each once; a dead
// partner that never answers does not hold up a healthy one.
func TestPartnerWebhookRetriesInOrder(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	h := newHookEnv(t, func(_ *Config, o *appOptions) { o.now = clock.Now })
	flaky := newPartnerServer(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	healthy := newPartnerServer(t, func(int) int { return http.StatusOK })
	release := make(chan struct{})
	var deadHits atomic.Int64
	var deadIDs sync.Map
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadHits.Add(1)
		deadIDs.Store(r.Header.Get("X-Dakenh-Delivery"), true)
		<-release // never answers while the test watches
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(dead.Close)
	t.Cleanup(func() { close(release) })

	flakyEP, s1 := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": flaky.srv.URL, "events": []string{"*"}})
	flaky.secrets = []string{s1}
	_, s2 := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": healthy.srv.URL, "events": []string{"conversation.updated"}})
	healthy.secrets = []string{s2}
	h.createEndpoint(h.tn.ownerToken, map[string]any{"url": dead.URL, "events": []string{"*"}})

	h.touch(3)
	waitFor(t, "the healthy partner's three deliveries", func() bool { return len(healthy.requests()) == 3 })
	if n := deadHits.Load(); n > 1 {
		t.Fatalf("the dead partner was tried %d times while its first attempt hangs", n)
	}

	// The flaky partner: its first delivery is retried, and nothing after
	// it is sent meanwhile.
	for try := 1; try <= 3; try++ {
		waitFor(t, "a failed attempt logged", func() bool {
			a := h.attemptsOf(flakyEP.ID)
			return len(a) == 3 && a[2] == try
		})
		if got := flaky.requests(); len(got) != try || got[try-1].delivery != got[0].delivery {
			t.Fatalf("after %d failures the partner got %d requests", try, len(got))
		}
		clock.Advance(5 * time.Hour) // past any backoff of the first attempts
	}
	waitFor(t, "every flaky delivery", func() bool { return len(flaky.requests()) == 6 })
	got := flaky.requests()
	ids := []string{got[0].delivery, got[0].delivery, got[0].delivery, got[0].delivery, got[4].delivery, got[5].delivery}
	var last int64
	for i, r := range got {
		if r.delivery != ids[i] {
			t.Fatalf("request %d was delivery %s, want %s", i, r.delivery, ids[i])
		}
		c, err := event.ParseCursor(decodeHook(t, r.body).Cursor)
		if err != nil || i > 3 && c.Seq() <= last {
			t.Fatalf("request %d (seq %d) is out of order after seq %d", i, c.Seq(), last)
		}
		last = c.Seq()
	}
	if got[4].delivery == got[0].delivery || got[5].delivery == got[4].delivery {
		t.Fatalf("deliveries repeated: %v", ids)
	}
	rows := h.deliveries(flakyEP.ID)
	firstRow := rows[2]
	if firstRow.Status != "DELIVERED" || len(firstRow.Attempts) != 4 {
		t.Fatalf("the first delivery's log: %+v", firstRow)
	}
	for i, a := range firstRow.Attempts {
		want := http.StatusServiceUnavailable
		if i == 3 {
			want = http.StatusOK
		}
		if a.StatusCode == nil || *a.StatusCode != want || (want != 200) != (a.Error != nil) {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	// Moving the clock by hours ends the hanging attempt's lease, so the
	// dead partner's first delivery is claimed again beside it: the same
	// delivery, never a later one out of order.
	distinct := 0
	deadIDs.Range(func(any, any) bool { distinct++; return true })
	if distinct != 1 {
		t.Fatalf("the dead partner got %d different deliveries", distinct)
	}
}

// TestPartnerWebhookRefusedAddress: without the development setting a
// host name that resolves to loopback is refused when the delivery
// connects; the receiver gets nothing, the log and the metrics say why.
func TestPartnerWebhookRefusedAddress(t *testing.T) {
	h := newHookEnv(t, func(c *Config, _ *appOptions) { c.AllowInsecureWebhooks = false })
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	ep, _ := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": "https://localhost:" + port + "/hook", "events": []string{"*"}})
	h.touch(1)
	waitFor(t, "a refused attempt", func() bool { a := h.attemptsOf(ep.ID); return len(a) == 1 && a[0] == 1 })
	a := h.deliveries(ep.ID)[0].Attempts[0]
	if a.StatusCode != nil || a.Error == nil || !strings.Contains(*a.Error, "may not reach") || !strings.Contains(*a.Error, "loopback") {
		t.Fatalf("attempt %+v", a)
	}
	if hits.Load() != 0 {
		t.Fatal("a refused delivery reached the receiver")
	}
	// The attempt is counted just after its log line commits.
	want := `dakenh_webhook_attempts_total{endpoint="` + ep.ID + `",outcome="refused"} 1`
	waitFor(t, want, func() bool {
		resp, err := http.Get(h.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), want)
	})
}

// TestPartnerWebhookDisabledAfterThreeDays: an endpoint whose every
// attempt fails for three days is disabled, with an activity entry for
// admins; enabling it starts afresh. Thirty days later the attempts are
// pruned.
func TestPartnerWebhookDisabledAfterThreeDays(t *testing.T) {
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	h := newHookEnv(t, func(_ *Config, o *appOptions) { o.now = clock.Now })
	down := newPartnerServer(t, func(int) int { return http.StatusInternalServerError })
	ep, secret := h.createEndpoint(h.tn.ownerToken, map[string]any{"url": down.srv.URL, "events": []string{"*"}})
	down.secrets = []string{secret}
	h.touch(1)
	endpoint := func() endpointRow {
		var out struct{ WebhookEndpoints []endpointRow }
		h.must(h.tn.ownerToken, `{ webhookEndpoints { `+endpointFields+` } }`, nil, &out)
		return out.WebhookEndpoints[0]
	}
	for try := 1; endpoint().Enabled; try++ {
		waitFor(t, "a failed attempt logged", func() bool { a := h.attemptsOf(ep.ID); return len(a) == 1 && a[0] == try })
		if try > 16 {
			t.Fatalf("still enabled after %d attempts over %v", try, time.Duration(try-1)*5*time.Hour)
		}
		clock.Advance(5 * time.Hour)
	}
	// Failing since the first attempt; the attempt 75 h later disabled it.
	if a := h.attemptsOf(ep.ID); a[0] != 16 {
		t.Fatalf("disabled after %d attempts, want 16", a[0])
	}
	if e := endpoint(); e.DisabledReason == nil || *e.DisabledReason != "FAILING" {
		t.Fatalf("endpoint %+v", e)
	}
	p := h.activityLog(h.tn.ownerToken, nil, 1, "")
	if r := p.rows[0]; r.Action != "WEBHOOK_ENDPOINT_DISABLED" || r.Actor != nil || r.APIKey != nil || r.Details["automatic"] != true || r.Details["reason"] != "FAILING" {
		t.Fatalf("entry %+v", r)
	}
	// Disabled, it is neither fed nor tried, whatever the clock.
	clock.Advance(10 * time.Hour)
	h.touch(1)
	if made, err := h.app.deliveries.Feed(t.Context()); err != nil || made != 0 {
		t.Fatalf("fed a disabled endpoint: %d, %v", made, err)
	}
	if claimed, err := h.app.deliveries.DeliverDue(t.Context()); err != nil || claimed != 0 {
		t.Fatalf("claimed a disabled endpoint's delivery: %d, %v", claimed, err)
	}

	clock.Advance(31 * 24 * time.Hour)
	if _, err := h.app.deliveries.Prune(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows := h.deliveries(ep.ID)
	if len(rows) != 1 || rows[0].Status != "PENDING" || len(rows[0].Attempts) != 0 {
		t.Fatalf("after pruning: %+v", rows)
	}
}
