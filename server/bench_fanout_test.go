package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// BenchmarkFanout runs the real server as a separate process, opens N idle
// graphql-transport-ws messageEvents subscriptions to it, and reports the
// server's resident memory per subscriber, its idle CPU, and the time from
// posting a webhook to each subscriber's next message, for the first
// message of a new conversation (each stream checks it may see the
// conversation) and a second message in it.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench Fanout -benchtime 1x -timeout 30m
func BenchmarkFanout(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "dakenh-server")
	build := exec.Command("go", "build", "-o", bin, "./server")
	build.Dir = ".." // the module root; tests run in the package directory
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			for b.Loop() {
				runFanout(b, bin, n)
			}
		})
	}
}

// fanSub is one idle subscriber of the fan-out benchmark.
type fanSub struct {
	conn *websocket.Conn
	mu   sync.Mutex // serializes writes (pongs, close)
}

// fanEvent collects, for one awaited message text, when each subscriber
// received it.
type fanEvent struct {
	text string
	n    atomic.Int64
	mu   sync.Mutex  // guards at: a late delivery may race the report
	at   []time.Time // by subscriber; zero until received
}

// readLoopLimit bounds how long a subscriber reads.
const readLoopLimit = 20 * time.Minute

const fanQuery = `subscription($after: String) { messageEvents(after: $after) { cursor type message { id text } } }`

// openFanSub dials the server, authenticates, subscribes from the start of
// the log, and waits for the replayed warm-up message, which proves the
// subscription is registered.
func openFanSub(wsURL, token string) (*fanSub, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{"graphql-transport-ws"},
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
	}
	c, _, err := d.Dial(wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	fail := func(err error) (*fanSub, error) { c.Close(); return nil, err }
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return fail(fmt.Errorf("init: %w", err))
	}
	read := func() (map[string]any, error) {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		var m map[string]any
		err := c.ReadJSON(&m)
		return m, err
	}
	if m, err := read(); err != nil || m["type"] != "connection_ack" {
		return fail(fmt.Errorf("ack: %v %v", m, err))
	}
	if err := c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": fanQuery, "variables": map[string]any{"after": event.Start.String()}}}); err != nil {
		return fail(fmt.Errorf("subscribe: %w", err))
	}
	for {
		m, err := read()
		if err != nil {
			return fail(fmt.Errorf("replay: %w", err))
		}
		if m["type"] == "ping" {
			_ = c.WriteJSON(map[string]any{"type": "pong"})
			continue
		}
		if m["type"] != "next" {
			return fail(fmt.Errorf("replay: %v", m))
		}
		_ = c.SetReadDeadline(time.Time{})
		_ = c.SetWriteDeadline(time.Time{})
		return &fanSub{conn: c}, nil
	}
}

// fanPings counts the pings the server sent to all subscribers.
var fanPings atomic.Int64

// fanOdd counts the messages subscribers received that are neither pings
// nor events (errors, completions), and keeps the first as a sample.
var fanOdd struct {
	n      atomic.Int64
	mu     sync.Mutex
	sample string
}

// readLoop records when the subscriber receives each awaited event, and
// answers pings, until the connection closes or, at the latest, after
// readLoopLimit.
func (s *fanSub) readLoop(i int, events []*fanEvent) {
	_ = s.conn.SetReadDeadline(time.Now().Add(readLoopLimit))
	for {
		_, raw, err := s.conn.ReadMessage()
		now := time.Now()
		if err != nil {
			return
		}
		var m struct {
			Type    string
			Payload struct {
				Data *struct {
					MessageEvents struct{ Message struct{ Text string } }
				}
				Errors json.RawMessage
			}
		}
		if json.Unmarshal(raw, &m) != nil || (m.Type != "ping" && (m.Type != "next" || m.Payload.Data == nil || len(m.Payload.Errors) > 0)) {
			if fanOdd.n.Add(1) == 1 {
				fanOdd.mu.Lock()
				fanOdd.sample = string(raw)
				fanOdd.mu.Unlock()
			}
			continue
		}
		switch m.Type {
		case "ping":
			fanPings.Add(1)
			s.mu.Lock()
			_ = s.conn.WriteJSON(map[string]any{"type": "pong"})
			s.mu.Unlock()
		case "next":
			for _, ev := range events {
				if ev.text != m.Payload.Data.MessageEvents.Message.Text {
					continue
				}
				ev.mu.Lock()
				if ev.at[i].IsZero() {
					ev.at[i] = now
					ev.n.Add(1)
				}
				ev.mu.Unlock()
			}
		}
	}
}

