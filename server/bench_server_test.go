package main

// benchServer runs the real server as a separate process for the
// benchmarks that measure it from outside: its memory, CPU, file
// descriptors and answers, with clients that do not share its runtime.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

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
	// Settings of the server under test beside the defaults, e.g.
	// DAKENH_BENCH_SERVER_ENV='GOGC=100' (the harness's -variant).
	env = append(env, strings.Fields(os.Getenv("DAKENH_BENCH_SERVER_ENV"))...)
	if addr := os.Getenv("DAKENH_BENCH_DEBUG_ADDR"); addr != "" {
		// The profiler of the server under test, e.g. for
		// go tool pprof http://<addr>/debug/pprof/heap during the idle window.
		env = append(env, "DAKENH_DEBUG_ADDR="+addr)
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
