package main

// Benchmarks of the live inbox: webhook ingestion and the inbox's
// conversation list (the event fan-out is in bench_fanout_test.go). They
// only report figures (b.ReportMetric); BENCHMARKS.md records them with the
// commands that produced them. Run each once:
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench WebhookIngestion -benchtime 1x -timeout 30m
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench InboxQuery -benchtime 1x -timeout 30m

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// benchPct returns the p-th percentile (0 < p ≤ 1) of sorted durations,
// in milliseconds.
func benchPct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// benchZaloText is a user_send_text event from user to the test OA.
func benchZaloText(user, msgID, text string) map[string]any {
	return map[string]any{
		"app_id":         testZaloAppID,
		"event_name":     "user_send_text",
		"timestamp":      strconv.FormatInt(time.Now().Add(-time.Second).UnixMilli(), 10),
		"sender":         map[string]any{"id": user},
		"recipient":      map[string]any{"id": testOAID},
		"user_id_by_app": "app-" + user,
		"message":        map[string]any{"msg_id": msgID, "text": text},
	}
}

// benchInboxIter makes provider message IDs unique across b.Loop
// iterations and -count runs of one process.
var benchInboxIter atomic.Int64

// BenchmarkWebhookIngestion posts signed Zalo user_send_text events (distinct
// msg_ids, from a few hundred users of one connected OA) to POST
// /webhooks/zalo from concurrent clients, with the processing worker
// stopped: that measures what the route alone accepts. It then starts the
// server's webhook worker and measures how fast every stored event becomes
// a message. A second batch to the same users is then processed by several
// processors at once, as that many replicas would.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench WebhookIngestion -benchtime 1x -timeout 30m
func BenchmarkWebhookIngestion(b *testing.B) {
	const (
		events  = 5000
		users   = 300
		clients = 8
		// processors is the number of processors of the second batch.
		processors = 4
		// processDeadline bounds the wait for the worker.
		processDeadline = 10 * time.Minute
	)
	zfake := zalofake.New(b)
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken})
	for u := range users {
		zfake.SetUser(fmt.Sprint("u-ingest-", u), zalofake.User{DisplayName: fmt.Sprint("Khách ", u), IsFollower: true})
	}
	db, counter := dbtest.OpenCounting(b)
	e := newEnvOn(b, db, func(c *Config, _ *appOptions) {
		// Every provider call stays on 127.0.0.1.
		c.ZaloOpenAPIURL, c.ZaloOAuthURL, c.FacebookGraphURL = zfake.URL(), zfake.URL(), zfake.URL()
	})
	tn := e.newTenant("Ingest Org")
	var z struct{ ConnectZaloOA struct{ ID gid.ID } }
	e.must(tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, &z)
	oa := e.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), z.ConnectZaloOA.ID)
	sys := viewer.SystemContext(context.Background(), oa.OrganizationID)

	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	count := func() int { return e.db.Client.Message.Query().Where(message.ChannelID(oa.ID)).CountX(sys) }

	// post sends the batch's events; for the first batch it reports the
	// accepted rate and answer times, with the SQL statements per request.
	post := func(batch string, report bool) {
		bodies := make([][]byte, events)
		sigs := make([]string, events)
		for i := range events {
			ev := benchZaloText(fmt.Sprint("u-ingest-", i%users), fmt.Sprintf("ingest-%s-%d", batch, i), fmt.Sprint("Cho em hỏi giá sản phẩm số ", i))
			bodies[i], sigs[i] = zfake.SignedEvent(testZaloAppID, testZaloSecret, ev)
		}
		lat := make([]time.Duration, events)
		status := make([]int, events)
		var next atomic.Int64
		var wg sync.WaitGroup
		counter.Reset()
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= events {
						return
					}
					req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/zalo", bytes.NewReader(bodies[i]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set(zalofake.SignatureHeader, sigs[i])
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						status[i] = -1
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					lat[i], status[i] = time.Since(t0), resp.StatusCode
				}
			})
		}
		wg.Wait()
		accepted := time.Since(start)
		stmts := counter.Count()
		for i, s := range status {
			if s != http.StatusOK {
				b.Fatalf("event %d: status %d", i, s)
			}
		}
		if !report {
			return
		}
		slices.Sort(lat)
		b.ReportMetric(float64(events)/accepted.Seconds(), "accepted-events/s")
		b.ReportMetric(benchPct(lat, 0.50), "accept-p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "accept-p99-ms")
		b.ReportMetric(benchPct(lat, 1), "accept-max-ms")
		b.ReportMetric(float64(stmts)/events, "accept-stmts/event")
	}

	// await waits until want messages exist and returns how long that took
	// since start, and the statements run meanwhile (the benchmark's own
	// count queries left out).
	await := func(start time.Time, want int) (time.Duration, int) {
		deadline := start.Add(processDeadline)
		polls := 0
		for got := count(); got < want; got = count() {
			if time.Now().After(deadline) {
				b.Fatalf("after %v, %d messages, want %d", processDeadline, got, want)
			}
			time.Sleep(20 * time.Millisecond)
			polls++
		}
		return time.Since(start), counter.Count() - polls - 1
	}

	for b.Loop() {
		iter := benchInboxIter.Add(1)

		// 1. The route alone, then the server's webhook worker (one per
		// replica) over the stored events; the first message of each
		// user creates their customer, identity and conversation.
		before := count()
		post(fmt.Sprint(iter, "a"), true)
		workerCtx, stopWorker := context.WithCancel(event.WithBus(context.Background(), e.app.bus))
		counter.Reset()
		start := time.Now()
		e.app.startWebhookWorker(workerCtx)
		took, stmts := await(start, before+events)
		// Stop it and wait (Stop waits for the workers' WaitGroup; the
		// app's own workers were never started).
		stopWorker()
		e.app.Stop()
		b.ReportMetric(float64(events)/took.Seconds(), "processed-events/s")
		// A round processes every due event before it reads the new
		// users' profiles, so profile reads hardly overlap the count.
		b.ReportMetric(float64(stmts)/events, "process-stmts/event")

		// 2. As many processors as replicas would run, over a second batch
		// to the same users' conversations.
		before = count()
		post(fmt.Sprint(iter, "b"), false)
		ctx, stop := context.WithCancel(event.WithBus(context.Background(), e.app.bus))
		var procs sync.WaitGroup
		counter.Reset()
		start = time.Now()
		for range processors {
			in := inbox.NewInbound(e.app.inbox, inbox.InboundConfig{Zalo: zalo.New(zalo.Config{OpenAPIURL: zfake.URL()}), Logger: e.app.logger})
			procs.Go(func() { in.Run(ctx) })
		}
		took, _ = await(start, before+events)
		stop()
		procs.Wait()
		b.ReportMetric(float64(events)/took.Seconds(), fmt.Sprintf("processed-events/s-%dprocs", processors))

		sysAll := viewer.SystemContext(context.Background(), "")
		b.ReportMetric(float64(e.db.Client.WebhookEvent.Query().Where(webhookevent.AttemptsGT(0)).CountX(sysAll)), "failed-attempts")
		if n := e.db.Client.Identity.Query().Where(identity.ChannelID(oa.ID)).CountX(sys); n != users {
			b.Fatalf("%d identities, want %d", n, users)
		}
		if n := e.db.Client.WebhookEvent.Query().Where(webhookevent.ProcessedAtIsNil()).CountX(sysAll); n != 0 {
			b.Fatalf("%d webhook events unprocessed", n)
		}
	}
}