func runFanout(b *testing.B, bin string, n int) {
	const (
		dialers    = 32
		settle     = 3 * time.Second
		idleWindow = 10 * time.Second
		eventWait  = 120 * time.Second
	)
	zfake := zalofake.New(b)
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken})
	zfake.SetUser("u-fan-0", zalofake.User{DisplayName: "Khách khởi động"})
	zfake.SetUser("u-fan-1", zalofake.User{DisplayName: "Khách mới"})
	srv := startBenchServer(b, bin, zfake.URL())

	var up struct {
		SignUp struct{ Token string }
	}
	srv.gql(b, "", `mutation($in: SignUpInput!) { signUp(input: $in) { token } }`, map[string]any{
		"in": map[string]any{"organizationName": "Fanout Org", "name": "Chủ shop", "email": fmt.Sprintf("owner-fan-%d@example.vn", n), "password": "correct horse"},
	}, &up)
	token := up.SignUp.Token
	srv.gql(b, token, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`, map[string]any{"in": zaloInput(testOAID)}, nil)

	// A first conversation with one message: the subscriptions replay it,
	// which tells the benchmark each one is registered.
	srv.postZalo(b, zfake, benchZaloText("u-fan-0", "fan-warmup", "fan-warmup"))
	waitMessages := func(want int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var out struct {
				Conversations struct {
					Edges []struct {
						Node struct {
							Messages struct{ TotalCount int }
						}
					}
				}
			}
			srv.gql(b, token, `{ conversations(first: 10) { edges { node { messages { totalCount } } } } }`, nil, &out)
			got := 0
			for _, e := range out.Conversations.Edges {
				got += e.Node.Messages.TotalCount
			}
			if got >= want {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d messages after 60 s, want %d\n%s", got, want, srv.logTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitMessages(1)
	time.Sleep(settle)
	rssBase := srv.procStatus(b, "VmRSS")
	fdsBase := srv.fds()

	// Open the subscriptions, a few dialers at a time.
	wsURL := "ws" + strings.TrimPrefix(srv.url, "http") + "/graphql"
	subs := make([]*fanSub, n)
	var (
		next     atomic.Int64
		reached  atomic.Int64
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	openStart := time.Now()
	for range dialers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s, err := openFanSub(wsURL, token)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("subscriber %d: %w", i, err)
					}
					errMu.Unlock()
					next.Store(int64(n)) // stop opening more
					return
				}
				subs[i] = s
				reached.Add(1)
			}
		})
	}
	wg.Wait()
	opened := time.Since(openStart)
	live := subs[:0:0]
	for _, s := range subs {
		if s != nil {
			live = append(live, s)
		}
	}
	b.ReportMetric(float64(len(live)), "subs-reached")
	if firstErr != nil {
		b.Logf("reached %d of %d subscriptions; first failure: %v", len(live), n, firstErr)
	}
	if len(live) == 0 {
		b.Fatalf("no subscription: %v\n%s", firstErr, srv.logTail())
	}
	b.ReportMetric(float64(len(live))/opened.Seconds(), "subscribes/s")

	events := []*fanEvent{
		{text: "fan-cold", at: make([]time.Time, len(live))},
		{text: "fan-warm", at: make([]time.Time, len(live))},
	}
	pings0, odd0 := fanPings.Load(), fanOdd.n.Load()
	listening := time.Now()
	var readers sync.WaitGroup
	for i, s := range live {
		readers.Go(func() { s.readLoop(i, events) })
	}
	defer func() {
		for _, s := range live {
			s.mu.Lock()
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			s.conn.Close()
			s.mu.Unlock()
		}
		done := make(chan struct{})
		go func() { readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Errorf("readers still running 30 s after closing")
		}
	}()

	time.Sleep(settle)
	rssSubs := srv.procStatus(b, "VmRSS")
	b.ReportMetric(float64(rssBase)/1024, "rss-base-MB")
	b.ReportMetric(float64(rssSubs)/1024, "rss-subs-MB")
	b.ReportMetric(float64(rssSubs-rssBase)/float64(len(live)), "kB/sub")
	b.ReportMetric(float64(srv.fds()-fdsBase)/float64(len(live)), "server-fds/sub")
	b.ReportMetric(float64(srv.procStatus(b, "Threads")), "server-threads")

	// Idle cost: the server's CPU, and its database's transactions,
	// while nothing happens.
	cpu0, x0, t0 := srv.cpuTicks(b), srv.xacts(b), time.Now()
	time.Sleep(idleWindow)
	ticks, x1 := srv.cpuTicks(b)-cpu0, srv.xacts(b)
	idle := time.Since(t0).Seconds()
	b.ReportMetric(float64(ticks)/100/idle*100, "idle-cpu-%")
	if x0 >= 0 {
		// lib/pq runs a query with arguments as two protocol exchanges,
		// each its own implicit transaction: two per statement.
		b.ReportMetric(float64(x1-x0)/idle, "idle-db-xacts/s")
	}

	// One message of a new customer (a new conversation for every stream),
	// then a second in the same conversation.
	for k, ev := range events {
		name := []string{"new-conv", "same-conv"}[k]
		srvCPU, cliCPU := srv.cpuTicks(b), cpuTicks(b, os.Getpid())
		start := time.Now()
		srv.postZalo(b, zfake, benchZaloText("u-fan-1", fmt.Sprint("fan-msg-", k), ev.text))
		deadline := start.Add(eventWait)
		for ev.n.Load() < int64(len(live)) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		// CPU seconds both processes spent until the last delivery (the
		// benchmark's includes its readers' decoding; the server's its
		// idle work meanwhile).
		b.ReportMetric(float64(srv.cpuTicks(b)-srvCPU)/100, name+"-server-cpu-s")
		b.ReportMetric(float64(cpuTicks(b, os.Getpid())-cliCPU)/100, name+"-client-cpu-s")
		lat := make([]time.Duration, 0, len(live))
		ev.mu.Lock()
		for _, at := range ev.at {
			if !at.IsZero() {
				lat = append(lat, at.Sub(start))
			}
		}
		ev.mu.Unlock()
		slices.Sort(lat)
		if missing := len(live) - len(lat); missing > 0 {
			b.Logf("%s: %d of %d subscribers had no event after %v", name, missing, len(live), eventWait)
			b.ReportMetric(float64(missing), name+"-missing")
		}
		b.ReportMetric(benchPct(lat, 0), name+"-first-ms")
		b.ReportMetric(benchPct(lat, 0.50), name+"-p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), name+"-p99-ms")
		b.ReportMetric(benchPct(lat, 1), name+"-last-ms")
		time.Sleep(settle)
	}
	// gqlgen's KeepAlivePingInterval applies to graphql-ws only; this
	// shows whether graphql-transport-ws clients were pinged at all.
	b.ReportMetric(float64(fanPings.Load()-pings0)/float64(len(live)), "pings/sub")
	if odd := fanOdd.n.Load() - odd0; odd > 0 {
		fanOdd.mu.Lock()
		b.Logf("%d messages that are neither events nor pings; the first: %s", odd, fanOdd.sample)
		fanOdd.mu.Unlock()
		b.ReportMetric(float64(odd), "odd-messages")
	}
	srv.logProblems(b)
	b.ReportMetric(time.Since(listening).Seconds(), "listened-s")
	b.ReportMetric(float64(srv.procStatus(b, "VmRSS"))/1024, "rss-after-MB")
	b.ReportMetric(float64(srv.procStatus(b, "VmHWM"))/1024, "rss-peak-MB")
	if errors.Is(firstErr, syscall.EMFILE) {
		b.Logf("the file descriptor limit stopped the subscriptions")
	}
}
