package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// childServer is a server running in a child process, as in production,
// so that it can be killed with SIGKILL.
type childServer struct {
	cmd *exec.Cmd
	url string
	log *syncBuffer
}

// syncBuffer is a child's log, written by its reader goroutine and read by
// the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) write(line []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(line)
	b.buf.WriteByte('\n')
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startChild starts a server process with env and waits until it listens.
func startChild(t *testing.T, env []string) *childServer {
	t.Helper()
	cmd := serverProcess(context.Background(), append([]string{"DAKENH_ADDR=127.0.0.1:0"}, env...)...)
	// The server logs JSON lines to stderr; they are kept for the test's
	// messages and scanned for the listening address.
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &childServer{cmd: cmd, log: new(syncBuffer)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.log.write(sc.Bytes())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "dakenh listening" {
				addr <- line.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the server process ended before it listened:\n%s", c.log)
		}
		c.url = "http://" + a
	case <-time.After(patience):
		_ = cmd.Process.Kill()
		t.Fatalf("the server process did not listen:\n%s", c.log)
	}
	t.Cleanup(func() { c.kill() })
	return c
}

// kill ends the process with SIGKILL, as a crash or the OOM killer does.
func (c *childServer) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// stop ends the process as an operator does, with SIGTERM.
func (c *childServer) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("the server process did not stop cleanly: %v\n%s", err, c.log)
	}
}

// graphql posts one operation to the child and decodes its data into v.
func (c *childServer) graphql(t *testing.T, token, query string, vars map[string]any, v any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %v %s", query, err, out.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(out.Data, v); err != nil {
			t.Fatal(err)
		}
	}
}

