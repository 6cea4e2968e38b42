package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/livetalk"
)

// BenchmarkLiveTalkVisitors opens 1,000 visitors' chats, each following
// visitorEvents on its own WebSocket, and reports the visitor messages a
// second the visitor API stores with 50 visitors sending at once, and the
// time from an agent's sendMessage to the visitor's visitorEvents
// delivering the reply (p50, p99), one reply at a time.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench LiveTalkVisitors -benchtime 1x -timeout 30m
func BenchmarkLiveTalkVisitors(b *testing.B) {
	for b.Loop() {
		runLiveTalkBench(b, 1000, 5, 50, 200)
	}
}

// ltBenchVisitor is one benchmark visitor: their session and socket, and
// when each awaited text reached them.
type ltBenchVisitor struct {
	vs   visitorSession
	conn *websocket.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	got  map[string]time.Time
	wait map[string]chan struct{}
}

func runLiveTalkBench(b *testing.B, visitors, perVisitor, senders, replies int) {
	e := newEnv(b, func(_ *Config, o *appOptions) {
		o.livetalk = livetalk.Options{VisitorRate: 1000, VisitorBurst: 1000, AddressRate: 1e6, AddressBurst: 1e6}
	})
	e.app.startWorkers()
	tn := e.newTenant("LiveTalk Bench")
	ch := e.createLiveTalk(tn.adminToken, "Website", liveTalkOrigin)
	vs := make([]*ltBenchVisitor, visitors)
	for i := range vs {
		v := &ltBenchVisitor{got: map[string]time.Time{}, wait: map[string]chan struct{}{}}
		v.vs = e.startChat(liveTalkOrigin, *ch.WidgetKey, map[string]any{"name": fmt.Sprintf("Khách %d", i)})
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: patience}
		c, _, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/livetalk/graphql", http.Header{"Origin": {liveTalkOrigin}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		v.conn = c
		_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Visitor " + v.vs.Token}})
		var ack map[string]any
		if err := c.ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
			b.Fatalf("init: %v %v", ack, err)
		}
		_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
			"query":     `subscription($a: Cursor) { visitorEvents(after: $a) { cursor type message { text } } }`,
			"variables": map[string]any{"a": event.Start.String()},
		}})
		go v.read()
		vs[i] = v
	}

	// Visitors' messages: senders at once, perVisitor each.
	type job struct {
		v    *ltBenchVisitor
		text string
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	for range senders {
		wg.Go(func() {
			for j := range jobs {
				body, _ := json.Marshal(map[string]any{"query": sendVisitorText, "variables": map[string]any{"t": j.text}})
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/livetalk/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", liveTalkOrigin)
				req.Header.Set("Authorization", "Visitor "+j.v.vs.Token)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				var out gqlResponse
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if len(out.Errors) > 0 {
					b.Errorf("send: %+v", out.Errors)
				}
			}
		})
	}
	start := time.Now()
	for k := range perVisitor {
		for i, v := range vs {
			jobs <- job{v, fmt.Sprintf("tin %d của khách %d", k, i)}
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(visitors*perVisitor)/elapsed.Seconds(), "visitor-msgs/s")

	// Agents' replies, one at a time, to visitors taken in turn.
	lat := make([]time.Duration, 0, replies)
	for r := range replies {
		v := vs[r*visitors/replies]
		text := fmt.Sprintf("trả lời %d", r)
		ch := v.expect(text)
		t0 := time.Now()
		e.must(tn.agentToken, `mutation($c: ID!, $t: String!) { sendMessage(input: {conversationId: $c, text: $t}) { id } }`,
			map[string]any{"c": v.vs.ConversationID, "t": text}, nil)
		select {
		case <-ch:
		case <-time.After(patience):
			b.Fatalf("reply %d never reached its visitor", r)
		}
		lat = append(lat, v.at(text).Sub(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "reply-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "reply-p99-ms")
}

// expect returns a channel closed once text reaches the visitor.
func (v *ltBenchVisitor) expect(text string) chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := make(chan struct{})
	if _, ok := v.got[text]; ok {
		close(c)
		return c
	}
	v.wait[text] = c
	return c
}

func (v *ltBenchVisitor) at(text string) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.got[text]
}

// read records when each message text arrives, and answers pings.
func (v *ltBenchVisitor) read() {
	for {
		var m struct {
			Type    string
			Payload struct {
				Data struct {
					VisitorEvents struct {
						Message *struct{ Text string }
					}
				}
			}
		}
		if err := v.conn.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "ping":
			v.wmu.Lock()
			_ = v.conn.WriteJSON(map[string]any{"type": "pong"})
			v.wmu.Unlock()
		case "next":
			if msg := m.Payload.Data.VisitorEvents.Message; msg != nil {
				now := time.Now()
				v.mu.Lock()
				if _, ok := v.got[msg.Text]; !ok {
					v.got[msg.Text] = now
					if c, ok := v.wait[msg.Text]; ok {
						close(c)
						delete(v.wait, msg.Text)
					}
				}
				v.mu.Unlock()
			}
		}
	}
}
