package main

// Benchmarks of the live inbox: webhook ingestion, event fan-out to idle
// WebSocket subscribers, and the inbox's conversation list. They only
// report figures (b.ReportMetric); BENCHMARKS.md records them with the
// commands that produced them. Run each once:
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench WebhookIngestion -benchtime 1x -timeout 30m
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench Fanout -benchtime 1x -timeout 30m
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench InboxQuery -benchtime 1x -timeout 30m

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/database"
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

// benchServer is a dakenh server process.
type benchServer struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	pid  int
	log  string        // its stderr and stdout
	db   *database.DB  // the server's database, on PostgreSQL; nil on SQLite
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done closes
	once sync.Once
}

// startBenchServer starts bin on a free port with a fresh database and
// waits until it is ready; it is stopped with SIGTERM at cleanup.
func startBenchServer(b *testing.B, bin, providerURL string) *benchServer {
	b.Helper()
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"DAKENH_ADDR=" + addr,
		"DAKENH_DATA_DIR=" + dir,
		"DAKENH_SECRET=bench-secret-bench-secret-bench-secret",
		"DAKENH_ALLOW_SIGNUP=true",
		"ZALO_OPENAPI_URL=" + providerURL,
		"ZALO_OAUTH_URL=" + providerURL,
		"FACEBOOK_GRAPH_URL=" + providerURL,
	}
	var db *database.DB
	if dbtest.Dialect() == "postgres" {
		// A fresh migrated database, dropped after the server stops
		// (cleanups run last-in first-out).
		db = dbtest.Open(b)
		env = append(env, "DATABASE_URL="+db.URL)
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &benchServer{cmd: cmd, url: "http://" + addr, pid: cmd.Process.Pid, log: logPath, db: db, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); logf.Close(); close(s.done) }()
	b.Cleanup(func() { s.stop(b) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			b.Fatalf("the server exited: %v\n%s", s.err, s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("the server is not ready after 60 s\n%s", s.logTail())
		}
	}
}

// stop sends SIGTERM and waits (bounded) for the server to exit, killing
// it if it does not; it reports how long the graceful stop took.
func (s *benchServer) stop(b *testing.B) {
	s.once.Do(func() { s.stopOnce(b) })
}

func (s *benchServer) stopOnce(b *testing.B) {
	start := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		b.Logf("server stopped by SIGTERM in %v (exit: %v)", time.Since(start).Round(time.Millisecond), s.err)
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		b.Errorf("server ignored SIGTERM for 40 s; killed\n%s", s.logTail())
		<-s.done
	}
}

// logTail returns the end of the server's log.
func (s *benchServer) logTail() string {
	raw, _ := os.ReadFile(s.log)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// logProblems logs how many warnings and errors the server logged, with a
// few distinct messages.
func (s *benchServer) logProblems(b *testing.B) {
	b.Helper()
	raw, _ := os.ReadFile(s.log)
	counts := map[string]int{}
	var order []string
	for line := range strings.Lines(string(raw)) {
		var l struct{ Level, Msg, Err, Error string }
		if json.Unmarshal([]byte(line), &l) != nil || (l.Level != "WARN" && l.Level != "ERROR") {
			continue
		}
		k := l.Level + " " + l.Msg + ": " + l.Err + l.Error
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	for i, k := range order {
		if i == 5 {
			b.Logf("server log: %d more kinds of problems", len(order)-5)
			break
		}
		b.Logf("server log: %d × %.300s", counts[k], k)
	}
}

// procStatus returns a field of /proc/<pid>/status in kB (VmRSS, VmHWM) or
// as a number (Threads).
func (s *benchServer) procStatus(b *testing.B, field string) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, s.pid)
	return 0
}

// cpuTicks returns the server's user+system CPU time in clock ticks.
func (s *benchServer) cpuTicks(b *testing.B) int64 {
	b.Helper()
	return cpuTicks(b, s.pid)
}

// cpuTicks returns a process's user+system CPU time in clock ticks
// (USER_HZ, 100 per second on Linux).
func cpuTicks(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is field 3,
	// utime 14 and stime 15.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// xacts returns the transactions committed in the server's PostgreSQL
// database so far (pg_stat_database, which lags by up to a second), or
// -1 on SQLite.
func (s *benchServer) xacts(b *testing.B) int64 {
	b.Helper()
	if s.db == nil {
		return -1
	}
	var n int64
	if err := s.db.SQL.QueryRow(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// fds counts the server's open file descriptors.
func (s *benchServer) fds() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	return len(ents)
}

// gql posts a GraphQL request to the server and decodes its data.
func (s *benchServer) gql(b *testing.B, token, query string, vars map[string]any, v any) {
	b.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		b.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		b.Fatalf("status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	out.decode(b, v)
}

// postZalo signs and posts a Zalo event to the server.
func (s *benchServer) postZalo(b *testing.B, zfake *zalofake.Server, ev map[string]any) {
	b.Helper()
	body, sig := zfake.SignedEvent(testZaloAppID, testZaloSecret, ev)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/webhooks/zalo", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(zalofake.SignatureHeader, sig)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		b.Fatalf("POST /webhooks/zalo: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("POST /webhooks/zalo: status %d", resp.StatusCode)
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
