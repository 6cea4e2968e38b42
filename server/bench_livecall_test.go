package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/livecall"
)

// BenchmarkLiveCallSignalling times the relay of a LiveTalk call's WebRTC
// signals from the visitor (livecall.VisitorSignal, as the visitor API
// calls it) to the answering agent's callEvents subscription over a real
// WebSocket: the latency of one signal at a time (p50, p99), then the rate
// of a burst sent back to back.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench LiveCallSignalling -benchtime 1x -timeout 10m
func BenchmarkLiveCallSignalling(b *testing.B) {
	const (
		samples = 500
		burst   = 2000
	)
	for range b.N {
		l := newLiveEnv(b)
		l.online(l.tn.agentID)
		l.assign(l.conv, l.tn.agentID)
		if _, err := l.app.minutes.Grant(l.sys(), l.org, 1000, "bench"); err != nil {
			b.Fatal(err)
		}
		c := l.start(l.conv, entcall.KindVIDEO)
		l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": c.ID}, nil)

		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: patience}
		conn, _, err := d.Dial("ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql", http.Header{})
		if err != nil {
			b.Fatal(err)
		}
		_ = conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + l.tn.agentToken}})
		_ = conn.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
			"query": liveCallEventsQ, "variables": map[string]any{"after": event.Start.String()}}})
		// next returns the data of the next visitor signal on the stream.
		next := func() string {
			for {
				_ = conn.SetReadDeadline(time.Now().Add(patience))
				var m struct {
					Type    string
					Payload struct {
						Data liveEventOut
					}
				}
				if err := conn.ReadJSON(&m); err != nil {
					b.Fatalf("read: %v", err)
				}
				if m.Type == "ping" {
					_ = conn.WriteJSON(map[string]any{"type": "pong"})
				}
				if s := m.Payload.Data.CallEvents.Signal; m.Type == "next" && s != nil {
					return s.Data
				}
			}
		}
		send := func(i int) {
			if _, err := l.app.liveCalls.VisitorSignal(l.sys(), l.conv, c.ID, livecall.SignalICECandidate,
				fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2122260223 192.168.1.20 5000%d typ host","sdpMid":"0"}`, i, i%10)); err != nil {
				b.Fatal(err)
			}
		}
		send(-1)
		next() // live from here

		lat := make([]time.Duration, 0, samples)
		for i := range samples {
			t0 := time.Now()
			send(i)
			if got := next(); !strings.Contains(got, "candidate:"+strconv.Itoa(i)+" ") {
				b.Fatalf("signal %d arrived as %s", i, got)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		b.ReportMetric(benchPct(lat, 0.50), "signal-p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "signal-p99-ms")

		t0 := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range burst {
				send(samples + i)
			}
		}()
		for i := range burst {
			var s struct{ Candidate string }
			_ = json.Unmarshal([]byte(next()), &s)
			if !strings.HasPrefix(s.Candidate, "candidate:"+strconv.Itoa(samples+i)+" ") {
				b.Fatalf("burst signal %d arrived as %s", i, s.Candidate)
			}
		}
		<-done
		b.ReportMetric(float64(burst)/time.Since(t0).Seconds(), "signals/s")
		conn.Close()
	}
}