// BenchmarkInboxQuery times the inbox's conversation list through HTTP and
// counts its SQL statements for two page sizes: eager loading must keep
// the count flat.
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench InboxQuery -benchtime 1x -timeout 30m
func BenchmarkInboxQuery(b *testing.B) {
	const (
		conversations = 60
		perConv       = 5
		requests      = 1000
	)
	db, counter := dbtest.OpenCounting(b)
	e := newEnvOn(b, db)
	tn := e.newTenant("Inbox Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	sys := viewer.SystemContext(context.Background(), me.Me.Organization.ID)
	c := db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-inbox-bench").SetName("Inbox OA").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys)
	base := time.Now().Add(-24 * time.Hour)
	assignees := []gid.ID{gid.ID(tn.agentID), gid.ID(tn.adminID), ""}
	for i := range conversations {
		cust := c.Customer.Create().SetName(fmt.Sprint("Khách hộp thư ", i)).SaveX(sys)
		cc := c.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetLastMessageAt(base.Add(time.Duration(i) * time.Minute))
		if a := assignees[i%3]; a != "" {
			cc.SetAssigneeID(a)
		}
		conv := cc.SaveX(sys)
		msgs := make([]*ent.MessageCreate, perConv)
		for j := range perConv {
			msgs[j] = c.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(message.DirectionINBOUND).SetText(fmt.Sprintf("tin %d của cuộc %d", j, i)).
				SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).
				SetCreatedAt(base.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Second))
		}
		c.Message.CreateBulk(msgs...).ExecX(sys)
	}

	query := `query($n: Int) { conversations(first: $n) { edges { node { id customer { id name } assignee { id name } messages(last: 1) { edges { node { text createdAt } } } } } } }`
	type page struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       string
					Customer *struct{ ID, Name string }
					Assignee *struct{ ID, Name string }
					Messages struct {
						Edges []struct {
							Node struct{ Text, CreatedAt string }
						}
					}
				}
			}
		}
	}
	check := func(r *gqlResponse, n int) {
		var out page
		r.decode(b, &out)
		if len(out.Conversations.Edges) != n {
			b.Fatalf("page of %d has %d conversations", n, len(out.Conversations.Edges))
		}
		for _, edge := range out.Conversations.Edges {
			m := edge.Node.Messages.Edges
			if edge.Node.Customer == nil || len(m) != 1 || !strings.HasPrefix(m[0].Node.Text, fmt.Sprintf("tin %d ", perConv-1)) {
				b.Fatalf("conversation %+v", edge.Node)
			}
		}
	}
	stmts := map[int]int{}
	for _, n := range []int{5, 50} {
		counter.Reset()
		r := e.gql(tn.agentToken, query, map[string]any{"n": n})
		stmts[n] = counter.Count()
		check(r, n)
	}

	for b.Loop() {
		// Reported here: b.Loop clears metrics reported before it starts.
		for n, c := range stmts {
			b.ReportMetric(float64(c), fmt.Sprintf("stmts-first%d", n))
		}
		lat := make([]time.Duration, 0, requests)
		start := time.Now()
		for range requests {
			t0 := time.Now()
			r := e.gql(tn.agentToken, query, map[string]any{"n": 50})
			lat = append(lat, time.Since(t0))
			if len(r.Errors) > 0 {
				b.Fatalf("%+v", r.Errors)
			}
		}
		elapsed := time.Since(start)
		slices.Sort(lat)
		b.ReportMetric(float64(requests)/elapsed.Seconds(), "req/s")
		b.ReportMetric(benchPct(lat, 0.50), "p50-ms")
		b.ReportMetric(benchPct(lat, 0.99), "p99-ms")
	}
}
