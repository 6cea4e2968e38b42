package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/database"
)

// helperServerEnv makes the test binary run the server's main instead of
// its tests (see TestHelperServerProcess).
const helperServerEnv = "DAKENH_TEST_RUN_SERVER"

// TestHelperServerProcess is not a test: run by serverProcess in a child
// process, it starts the server from the environment as the binary would.
func TestHelperServerProcess(t *testing.T) {
	if os.Getenv(helperServerEnv) != "1" {
		t.Skip("runs only as the child process of a server process test")
	}
	main()
}

// serverProcess returns the command that runs the server in a child
// process with env added to the environment.
func serverProcess(ctx context.Context, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperServerProcess$")
	cmd.Env = append(os.Environ(), append([]string{helperServerEnv + "=1"}, env...)...)
	return cmd
}

// TestSecondProcessOnTheDataDirRefusesToStart: the embedded database
// serves one process. While a server holds the data directory, a second
// server process on it exits at once, saying why, instead of sharing the
// SQLite file.
func TestSecondProcessOnTheDataDirRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	first, err := database.Open(context.Background(), database.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	// The deadline only keeps a broken build from hanging: the child
	// refuses before it listens.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var out bytes.Buffer
	cmd := serverProcess(ctx,
		"DATABASE_URL=", "DAKENH_DATA_DIR="+dir, "DAKENH_ADDR=127.0.0.1:0",
		"DAKENH_SECRET=test-secret-test-secret-test-secret")
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("the second process: %v, want a failed exit\n%s", err, out.String())
	}
	for _, want := range []string{"in use by another dakenh process", "PostgreSQL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the second process's output does not say %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "dakenh listening") {
		t.Errorf("the second process listened:\n%s", out.String())
	}
}
