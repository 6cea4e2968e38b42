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

// TestKill9WhileReceivingAndProcessingWebhooks kills the server with
// SIGKILL in the middle of a webhook burst, while it is storing and
// processing events, restarts it, and lets the provider resend what was not
// answered 200, as Zalo does: every event becomes exactly one message, and
// none is left unprocessed.
func TestKill9WhileReceivingAndProcessingWebhooks(t *testing.T) {
	zfake := zalofake.New(t)
	zfake.SetApp("app-1", "APP-SECRET-zalo-1")
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken, RefreshToken: "REFRESH-TOKEN-zalo-1"})
	env := []string{
		"DAKENH_SECRET=chaos-secret-chaos-secret-chaos-secret", "DAKENH_ALLOW_SIGNUP=true",
		"ZALO_OPENAPI_URL=" + zfake.URL(), "ZALO_OAUTH_URL=" + zfake.URL(),
	}
	// open reads the database once no server holds it (the embedded
	// database serves one process).
	var open func() *database.DB
	if dbtest.Dialect() == dialect.Postgres {
		db := dbtest.Open(t)
		env = append(env, "DATABASE_URL="+db.URL)
		open = func() *database.DB { return db }
	} else {
		dir := t.TempDir()
		env = append(env, "DATABASE_URL=", "DAKENH_DATA_DIR="+dir)
		open = func() *database.DB {
			db, err := database.Open(context.Background(), database.Config{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}
	}

	srv := startChild(t, env)
	var up struct{ SignUp struct{ Token string } }
	srv.graphql(t, "", `mutation { signUp(input: {organizationName: "Chaos", name: "Chủ", email: "chu@chaos.vn", password: "mat-khau-dai-chaos"}) { token } }`, nil, &up)
	srv.graphql(t, up.SignUp.Token, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, nil)

	const users, perUser = 20, 20
	type post struct {
		body []byte
		sig  string
	}
	var posts []post
	for i := range users * perUser {
		user := fmt.Sprint("chaos-user-", i%users)
		body, sig := zfake.SignedEvent(testZaloAppID, testZaloSecret, map[string]any{
			"app_id": testZaloAppID, "event_name": "user_send_text",
			"timestamp": strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10),
			"sender":    map[string]any{"id": user}, "recipient": map[string]any{"id": testOAID},
			"message": map[string]any{"msg_id": fmt.Sprint("chaos-msg-", i), "text": fmt.Sprint("tin ", i)},
		})
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
					req, _ := http.NewRequest(http.MethodPost, srv.url+"/webhooks/zalo", bytes.NewReader(posts[i].body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set(zalofake.SignatureHeader, posts[i].sig)
					resp, err := http.DefaultClient.Do(req)
					ok := err == nil && resp.StatusCode == http.StatusOK
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					if !ok {
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
	var token struct{ Login struct{ Token string } }
	srv.graphql(t, "", `mutation { login(email: "chu@chaos.vn", password: "mat-khau-dai-chaos") { token } }`, nil, &token)
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
		srv.graphql(t, token.Login.Token, `{ conversations(first: 50) { edges { node { messages { totalCount } } } } }`, nil, &out)
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
