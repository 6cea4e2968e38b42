package main

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// TestWebhookBurstIsAllAccepted: 1,000 signed Zalo webhooks from 1,000
// concurrent senders reach one server while its workers process them.
// Every one is answered 200 (on the embedded database the writes queue for
// its writer connection instead of timing out in SQLite's busy handler),
// and every one becomes a message.
func TestWebhookBurstIsAllAccepted(t *testing.T) {
	const senders = 1000
	w := newWebhookEnv(t)
	w.app.startWorkers()
	t.Cleanup(w.app.Stop)

	bodies := make([][]byte, senders)
	sigs := make([]string, senders)
	for i := range senders {
		user := fmt.Sprintf("u-burst-%d", i)
		w.zfake.SetUser(user, zalofake.User{DisplayName: fmt.Sprintf("Khách %d", i)})
		bodies[i], sigs[i] = w.zaloEvent(benchZaloText(user, fmt.Sprint("m-burst-", i), "xin chào"))
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: senders}}
	t.Cleanup(client.CloseIdleConnections)

	start := make(chan struct{})
	statuses := make([]int, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/webhooks/zalo", bytes.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(zalofake.SignatureHeader, sigs[i])
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	byStatus := map[int]int{}
	for i := range senders {
		if errs[i] != nil {
			t.Fatalf("sender %d: %v", i, errs[i])
		}
		byStatus[statuses[i]]++
	}
	if byStatus[http.StatusOK] != senders {
		t.Fatalf("answers by status: %v, want %d × 200", byStatus, senders)
	}

	messages := func() int {
		return w.db.Client.Message.Query().Where(message.DirectionEQ(message.DirectionINBOUND)).CountX(w.sys())
	}
	// The workers finish in their own time; the deadline only keeps a
	// broken build from hanging.
	for deadline := time.Now().Add(2 * patience); messages() < senders; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d webhooks became messages", messages(), senders)
		}
	}
	if n := messages(); n != senders {
		t.Fatalf("%d messages, want %d", n, senders)
	}
}
