package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// BenchmarkDistribution measures distribution end to end on two server
// instances sharing one PostgreSQL database, each with its own connection
// pool as replicas have (one instance on SQLite, which serves a single
// process):
//
//  1. Latency. One agent follows conversationEvents over WebSocket; a new
//     customer writes (a webhook posted to the first instance, whose
//     workers run), one at a time, and the benchmark times from the POST to
//     the agent receiving ASSIGNED (round robin), then OFFERED
//     (sequential).
//
//  2. Throughput. Signed webhooks from new Zalo users are stored with the
//     workers stopped; then both instances' webhook workers start, and the
//     benchmark times until every new conversation is ASSIGNED by round
//     robin among ten ONLINE agents. The same batch size with no rule
//     (conversations left undistributed) is the baseline: what processing
//     new conversations costs without distribution.
//
//     DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench Distribution -benchtime 1x -timeout 30m
func BenchmarkDistribution(b *testing.B) {
	const (
		conversations = 2000
		agents        = 10
		samples       = 200
		clients       = 8
		deadline      = 10 * time.Minute
	)
	d := newDistEnv(b, agents)
	d.online(d.agents...)
	servers := d.replicas()
	sys := viewer.SystemContext(context.Background(), d.org)
	count := func(state conversation.DistributionState) int {
		return d.db.Client.Conversation.Query().Where(conversation.DistributionStateEQ(state)).CountX(sys)
	}

	// throughput stores a batch of new conversations' webhooks, then times
	// both instances' webhook workers until done says they are all there.
	throughput := func(done func() bool) float64 {
		first := d.users.Load() + 1
		for n := first; n < first+conversations; n++ {
			// Known users, so the profile reads that follow processing
			// succeed instead of logging failures.
			d.zfake.SetUser(fmt.Sprint("u-dist-", n), zalofake.User{DisplayName: fmt.Sprint("Khách ", n)})
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		for c := range clients {
			srv := servers[c%len(servers)]
			wg.Go(func() {
				for next.Add(1) <= conversations {
					d.post(srv)
				}
			})
		}
		wg.Wait()
		var stops []context.CancelFunc
		start := time.Now()
		for _, s := range servers {
			ctx, stop := context.WithCancel(event.WithBus(context.Background(), s.app.bus))
			stops = append(stops, stop)
			s.app.startWebhookWorker(ctx)
		}
		for !done() {
			if time.Since(start) > deadline {
				b.Fatalf("the batch was not processed within %v", deadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		for i, s := range servers {
			stops[i]()
			s.app.Stop()
		}
		return conversations / took.Seconds()
	}

	for b.Loop() {
		// 1. Latency to the one agent of a rule. It comes first, so the
		// subscription's replay of the log is short.
		rule := d.createRule("ROUND_ROBIN", "KEEP", d.agents[0])
		d.app.startWorkers()
		sub := openConvSub(b, d.env, d.agents[0].token)
		// The warm-up conversation's ASSIGNED comes after every replayed
		// event, so what follows is live.
		warm := d.post(d.env)
		var warmID string
		for warmID == "" {
			if id, ok := d.findConversation(warm); ok {
				warmID = id
			} else {
				time.Sleep(10 * time.Millisecond)
			}
		}
		sub.await(b, "ASSIGNED", warmID)
		measure := func(typ string) []time.Duration {
			lat := make([]time.Duration, 0, samples)
			for range samples {
				t0 := time.Now()
				user := d.post(d.env)
				got := sub.await(b, typ, "")
				lat = append(lat, got.at.Sub(t0))
				if id, _ := d.findConversation(user); id != got.conv {
					b.Fatalf("%s arrived for %s, the new conversation is %s", typ, got.conv, id)
				}
			}
			slices.Sort(lat)
			return lat
		}
		lat := measure("ASSIGNED")
		b.ReportMetric(benchPct(lat, 0.50), "assigned-event-p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "assigned-event-p99-ms")
		d.must(d.tn.adminToken, `mutation($id: ID!) { updateRule(id: $id, input: {method: SEQUENTIAL}) { id } }`, map[string]any{"id": rule}, nil)
		lat = measure("OFFERED")
		b.ReportMetric(benchPct(lat, 0.50), "offered-event-p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "offered-event-p99-ms")
		sub.close()
		d.app.Stop()
		d.must(d.tn.adminToken, `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": rule}, nil)

		// 2. Throughput, round robin, then the baseline with no rule.
		rule = d.createRule("ROUND_ROBIN", "KEEP", d.agents...)
		assigned := count(conversation.DistributionStateASSIGNED)
		b.ReportMetric(throughput(func() bool {
			return count(conversation.DistributionStateASSIGNED) >= assigned+conversations
		}), "assigned-conversations/s")
		d.must(d.tn.adminToken, `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": rule}, nil)
		none := count(conversation.DistributionStateNONE)
		b.ReportMetric(throughput(func() bool {
			return count(conversation.DistributionStateNONE) >= none+conversations
		}), "undistributed-conversations/s")

	}
}

// convSub is a conversationEvents subscription whose events a goroutine
// timestamps as they arrive.
type convSub struct {
	conn   *websocket.Conn
	events chan convDelivery
	done   chan struct{}
}

// convDelivery is one received event.
type convDelivery struct {
	typ, conv string
	at        time.Time
}

// openConvSub subscribes a user to conversationEvents from the start of the
// log.
func openConvSub(b *testing.B, e *env, token string) *convSub {
	b.Helper()
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second}
	c, _, err := dialer.Dial("ws"+e.srv.URL[len("http"):]+"/graphql", nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &convSub{conn: c, events: make(chan convDelivery, 4096), done: make(chan struct{})}
	if err := c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		b.Fatal(err)
	}
	if err := c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": conversationEventsQuery, "variables": map[string]any{"after": event.Start.String()},
	}}); err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(s.done)
		for {
			var m struct {
				Type    string
				Payload struct {
					Data *struct {
						ConversationEvents struct {
							Type         string
							Conversation struct{ ID string }
						}
					}
				}
			}
			if err := c.ReadJSON(&m); err != nil {
				return
			}
			switch {
			case m.Type == "ping":
				_ = c.WriteJSON(map[string]any{"type": "pong"})
			case m.Type == "next" && m.Payload.Data != nil:
				ev := m.Payload.Data.ConversationEvents
				s.events <- convDelivery{typ: ev.Type, conv: ev.Conversation.ID, at: time.Now()}
			}
		}
	}()
	return s
}

// await returns the next event of type typ (and of conversation conv,
// unless empty), skipping others.
func (s *convSub) await(b *testing.B, typ, conv string) convDelivery {
	b.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case d := <-s.events:
			if d.typ == typ && (conv == "" || d.conv == conv) {
				return d
			}
		case <-s.done:
			b.Fatal("the subscription ended")
		case <-timeout:
			b.Fatalf("no %s event within a minute", typ)
		}
	}
}

func (s *convSub) close() {
	s.conn.Close()
	<-s.done
}
