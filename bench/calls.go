package main

import (
	"context"
	"fmt"
	"os"
)

// benchCalls measures the call history: server/bench_calls_test.go's
// BenchmarkCallHistory, calls(first: 50, search:) through HTTP on 100,000
// calls on PostgreSQL, in interleaved rounds, with its statement count for
// pages of 5 and 50 (eager loading keeps it flat).
func benchCalls(ctx context.Context, h *harness) error {
	var p50, p99, s5, s50 []float64
	for r := range h.o.rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d (load %s)\n", r+1, h.o.rounds, loadAvg())
		m, err := h.goBench(ctx, "CallHistory", "")
		if err != nil {
			return err
		}
		p50, p99 = append(p50, m["p50-ms"]), append(p99, m["p99-ms"])
		s5, s50 = append(s5, m["stmts-first5"]), append(s50, m["stmts-first50"])
		fmt.Fprintf(os.Stderr, "  p50 %.2f ms, p99 %.2f ms, statements %v/%v\n", p50[r], p99[r], s5[r], s50[r])
	}
	fmt.Println("Call history, PostgreSQL: calls(first: 50, search: \"nguyen thi\") on 100,000 calls (BenchmarkCallHistory)")
	fmt.Printf("  p50 %.2f ms, p99 %.2f ms (medians of %d rounds)\n", median(p50), median(p99), len(p50))
	fmt.Printf("  statements: %.0f for first: 5, %.0f for first: 50\n", median(s5), median(s50))
	fmt.Printf("load average at the end: %s\n\n", loadAvg())
	return nil
}
