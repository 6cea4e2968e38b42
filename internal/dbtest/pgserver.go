package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/lib/pq"

	"github.com/dakenh/dakenh/internal/database"
)

// EnvPostgresBin names the directory of initdb, pg_ctl and postgres for
// StartServer; unset, the Debian location of PostgreSQL 15 is used.
const EnvPostgresBin = "DAKENH_TEST_POSTGRES_BIN"

// defaultPostgresBin is where Debian's postgresql-15 package puts the
// server binaries (they are not on PATH).
const defaultPostgresBin = "/usr/lib/postgresql/15/bin"

// Server is a PostgreSQL server of one test's own, in a temporary
// directory on a free port, for tests that stop and restart the database
// under a running application. Stopping the shared test server would break
// every other test running at the same time; stopping this one breaks none.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string // the cluster's data directory
	port int
	// cred runs the binaries as the postgres OS user when the test runs as
	// root, which initdb and postgres refuse to be.
	cred *syscall.Credential
}

// StartServer initialises and starts a private PostgreSQL server, stopped
// and removed when tb ends. It skips the test, saying why, where the
// PostgreSQL server binaries are not installed.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	bin := os.Getenv(EnvPostgresBin)
	if bin == "" {
		bin = defaultPostgresBin
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			tb.Skipf("dbtest: no PostgreSQL server binaries in %s (set %s): %v", bin, EnvPostgresBin, err)
		}
	}
	s := &Server{tb: tb, bin: bin}
	owner := -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Skipf("dbtest: running as root and there is no postgres user to run a private server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		owner = uid
	}
	// Not tb.TempDir: its parent is private to this process's user, and the
	// server may run as another one.
	dir, err := os.MkdirTemp("", "dakenh-pg-")
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if owner >= 0 {
		if err := os.Chown(dir, owner, -1); err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
	}
	s.dir = filepath.Join(dir, "data")
	if out, err := s.command("initdb", "-D", s.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		tb.Fatalf("dbtest: initdb: %v\n%s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	// A small, unsafe-on-crash server: its data lives for one test.
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 40\n", s.port)
	if err := os.WriteFile(filepath.Join(s.dir, "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if owner >= 0 {
		_ = os.Chown(filepath.Join(s.dir, "postgresql.auto.conf"), owner, -1)
	}
	tb.Cleanup(func() {
		if out, err := s.command("pg_ctl", "stop", "-D", s.dir, "-m", "immediate").CombinedOutput(); err != nil && s.running() {
			tb.Errorf("dbtest: stopping the private server: %v\n%s", err, out)
		}
	})
	s.Start()
	return s
}

// command prepares one of the server's binaries, run as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = filepath.Dir(s.dir)
	return cmd
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start() {
	s.tb.Helper()
	log := filepath.Join(filepath.Dir(s.dir), "server.log")
	if out, err := s.command("pg_ctl", "start", "-w", "-t", "60", "-D", s.dir, "-l", log).CombinedOutput(); err != nil {
		tail, _ := os.ReadFile(log)
		s.tb.Fatalf("dbtest: starting the private server: %v\n%s\n%s", err, out, tail)
	}
}

// Stop stops the server the way an operator's restart or a crash does to
// its clients: every connection is terminated at once.
func (s *Server) Stop() {
	s.tb.Helper()
	if out, err := s.command("pg_ctl", "stop", "-w", "-D", s.dir, "-m", "fast").CombinedOutput(); err != nil {
		s.tb.Fatalf("dbtest: stopping the private server: %v\n%s", err, out)
	}
}

// running reports whether the server's postmaster is up.
func (s *Server) running() bool {
	return s.command("pg_ctl", "status", "-D", s.dir).Run() == nil
}

// URL returns the URL of the database named name on the server.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// Open creates a database on the server, migrates it as the application
// does, and returns it, closed when the test ends.
func (s *Server) Open() *database.DB {
	s.tb.Helper()
	ctx := context.Background()
	admin, err := sql.Open("postgres", s.URL("postgres"))
	if err != nil {
		s.tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	name := "dakenh_" + randomHex(4)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		s.tb.Fatalf("dbtest: creating a database on the private server: %v", err)
	}
	db, err := database.Open(ctx, database.Config{URL: s.URL(name)})
	if err != nil {
		s.tb.Fatalf("dbtest: opening a database on the private server: %v", err)
	}
	s.tb.Cleanup(func() { _ = db.Close() })
	return db
}

// freePort asks the kernel for a free TCP port on the loopback interface.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("finding a free port: not a TCP address")
	}
	return addr.Port, nil
}