// chaosSetup returns a Zalo fake with the test OA, the environment of a
// child server on the test's database, and open, which reads that
// database once no server holds it (the embedded database serves one
// process).
func chaosSetup(t *testing.T) (*zalofake.Server, []string, func() *database.DB) {
	t.Helper()
	zfake := zalofake.New(t)
	zfake.SetApp("app-1", "APP-SECRET-zalo-1")
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken, RefreshToken: "REFRESH-TOKEN-zalo-1"})
	env := []string{
		"DAKENH_SECRET=chaos-secret-chaos-secret-chaos-secret", "DAKENH_ALLOW_SIGNUP=true",
		"ZALO_OPENAPI_URL=" + zfake.URL(), "ZALO_OAUTH_URL=" + zfake.URL(),
	}
	if dbtest.Dialect() == dialect.Postgres {
		db := dbtest.Open(t)
		return zfake, append(env, "DATABASE_URL="+db.URL), func() *database.DB { return db }
	}
	dir := t.TempDir()
	return zfake, append(env, "DATABASE_URL=", "DAKENH_DATA_DIR="+dir), func() *database.DB {
		db, err := database.Open(context.Background(), database.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
}

// chaosOrg signs up the organization of a chaos test on srv and connects
// the test OA; it returns the owner's token.
func chaosOrg(t *testing.T, srv *childServer) string {
	t.Helper()
	var up struct{ SignUp struct{ Token string } }
	srv.graphql(t, "", `mutation { signUp(input: {organizationName: "Chaos", name: "Chủ", email: "chu@chaos.vn", password: "mat-khau-dai-chaos"}) { token } }`, nil, &up)
	srv.graphql(t, up.SignUp.Token, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, nil)
	return up.SignUp.Token
}

// chaosLogin logs the chaos organization's owner in on srv.
func chaosLogin(t *testing.T, srv *childServer) string {
	t.Helper()
	var out struct{ Login struct{ Token string } }
	srv.graphql(t, "", `mutation { login(email: "chu@chaos.vn", password: "mat-khau-dai-chaos") { token } }`, nil, &out)
	return out.Login.Token
}

// postWebhook posts a signed Zalo event to srv and says whether it was
// answered 200.
func postWebhook(srv *childServer, body []byte, sig string) bool {
	req, _ := http.NewRequest(http.MethodPost, srv.url+"/webhooks/zalo", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(zalofake.SignatureHeader, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// chaosText is a signed text from user to the test OA.
func chaosText(zfake *zalofake.Server, user, msgID, text string) ([]byte, string) {
	return zfake.SignedEvent(testZaloAppID, testZaloSecret, map[string]any{
		"app_id": testZaloAppID, "event_name": "user_send_text",
		"timestamp": strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10),
		"sender":    map[string]any{"id": user}, "recipient": map[string]any{"id": testOAID},
		"message": map[string]any{"msg_id": msgID, "text": text},
	})
}

// TestKill9WhileReceivingAndProcessingWebhooks kills the server with
// SIGKILL in the middle of a webhook burst, while it is storing and
// processing events, restarts it, and lets the provider resend what was not
// answered 200, as Zalo does: every event becomes exactly one message, and
// none is left unprocessed.
func TestKill9WhileReceivingAndProcessingWebhooks(t *testing.T) {
	zfake, env, open := chaosSetup(t)
	srv := startChild(t, env)
	chaosOrg(t, srv)

	const users, perUser = 20, 20
	type post struct {
		body []byte
		sig  string
	}
	var posts []post
	for i := range users * perUser {
		body, sig := chaosText(zfake, fmt.Sprint("chaos-user-", i%users), fmt.Sprint("chaos-msg-", i), fmt.Sprint("tin ", i))
		posts = append(posts, post{body, sig})
	}
	// send posts each event once to the current server and returns those
	// not answered 200, which the provider would send again. After
	// killAfter acceptances the server is killed mid-burst.
	send := func(srv *childServer, todo []int, killAfter int) []int {
		var mu sync.Mutex
		var failed []int
		var accepted atomic.Int64
		next := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range next {
					if !postWebhook(srv, posts[i].body, posts[i].sig) {
						mu.Lock()
						failed = append(failed, i)
						mu.Unlock()
						continue
					}
					if accepted.Add(1) == int64(killAfter) {
						srv.kill()
					}
				}
			})
		}
		for _, i := range todo {
			next <- i
		}
		close(next)
		wg.Wait()
		return failed
	}
	all := make([]int, len(posts))
	for i := range all {
		all[i] = i
	}
	left := send(srv, all, len(posts)/2)
	if len(left) == 0 {
		t.Fatal("the server was not killed during the burst")
	}
	t.Logf("killed after %d of %d events were accepted", len(posts)-len(left), len(posts))

	// The restarted server takes over the dead one's leased events once
	// their lease ends; the provider resends the rest.
	srv = startChild(t, env)
	for range 3 {
		if left = send(srv, left, -1); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("%d events not accepted after the restart", len(left))
	}
	token := chaosLogin(t, srv)
	deadline := time.Now().Add(patience)
	for stored := 0; stored < len(posts); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages after %v\n%s", stored, len(posts), patience, srv.log)
		}
		var out struct {
			Conversations struct {
				Edges []struct {
					Node struct{ Messages struct{ TotalCount int } }
				}
			}
		}
		srv.graphql(t, token, `{ conversations(first: 50) { edges { node { messages { totalCount } } } } }`, nil, &out)
		stored = 0
		for _, e := range out.Conversations.Edges {
			stored += e.Node.Messages.TotalCount
		}
		if stored > len(posts) {
			t.Fatalf("%d messages for %d events", stored, len(posts))
		}
		time.Sleep(100 * time.Millisecond) // polling the condition, not waiting for it
	}
	srv.stop(t)

	db := open()
	sys := viewer.SystemContext(context.Background(), "")
	var rows []struct {
		ProviderMessageID string `json:"provider_message_id"`
		Count             int    `json:"count"`
	}
	if err := db.Client.Message.Query().Where(message.ProviderMessageIDHasPrefix("chaos-msg-")).
		GroupBy(message.FieldProviderMessageID).Aggregate(ent.Count()).Scan(sys, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(posts) {
		t.Errorf("%d distinct messages, want %d", len(rows), len(posts))
	}
	for _, r := range rows {
		if r.Count != 1 {
			t.Errorf("message %s stored %d times", r.ProviderMessageID, r.Count)
		}
	}
	if n := db.Client.WebhookEvent.Query().Where(webhookevent.ProcessedAtIsNil()).CountX(sys); n != 0 {
		t.Errorf("%d webhook events left unprocessed", n)
	}
	if strings.Contains(srv.log.String(), `"level":"ERROR"`) {
		t.Errorf("the restarted server logged errors:\n%s", srv.log)
	}
}

