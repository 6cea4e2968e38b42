package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWorkerLinesNameTheWorker checks that a background worker's failure
// is one JSON line naming the worker.
func TestWorkerLinesNameTheWorker(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	e.app.every(ctx, "probe", time.Hour, func(context.Context) error { return errors.New("the probe failed") })
	// The line is written after the round returns; wait for it.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(e.logText(), `"worker failed"`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed round was never logged")
		}
	}
	cancel()
	e.app.workers.wg.Wait()
	for _, line := range strings.Split(strings.TrimSpace(e.logText()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if m["msg"] == "worker failed" {
			if m["worker"] != "probe" || m["err"] != "the probe failed" {
				t.Fatalf("the worker's line is %v", m)
			}
			return
		}
	}
	t.Fatalf("no line for the failed worker:\n%s", e.logText())
}
