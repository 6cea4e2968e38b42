// Command attacks sends the requests that once let one client exhaust a
// dakenh server's CPU or memory, one at a time, and prints how long each
// took to answer and what it answered. BENCHMARKS.md ("Attack queries")
// records its output for a server built from before and after the limits.
//
//	go build -o /tmp/dakenh ./server && go run ./bench/attacks -bin /tmp/dakenh
//
// It starts the binary on the embedded database in a temporary directory,
// signs up, imports 100 customers sharing two tags (so nested connections
// have something to multiply), then sends each attack with a client that
// gives up after -timeout. A server still busy with an attack the client
// gave up on is killed and restarted, so that it does not slow the next
// attack (or the rest of the machine) down.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// attack is one hostile request.
type attack struct {
	name  string
	query string
	vars  map[string]any
}

func attacks() []attack {
	// 26 fragments, each spreading the previous one twice: 2^26 fields.
	var frag strings.Builder
	frag.WriteString("query Chain { me { ...F26 } }\nfragment F0 on User { id }\n")
	for i := 1; i <= 26; i++ {
		fmt.Fprintf(&frag, "fragment F%d on User { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("cus_%026d", i)
	}
	tags := make([]string, 10_000)
	for i := range tags {
		tags[i] = "t" + strconv.Itoa(i)
	}
	nested := "{ customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id tags { customers(first: 100) { edges { node { id name } } } } } } } } } } } }"
	return []attack{
		{"26 chained fragments, each spreading the previous twice", frag.String(), nil},
		{"10,000 repeated `me { id }`", "{ " + strings.Repeat("me { id } ", 10_000) + "}", nil},
		{"nested connections, first: 100 three deep", nested, nil},
		{"`nodes(ids:)` with 100,000 IDs", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}},
		{"`search` with a 30 MB string", `query($s: String) { customers(search: $s, first: 10) { edges { node { id } } } }`, map[string]any{"s": strings.Repeat("a", 30<<20)}},
		{"CSV import of one row with 10,000 tags", `mutation($csv: String!) { importCustomers(csv: $csv) { imported errors { message } } }`,
			map[string]any{"csv": "name,phone,tags\nMany Tags,0901234567," + strings.Join(tags, ";") + "\n"}},
	}
}

func main() {
	bin := flag.String("bin", "", "dakenh server `binary` to attack")
	only := flag.String("only", "", "send only the attacks whose name contains this `text`")
	timeout := flag.Duration("timeout", 30*time.Second, "how long the client waits for one answer")
	flag.Parse()
	if *bin == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*bin, *only, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "attacks:", err)
		os.Exit(1)
	}
}

func run(bin, only string, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "dakenh-attacks")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := start(bin, dir)
	if err != nil {
		return err
	}
	defer func() { s.stop() }()
	token, err := setup(s.url)
	if err != nil {
		return err
	}
	fmt.Println("| Attack | Answer time | HTTP | Code | Response bytes |")
	fmt.Println("|---|---|---|---|---|")
	for _, a := range attacks() {
		if !strings.Contains(a.name, only) {
			continue
		}
		began := time.Now()
		status, code, size, err := send(s.url, token, a, timeout)
		took := time.Since(began)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Printf("| %s | >%s | — | — | — |\n", a.name, timeout)
			// The server may still be at work; start afresh.
			s.stop()
			if s, err = start(bin, dir); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("%s: %w", a.name, err)
		default:
			fmt.Printf("| %s | %s | %d | %s | %d |\n", a.name, took.Round(time.Millisecond), status, code, size)
		}
	}
	return nil
}

// setup signs up and imports 100 customers that share two tags.
func setup(url string) (string, error) {
	var out struct {
		Data struct{ SignUp struct{ Token string } }
	}
	if err := gql(url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { token } }`, map[string]any{"in": map[string]any{
		"organizationName": "Attack", "name": "Owner", "email": "owner@attack.vn", "password": "correct horse battery",
	}}, &out); err != nil {
		return "", err
	}
	var csv strings.Builder
	csv.WriteString("name,phone,tags\n")
	for i := range 100 {
		fmt.Fprintf(&csv, "Customer %d,09%08d,vip;hanoi\n", i, i)
	}
	var imp struct {
		Data struct{ ImportCustomers struct{ Imported int } }
	}
	if err := gql(url, out.Data.SignUp.Token, `mutation($csv: String!) { importCustomers(csv: $csv) { imported } }`, map[string]any{"csv": csv.String()}, &imp); err != nil {
		return "", err
	}
	if imp.Data.ImportCustomers.Imported != 100 {
		return "", fmt.Errorf("imported %d customers, not 100", imp.Data.ImportCustomers.Imported)
	}
	return out.Data.SignUp.Token, nil
}

func gql(url, token, query string, vars map[string]any, v any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(raw, []byte(`"errors"`)) {
		return fmt.Errorf("%d %s", resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, v)
}

// send posts one attack and returns the HTTP status, the first error's
// code and the response's size.
func send(url, token string, a attack, timeout time.Duration) (int, string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"query": a.query, "variables": a.vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", 0, err
	}
	var out struct {
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	_ = json.Unmarshal(raw, &out)
	code := "—"
	if len(out.Errors) > 0 {
		code = out.Errors[0].Extensions.Code
	}
	return resp.StatusCode, code, len(raw), nil
}

// server is the dakenh process under attack.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func start(bin, dir string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"DAKENH_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"DAKENH_DATA_DIR="+filepath.Join(dir, "data"),
		"DAKENH_SECRET=attack-secret-attack-secret-attack-secret",
		"DAKENH_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited; see its log in %s", dir)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, errors.New("server not ready after 2 minutes")
}

// stop kills the server's process group and waits for it to exit.
func (s *server) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}