// TestKill9WhileDeliveringReplies kills the server with SIGKILL while its
// worker is sending replies to a slow provider, and restarts it: every reply
// is stored once and reaches the customer, in its conversation's order, and
// the restarted server takes over the dead one's deliveries once their 15 s
// leases end. Delivery is at least once (neither provider takes an
// idempotency key), so a reply the provider took just before the kill,
// whose outcome was not yet written, may be sent again: at most the four a
// channel has in flight.
func TestKill9WhileDeliveringReplies(t *testing.T) {
	zfake, env, open := chaosSetup(t)
	srv := startChild(t, env)
	token := chaosOrg(t, srv)

	const users, perUser = 4, 15
	for u := range users {
		body, sig := chaosText(zfake, fmt.Sprint("reply-user-", u), fmt.Sprint("reply-in-", u), "cho mình hỏi")
		if !postWebhook(srv, body, sig) {
			t.Fatal("an inbound message was refused")
		}
	}
	var convs []string
	for deadline := time.Now().Add(patience); len(convs) < users; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d conversations after %v", len(convs), users, patience)
		}
		var out struct {
			Conversations struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		srv.graphql(t, token, `{ conversations(first: 10) { edges { node { id } } } }`, nil, &out)
		convs = convs[:0]
		for _, e := range out.Conversations.Edges {
			convs = append(convs, e.Node.ID)
		}
	}

	// Every send takes 300 ms, so the kill finds deliveries in flight.
	zfake.FailNext(zalofake.SendMessage, 10*users*perUser, zalofake.Slow(300*time.Millisecond))
	for k := range perUser {
		for c, id := range convs {
			srv.graphql(t, token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"conversationId": id, "text": fmt.Sprintf("trả lời %d-%02d", c, k)}}, nil)
		}
	}
	for len(zfake.Sent()) < users*perUser/3 {
		time.Sleep(10 * time.Millisecond) // polling the condition, not waiting for it
	}
	srv.kill()
	before := len(zfake.Sent())
	if before >= users*perUser {
		t.Fatal("every reply was sent before the kill")
	}
	t.Logf("killed after %d of %d replies were sent", before, users*perUser)

	restarted := time.Now()
	srv = startChild(t, env)
	token = chaosLogin(t, srv)
	for deadline := time.Now().Add(patience); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replies still unsent %v after the restart\n%s", patience, srv.log)
		}
		var out struct {
			Conversations struct {
				Edges []struct {
					Node struct {
						Messages struct {
							Edges []struct {
								Node struct{ Direction, Status string }
							}
						}
					}
				}
			}
		}
		srv.graphql(t, token, `{ conversations(first: 10) { edges { node { messages(first: 50) { edges { node { direction status } } } } } } }`, nil, &out)
		sent := 0
		for _, c := range out.Conversations.Edges {
			for _, m := range c.Node.Messages.Edges {
				if m.Node.Direction == "OUTBOUND" && m.Node.Status == "SENT" {
					sent++
				}
			}
		}
		if sent == users*perUser {
			break
		}
	}
	t.Logf("every reply sent %v after the restart", time.Since(restarted).Round(time.Millisecond))
	srv.stop(t)

	db := open()
	sys := viewer.SystemContext(context.Background(), "")
	stored := db.Client.Message.Query().Where(message.DirectionEQ(message.DirectionOUTBOUND)).AllX(sys)
	if len(stored) != users*perUser {
		t.Errorf("%d replies stored, want %d", len(stored), users*perUser)
	}
	for _, m := range stored {
		if m.Status != message.StatusSENT || m.ProviderMessageID == nil {
			t.Errorf("reply %q is %s (%q)", m.Text, m.Status, m.FailureReason)
		}
	}
	times := map[string]int{}
	last := map[string]string{}
	for _, s := range zfake.Sent() {
		times[s.Text]++
		if s.Text < last[s.UserID] {
			t.Errorf("to %s, %q went out after %q", s.UserID, s.Text, last[s.UserID])
		}
		last[s.UserID] = s.Text
	}
	again := 0
	for c := range users {
		for k := range perUser {
			switch n := times[fmt.Sprintf("trả lời %d-%02d", c, k)]; {
			case n == 0:
				t.Errorf("reply %d-%02d never reached the provider", c, k)
			case n > 1:
				again += n - 1
			}
		}
	}
	if again > 4 {
		t.Errorf("%d replies sent again after the kill; at most the 4 in flight may be", again)
	}
	t.Logf("%d replies sent a second time", again)
	if strings.Contains(srv.log.String(), `"level":"ERROR"`) {
		t.Errorf("the restarted server logged errors:\n%s", srv.log)
	}
}

