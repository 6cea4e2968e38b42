package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// contender is one thing measured in every round.
type contender struct {
	name string
	// run measures one round; warm, when set, is called once before the
	// first round to warm caches and JITs, unmeasured.
	run     func() (result, error)
	warm    func() error
	results []result
}

// rounds runs every contender once per round, in order, so that whatever
// else loads the machine spreads over all of them.
func rounds(n int, cs []*contender) error {
	for _, c := range cs {
		if c.warm != nil {
			if err := c.warm(); err != nil {
				return fmt.Errorf("%s (warm-up): %w", c.name, err)
			}
		}
	}
	for r := range n {
		fmt.Fprintf(os.Stderr, "round %d/%d (load %s)\n", r+1, n, loadAvg())
		for _, c := range cs {
			res, err := c.run()
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.results = append(c.results, res)
			fmt.Fprintf(os.Stderr, "  %-34s %9.1f/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.2f ms/op  load %.2f\n",
				c.name, res.perSecond(), ms(res.p50), ms(res.p99), res.cpuPerOp(), res.load)
		}
	}
	return nil
}

// median of the values f picks from the contender's rounds.
func (c *contender) median(f func(result) float64) float64 {
	v := make([]float64, len(c.results))
	for i, r := range c.results {
		v[i] = f(r)
	}
	return median(v)
}

func (c *contender) rate() float64 { return c.median(result.perSecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// table prints each contender's rounds and medians.
func table(title string, cs []*contender, unit string) {
	fmt.Printf("%s\n", title)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "contender\t%s (rounds)\tmedian\tp50 ms\tp99 ms\tCPU ms/op\tload\t\n", unit)
	for _, c := range cs {
		var each []string
		for _, r := range c.results {
			each = append(each, fmt.Sprintf("%.0f", r.perSecond()))
		}
		cpu := "–"
		if c.median(func(r result) float64 { return float64(r.cpu) }) > 0 {
			cpu = fmt.Sprintf("%.2f", c.median(result.cpuPerOp))
		}
		p99 := "–" // pgbench reports a mean latency only
		if v := c.median(func(r result) float64 { return ms(r.p99) }); v > 0 {
			p99 = fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%.2f\t%s\t%s\t%s\t\n", c.name, strings.Join(each, " "), c.rate(),
			c.median(func(r result) float64 { return ms(r.p50) }), p99, cpu, loadRange(c))
	}
	w.Flush()
	fmt.Println()
}

// loadRange is the lowest and highest 1-minute load seen at the end of the
// contender's runs.
func loadRange(c *contender) string {
	lo, hi := 1e9, 0.0
	for _, r := range c.results {
		lo, hi = min(lo, r.load), max(hi, r.load)
	}
	return fmt.Sprintf("%.1f–%.1f", lo, hi)
}

// ratio prints a / b with what it compares and the goal it is held to.
func ratio(what string, a, b *contender, goal string) {
	fmt.Printf("  %-58s %6.2f×   (%s)\n", what, a.rate()/b.rate(), goal)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
