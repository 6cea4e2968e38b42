package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcPercent is the server's GOGC. An inbox page allocates about 30 times
// the JSON it returns, nearly all of it garbage by the time the response is
// written, while the live heap is small (tens of MB without subscriptions):
// letting the heap grow to five times the live heap between collections
// (instead of Go's default two) cut the collector's share of the page's
// CPU, measured with the benchmark harness (BENCHMARKS.md, GC settings).
// The memory limit below keeps that headroom from growing without bound.
const gcPercent = 400

// memoryLimitShare is the part of the memory available to the process that
// the Go runtime aims to stay under (GOMEMLIMIT): past it the collector runs
// as often as needed, whatever gcPercent says.
const memoryLimitShare = 0.7

// tuneGC applies gcPercent and a memory limit unless the operator set
// GOGC or GOMEMLIMIT, which the runtime has then applied already.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		if avail := availableMemory(); avail > 0 {
			debug.SetMemoryLimit(int64(float64(avail) * memoryLimitShare))
		}
	}
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
