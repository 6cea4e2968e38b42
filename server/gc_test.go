package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
)

func TestTuneGC(t *testing.T) {
	gogc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { gcAdapting.Store(false); debug.SetGCPercent(gogc); debug.SetMemoryLimit(limit) })

	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(gcPercent); got != gcPercent {
		t.Errorf("GOGC = %d, want %d", got, gcPercent)
	}
	// After a collection, GOGC follows the live heap (the test binary's
	// is far below 16 MiB, so it stays at gcPercent); a ballast of 32 MiB
	// brings it down to a 64 MiB headroom.
	runtime.GC()
	waitGOGC(t, gcPercent)
	ballast := make([]*[1 << 20]byte, 32)
	for i := range ballast {
		ballast[i] = new([1 << 20]byte)
	}
	runtime.GC()
	runtime.GC() // the cleanup reads the live heap of the collection that ran it
	want := gcPercentFor(liveHeap())
	if want >= gcPercent {
		t.Fatalf("a live heap of %d B would keep GOGC %d", liveHeap(), want)
	}
	waitGOGC(t, want)
	runtime.KeepAlive(ballast)
	ballast = nil
	gcAdapting.Store(false)
	debug.SetGCPercent(100)
	if got := debug.SetMemoryLimit(math.MaxInt64); got <= 0 || got == math.MaxInt64 || got >= availableMemory() {
		t.Errorf("memory limit = %d, want a share of %d", got, availableMemory())
	}

	// What the operator set (and the runtime applied) stays.
	tuneGC(func(k string) string { return map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, GOGC = %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, the limit = %d, want it left alone", got)
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, gcPercent},
		{8 << 20, gcPercent},  // an inbox's live heap: 32 MiB of garbage allowed
		{16 << 20, gcPercent}, // 64 MiB
		{32 << 20, 200},       // 64 MiB, no more
		{48 << 20, 130},
		{64 << 20, gcMinPercent},
		{1 << 30, gcMinPercent}, // the live heap's size, as Go's default
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// liveHeap is the live heap the latest collection found.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGOGC waits until GOGC is want, collecting meanwhile; one that never
// gets there is caught by go test's -timeout.
func waitGOGC(t *testing.T, want int) {
	t.Helper()
	for gcCurrent.Load() != int64(want) {
		runtime.GC()
		runtime.Gosched()
	}
	if got := debug.SetGCPercent(want); got != want {
		t.Fatalf("GOGC = %d, want %d", got, want)
	}
}

func TestDebugServesTheProfiler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := serveDebug(ctx, addr, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("status %d: %.200s", resp.StatusCode, body)
	}
}
