package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

// harness is what every benchmark shares: the options, the built dakenh
// binary, the benchmark database and the processes started, which close
// stops.
type harness struct {
	o      options
	root   string // the module root
	commit string
	bin    string // the dakenh server binary
	dbURL  string // the benchmark database
	admin  *sql.DB

	mu       sync.Mutex
	procs    []*proc
	cleanups []func()
}

func newHarness(ctx context.Context, o options) (*harness, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return nil, err
	}
	h := &harness{o: o, root: root, commit: commit(root)}
	if h.admin, err = sql.Open("postgres", o.adminURL); err != nil {
		return nil, err
	}
	if err := h.admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("PostgreSQL at -pg: %w", err)
	}
	h.dbURL, err = withDatabase(o.adminURL, o.dbName)
	if err != nil {
		return nil, err
	}
	h.bin = filepath.Join(o.cache, "dakenh")
	fmt.Fprintf(os.Stderr, "building dakenh into %s\n", h.bin)
	if err := h.command(ctx, "go", "build", "-o", h.bin, "./server").Run(); err != nil {
		return nil, fmt.Errorf("go build ./server: %w", err)
	}
	return h, nil
}

// header prints what the figures depend on.
func (h *harness) header() {
	fmt.Printf("dakenh benchmark harness — commit %s, %s, %d CPUs, %s\n", h.commit, runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("load average at start: %s\n", loadAvg())
	fmt.Printf("rounds %d × %v per contender (interleaved), %d clients\n\n", h.o.rounds, h.o.duration, h.o.clients)
}

// close stops every process the harness started and runs the cleanups.
func (h *harness) close() {
	h.stopProcs()
	h.mu.Lock()
	cleanups := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if h.admin != nil {
		h.admin.Close()
	}
}

// stopProcs stops the processes started so far, newest first.
func (h *harness) stopProcs() {
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
}

// cleanup registers f to run when the harness closes.
func (h *harness) cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}

// command returns a command run from the module root with its output on
// the harness's stderr.
func (h *harness) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = h.root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

// proc is a server process the harness started.
type proc struct {
	name string
	envs []string // the settings the harness gave it
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	log  string
	done chan struct{}
	err  error
	once sync.Once
}

// start runs a server process on a free port (env gets PORT=<port>, and
// args may name it as {port}) and waits until GET url+ready answers 200.
func (h *harness) start(ctx context.Context, name string, env []string, ready string, bin string, args ...string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
	}
	for i, e := range env {
		env[i] = strings.ReplaceAll(e, "{port}", strconv.Itoa(port))
	}
	logPath := filepath.Join(h.o.cache, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = h.root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, envs: env, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(p.url + ready)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited: %v\n%s", name, p.err, p.logTail())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not ready after 2 minutes\n%s", name, p.logTail())
		}
	}
}

// env returns the value of a setting the harness gave the process.
func (p *proc) env(name string) string {
	for _, e := range p.envs {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// pid is the server's process ID. A process started through a shell or
// npx may have children; the harness starts the real binaries directly.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop ends the process group with SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
			<-p.done
		}
	})
}

func (p *proc) logTail() string {
	raw, _ := os.ReadFile(p.log)
	if len(raw) > 3000 {
		raw = raw[len(raw)-3000:]
	}
	return string(raw)
}

// cpu returns the user+system CPU time the process has used.
func (p *proc) cpu() time.Duration { return cpuTime(p.pid()) }

// rssKB returns the process's resident memory in kB.
func (p *proc) rssKB() int64 { return procStatus(p.pid(), "VmRSS") }

// cpuTime returns a process's user+system CPU time from /proc (USER_HZ is
// 100 on Linux).
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// procStatus returns a kB field of /proc/<pid>/status, such as VmRSS.
func procStatus(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// loadAvg is the machine's 1-, 5- and 15-minute load average.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:3], " ")
}

// load1 is the 1-minute load average.
func load1() float64 {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// moduleRoot is the directory of go.mod, found upwards from the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness inside the dakenh module (go run ./bench)")
		}
		dir = parent
	}
}

// commit is the checked-out commit, marked -dirty when files differ from it.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(st)) > 0 {
		c += "-dirty"
	}
	return c
}

// withDatabase returns the URL with its database replaced by name.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
