// Command bench is dakenh's benchmark harness: it measures dakenh side by
// side with a peer and with the database's own limit, on one machine, in one
// command, and prints medians and ratios with the load average and the
// commit. BENCHMARKS.md records its output.
//
//	go run ./bench inbox      # the inbox page: dakenh vs PostGraphile vs pgbench
//	go run ./bench process    # inbound processing vs the minimal transaction
//	go run ./bench fanout     # one event to N subscribers vs a bare broadcast
//	go run ./bench calls      # the call history page on 100,000 calls
//	go run ./bench all
//
// It builds dakenh, loads the data set (20,000 customers, 20,000
// conversations, 200,000 messages) through dakenh's own schema and code into
// one PostgreSQL database, installs the peer (PostGraphile 4, pinned in
// bench/peer/package-lock.json) into its cache directory, and alternates
// rounds of every contender so that the load other processes put on the
// machine spreads over all of them. CI does not run it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are the harness's flags.
type options struct {
	adminURL string // a PostgreSQL URL on which the harness may create databases
	dbName   string // the benchmark database
	cache    string // where the built binaries and the peer's node_modules live
	rounds   int
	duration time.Duration // of one contender's run within a round
	warmup   time.Duration
	clients  int
	reload   bool // reload the data set even when the database holds it
	sqlite   bool // also run the inbox and the processing on the embedded SQLite database
	subs     int  // fan-out subscribers
	events   int  // processing: webhook events per run
	profile  bool // save a CPU profile of dakenh's first measured run
	// variants are extra dakenh servers measured beside the default one,
	// each with its own settings (e.g. GOGC=100), on the full page.
	variants listFlag
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.adminURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server `URL` on which the benchmark database is created")
	flag.StringVar(&o.dbName, "db", "dakenh_bench", "name of the benchmark database (dropped and recreated when its data set is missing or stale)")
	flag.StringVar(&o.cache, "cache", defaultCache(), "cache `directory` for the dakenh binary and the peer's node_modules")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each contender's run in a round")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before the first round of each contender")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients of the inbox page")
	flag.BoolVar(&o.reload, "reload", false, "reload the data set even if the database already holds it")
	flag.BoolVar(&o.sqlite, "sqlite", false, "inbox and process: also measure dakenh on the embedded SQLite database (the inbox on the same data set)")
	flag.IntVar(&o.subs, "subs", 10000, "fanout: WebSocket subscribers")
	flag.BoolVar(&o.profile, "profile", false, "save CPU profiles of dakenh's first measured run of each page into the cache directory (go tool pprof <file>)")
	flag.Var(&o.variants, "variant", "inbox: also measure the full page on another dakenh process with these `settings` (space-separated KEY=VALUE, e.g. GOGC=100); fanout: also measure a server with them; repeatable")
	flag.IntVar(&o.events, "events", 2000, "process: webhook events per run")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench [flags] inbox|process|fanout|calls|all\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.Arg(0) == "broadcast-server" && flag.NArg() == 2 {
		// The fan-out benchmark's bare broadcast, run by the harness.
		if err := serveBroadcast(flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, what string) error {
	benches := map[string]func(context.Context, *harness) error{
		"inbox":   benchInbox,
		"process": benchProcess,
		"fanout":  benchFanout,
		"calls":   benchCalls,
	}
	var order []string
	switch what {
	case "all":
		order = []string{"inbox", "process", "fanout", "calls"}
	case "inbox", "process", "fanout", "calls":
		if benches[what] == nil {
			return fmt.Errorf("%s is not measured yet", what)
		}
		order = []string{what}
	default:
		return fmt.Errorf("unknown benchmark %q (inbox, process, fanout, calls or all)", what)
	}
	h, err := newHarness(ctx, o)
	if err != nil {
		return err
	}
	defer h.close()
	h.header()
	for _, name := range order {
		if err := benches[name](ctx, h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// defaultCache is $XDG_CACHE_HOME/dakenh-bench, or ~/.cache/dakenh-bench.
func defaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "dakenh-bench")
}
