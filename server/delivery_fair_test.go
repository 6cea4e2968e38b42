package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/gid"
)

// hangingZalo stands between the server and the Zalo fake: while held, a
// send hangs until released, as an OA whose provider stopped answering.
type hangingZalo struct {
	srv *httptest.Server

	mu       sync.Mutex
	held     bool
	release  chan struct{}
	inFlight int
	most     int
}

func newHangingZalo(t *testing.T, target func() string) *hangingZalo {
	h := &hangingZalo{release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.mu.Lock()
		hang := h.held && strings.Contains(req.URL.Path, "/message/")
		if hang {
			h.inFlight++
			h.most = max(h.most, h.inFlight)
		}
		h.mu.Unlock()
		if hang {
			select {
			case <-h.release:
			case <-req.Context().Done():
			}
			h.mu.Lock()
			h.inFlight--
			h.mu.Unlock()
		}
		u, _ := url.Parse(target())
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, req)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hangingZalo) hold() {
	h.mu.Lock()
	h.held = true
	h.mu.Unlock()
}

// unhold lets every hanging and later send through.
func (h *hangingZalo) unhold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		h.held = false
		close(h.release)
	}
}

func (h *hangingZalo) counts() (inFlight, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.most
}

// TestHungProviderDelaysOnlyItsOwnChannel: while one OA's sends hang, the
// delivery worker keeps at most 4 of its slots on that OA and delivers the
// other channel's replies; once the OA answers again, its replies go out
// too, each once.
func TestHungProviderDelaysOnlyItsOwnChannel(t *testing.T) {
	var hz *hangingZalo
	r := newReplyEnv(t, func(r *replyEnv) envOption {
		hz = newHangingZalo(t, r.zalo.URL)
		return func(cfg *Config, _ *appOptions) { cfg.ZaloOpenAPIURL = hz.srv.URL }
	})
	const replies = 12
	var oaMsgs, pageMsgs []gid.ID
	hz.hold()
	for i := range replies {
		for _, c := range []struct {
			ch  gid.ID
			ids *[]gid.ID
		}{{r.oaID, &oaMsgs}, {r.pageID, &pageMsgs}} {
			conv := r.seedCustomerConversation(c.ch, gid.New("Identity").String(), "Khách")
			var out struct{ SendMessage sentOut }
			r.must(r.tn.agentToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": "Dạ shop trả lời ạ"}}, &out)
			*c.ids = append(*c.ids, gid.ID(out.SendMessage.ID))
		}
		_ = i
	}
	r.app.startWorkers()
	t.Cleanup(r.app.Stop)
	t.Cleanup(hz.unhold) // before Stop, which waits for the hanging sends

	sent := func(ids []gid.ID) int {
		return r.db.Client.Message.Query().Where(message.IDIn(ids...), message.StatusEQ(message.StatusSENT)).CountX(r.sys())
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(patience) // bounds a broken worker only
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("still waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the page's replies while the OA hangs", func() bool { return sent(pageMsgs) == replies })
	inFlight, most := hz.counts()
	if inFlight == 0 || sent(oaMsgs) != 0 {
		t.Fatalf("the OA was not hanging while the page's replies went out: %d hanging, %d sent", inFlight, sent(oaMsgs))
	}
	if most > 4 {
		t.Errorf("%d of the OA's sends hung at once, want at most 4 of the worker's slots", most)
	}
	hz.unhold()
	waitFor("the OA's replies once it answers", func() bool { return sent(oaMsgs) == replies })
	if n := len(r.zalo.Sent()); n != replies {
		t.Errorf("Zalo received %d sends for %d replies", n, replies)
	}
}
