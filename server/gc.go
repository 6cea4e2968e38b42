package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
)

// gcPercent is the server's GOGC while its live heap is small. An inbox
// page allocates about 30 times the JSON it returns, nearly all of it
// garbage by the time the response is written, while the live heap is
// small (tens of MB without subscriptions): letting the heap grow to five
// times the live heap between collections (instead of Go's default two)
// cut the collector's share of the page's CPU, measured with the benchmark
// harness (BENCHMARKS.md, GC settings). The memory limit below keeps that
// headroom from growing without bound.
const gcPercent = 400

// gcHeadroom caps the garbage gcPercent lets accumulate between
// collections once the live heap is large: past gcHeadroom/4 (16 MiB) of
// live heap, which is thousands of idle subscriptions holding a few KB
// each rather than requests' garbage, the collector runs every gcHeadroom
// allocated, or every live heap's worth (Go's default, gcMinPercent) when
// that is more. The collector's CPU per allocated byte grows as the
// headroom shrinks relative to the live heap, but with so many idle
// sockets the memory is what runs out first: four times their live heap
// in garbage is most of what each one costs (BENCHMARKS.md, "Fan-out: a
// dispatcher and no goroutine per idle stream").
const (
	gcHeadroom   = 64 << 20
	gcMinPercent = 100
)

// memoryLimitShare is the part of the memory available to the process that
// the Go runtime aims to stay under (GOMEMLIMIT): past it the collector runs
// as often as needed, whatever gcPercent says.
const memoryLimitShare = 0.7

// tuneGC applies gcPercent, adapted to the live heap after each collection
// (see gcPercentFor), and a memory limit, unless the operator set GOGC or
// GOMEMLIMIT, which the runtime has then applied already.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		gcCurrent.Store(gcPercent)
		debug.SetGCPercent(gcPercent)
		if !gcAdapting.Swap(true) {
			watchGC()
		}
	}
	if getenv("GOMEMLIMIT") == "" {
		if avail := availableMemory(); avail > 0 {
			debug.SetMemoryLimit(int64(float64(avail) * memoryLimitShare))
		}
	}
}

// gcPercentFor is the GOGC for a live heap of live bytes: gcPercent, but
// for at most gcHeadroom of garbage, and never below gcMinPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcPercent
	}
	p := uint64(gcHeadroom) * 100 / live
	return int(min(gcPercent, max(gcMinPercent, p/10*10)))
}

var (
	// gcAdapting says watchGC runs; clearing it stops it at the next
	// collection.
	gcAdapting atomic.Bool
	// gcCurrent is the GOGC watchGC last set.
	gcCurrent atomic.Int64
)

// gcSentinel is allocated to be collected: its cleanup runs once per
// collection. It holds a pointer so that it is not batched with other
// small objects.
type gcSentinel struct{ _ *byte }

// watchGC sets GOGC from the live heap the latest collection found, after
// every collection.
func watchGC() {
	runtime.AddCleanup(&gcSentinel{}, func(struct{}) {
		if !gcAdapting.Load() {
			return
		}
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := int64(gcPercentFor(sample[0].Value.Uint64())); gcCurrent.Swap(p) != p {
				debug.SetGCPercent(int(p))
			}
		}
		watchGC()
	}, struct{}{})
}

// availableMemory is the process's memory: its cgroup's limit when it has
// one (a container), else the machine's RAM; 0 if unknown.
func availableMemory() int64 {
	if raw, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