// TestPostgresRestartUnderLoad restarts PostgreSQL under a running server
// while signed webhooks keep arriving and a subscriber follows the
// messages. The server is not restarted: /readyz answers 503 while the
// database is down and 200 once it is back; every webhook answered 200
// becomes exactly one message, and those refused meanwhile are accepted
// when the provider sends them again; the subscriber's stream ends with the
// resume error and, resumed from its last cursor, misses and repeats
// nothing.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if dbtest.Dialect() != dialect.Postgres {
		t.Skip("PostgreSQL only: the embedded database restarts with its server (TestKill9WhileReceivingAndProcessingWebhooks)")
	}
	pg := dbtest.StartServer(t)
	db := pg.Open()
	w := newWebhookEnv(t, func(*webhookEnv) envOption { return func(_ *Config, a *appOptions) { a.db = db } })
	w.app.startWorkers()
	t.Cleanup(w.app.Stop)

	const events = 600
	posts := make([]struct {
		body []byte
		sig  string
	}, events)
	for i := range posts {
		user := fmt.Sprint("restart-user-", i%30)
		posts[i].body, posts[i].sig = w.zaloEvent(benchZaloText(user, fmt.Sprint("restart-msg-", i), fmt.Sprint("tin ", i)))
	}
	// The admin connected the OA, whose conversations are theirs alone
	// (ONLY_ME).
	sub := followMessages(t, w.env, w.tn.adminToken, event.Start.String())

	// Eight senders post every event until it is answered 200; a refused
	// one goes back in the queue and is sent again 20 ms later, as a
	// provider retries.
	queue := make(chan int, events)
	for i := range events {
		queue <- i
	}
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range queue {
				req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/webhooks/zalo", bytes.NewReader(posts[i].body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(zalofake.SignatureHeader, posts[i].sig)
				resp, err := w.srv.Client().Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					refused.Add(1)
					time.Sleep(20 * time.Millisecond) // the provider's pause before it retries
					queue <- i
					continue
				}
				if accepted.Add(1) == events {
					close(queue)
				}
			}
		})
	}
	ready := func() int {
		resp, err := http.Get(w.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(patience); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v (%d accepted, %d refused, the stream read %d messages)",
					what, patience, accepted.Load(), refused.Load(), len(sub.snapshot().created))
			}
		}
	}

	waitFor("a quarter of the events accepted", func() bool { return accepted.Load() >= events/4 })
	pg.Stop()
	waitFor("/readyz answers 503", func() bool { return ready() == http.StatusServiceUnavailable })
	down := refused.Load()
	waitFor("webhooks refused during the outage", func() bool { return refused.Load() >= down+20 })
	pg.Start()
	waitFor("/readyz answers 200 again", func() bool { return ready() == http.StatusOK })
	t.Logf("%d accepted before the restart ended, %d refused during it", accepted.Load(), refused.Load())
	wg.Wait()

	sys := viewer.SystemContext(context.Background(), "")
	stored := func() int {
		n, err := db.Client.Message.Query().Where(message.ProviderMessageIDHasPrefix("restart-msg-")).Count(sys)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor("every event processed", func() bool { return stored() >= events })
	var rows []struct {
		ProviderMessageID string `json:"provider_message_id"`
		Count             int    `json:"count"`
	}
	if err := db.Client.Message.Query().Where(message.ProviderMessageIDHasPrefix("restart-msg-")).
		GroupBy(message.FieldProviderMessageID).Aggregate(ent.Count()).Scan(sys, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != events {
		t.Errorf("%d distinct messages, want %d", len(rows), events)
	}
	for _, r := range rows {
		if r.Count != 1 {
			t.Errorf("message %s stored %d times", r.ProviderMessageID, r.Count)
		}
	}

	// The stream either carries on across the restart (its reads fell
	// between the outage's failures, and the bus's safety poll caught up)
	// or ends with the resume error; resumed from its last cursor, it
	// brings the rest.
	waitFor("the stream brings every message or ends", func() bool {
		s := sub.snapshot()
		return len(s.created) >= events || s.end != ""
	})
	first := sub.snapshot()
	all := first.created
	if first.end != "" {
		if !first.resume {
			t.Fatalf("the stream across the restart ended with %q, want RESUME_FROM_CURSOR", first.end)
		}
		rest := followMessages(t, w.env, w.tn.adminToken, first.cursor)
		waitFor("the resumed stream brings every message", func() bool { return len(first.created)+len(rest.snapshot().created) >= events })
		all = append(all, rest.snapshot().created...)
		t.Logf("the stream ended with the resume error after %d messages and was resumed", len(first.created))
	} else {
		t.Log("the stream carried on across the restart")
	}
	created := map[string]int{}
	for _, text := range all {
		created[text]++
	}
	for i := range events {
		if n := created[fmt.Sprint("tin ", i)]; n != 1 {
			t.Errorf("message %d reached the subscriber %d times", i, n)
		}
	}
}

// streamReader follows a subscription of messageEventsQuery on its own
// goroutine and keeps what it read: the texts of CREATED events, the
// cursor to resume after (the last event's, or where it started), and how
// the stream ended.
type streamReader struct {
	mu    sync.Mutex
	state streamState
}

type streamState struct {
	created []string
	cursor  string
	// end is why the stream ended; resume says it ended with
	// RESUME_FROM_CURSOR.
	end    string
	resume bool
}

func followMessages(t *testing.T, e *env, token, after string) *streamReader {
	s := subscribe(t, e, token, messageEventsQuery, map[string]any{"after": after})
	r := &streamReader{state: streamState{cursor: after}}
	go func() {
		for {
			_ = s.conn.SetReadDeadline(time.Now().Add(2 * patience))
			var m struct {
				Type    string
				Payload struct {
					Data   messageEventOut
					Errors []gqlError
				}
			}
			if err := s.conn.ReadJSON(&m); err != nil {
				r.finish(err.Error(), false)
				return
			}
			switch {
			case m.Type == "ping":
				_ = s.conn.WriteJSON(map[string]any{"type": "pong"})
			case m.Type == "next" && len(m.Payload.Errors) > 0:
				e := m.Payload.Errors[0]
				r.finish(e.Message, e.Extensions["reason"] == "RESUME_FROM_CURSOR")
				return
			case m.Type == "next":
				ev := m.Payload.Data.MessageEvents
				r.mu.Lock()
				if ev.Type == "CREATED" {
					r.state.created = append(r.state.created, ev.Message.Text)
				}
				r.state.cursor = ev.Cursor
				r.mu.Unlock()
			default:
				r.finish("the stream ended with "+m.Type, false)
				return
			}
		}
	}()
	return r
}

func (r *streamReader) finish(why string, resume bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.end, r.state.resume = why, resume
}

func (r *streamReader) snapshot() streamState {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state
	s.created = slices.Clone(s.created)
	return s
}
