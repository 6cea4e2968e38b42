package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// minimalTransaction is what processing one inbound message to an
// existing conversation must do at least, as one transaction of six
// statements on dakenh's tables: find the sender's identity and open
// conversation, insert the message, bump the conversation's counters and
// last message, take two sequence numbers of the organization's log,
// append its two events (the message, the conversation's change), and
// store the provider event deduplicated and processed.
const minimalTransaction = `\set u random(0, 19999)
BEGIN;
SELECT c.id AS conv, c.channel_id AS ch FROM identities i
  JOIN conversations c ON c.customer_id = i.customer_id AND c.channel_id = i.channel_id AND c.status <> 'RESOLVED'
  WHERE i.channel_id IN (SELECT id FROM channels WHERE organization_id = :org) AND i.external_id = 'bench-user-' || :u \gset
INSERT INTO messages (id, created_at, updated_at, organization_id, conversation_id, channel_id, direction, kind, text,
  provider_message_id, status, sender_type, attempts, sent_at)
  VALUES ('msg_' || md5(random()::text), now(), now(), :org, :conv, :ch, 'INBOUND', 'TEXT', 'Cho em hỏi giá bó hoa này',
  'pgbench-' || md5(random()::text), 'RECEIVED', 'CUSTOMER', 0, now()) RETURNING id AS msg \gset
UPDATE conversations SET unread_count = unread_count + 1, last_message_at = now(), last_inbound_at = now(),
  last_message_id = :msg, updated_at = now() WHERE id = :conv;
UPDATE organizations SET event_seq = event_seq + 2 WHERE id = :org RETURNING event_seq AS seq \gset
INSERT INTO events (id, seq, topic, type, channel_id, conversation_id, message_id, created_at, organization_id) VALUES
  ('evt_' || md5(random()::text), :seq - 1, 'MESSAGE', 'CREATED', :ch, :conv, :msg, now(), :org),
  ('evt_' || md5(random()::text), :seq, 'CONVERSATION', 'UPDATED', :ch, :conv, NULL, now(), :org);
INSERT INTO webhook_events (id, provider, dedupe_key, event_name, organization_id, channel_id, payload, received_at, processed_at, attempts)
  VALUES ('whe_' || md5(random()::text), 'ZALO', 'pgbench:' || md5(random()::text), 'user_send_text', :org, :ch, '\x7b7d', now(), now(), 0)
  ON CONFLICT DO NOTHING;
END;
`

// minimalStatements is the minimal transaction's statement count.
const minimalStatements = 6

var benchMetric = regexp.MustCompile(`([0-9.e+]+) ([A-Za-z0-9/_%-]+)`)

// benchProcess measures inbound processing: dakenh's webhook processor
// (server/bench_inbox_test.go's BenchmarkWebhookIngestion: 5,000 stored
// Zalo messages processed by the server's worker, then 5,000 more by four
// processors at once, as four replicas would) against the minimal
// transaction under pgbench with 1 and 4 clients, in interleaved rounds.
func benchProcess(ctx context.Context, h *harness) error {
	ds, err := h.postgresData(ctx)
	if err != nil {
		return err
	}
	// pgbench writes; it writes into a copy, so the data set stays what
	// dakenh wrote.
	scratch, err := h.scratchCopy(ctx, "process")
	if err != nil {
		return err
	}
	vars := map[string]string{"org": string(ds.orgID)}
	var dk1, dk4, stmts []float64
	var lite1, lite4, liteStmts []float64 // the same on SQLite, with -sqlite
	pg1 := &contender{name: "minimal transaction, pgbench, 1 client"}
	pg4 := &contender{name: "minimal transaction, pgbench, 4 clients"}
	for r := range h.o.rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d (load %s)\n", r+1, h.o.rounds, loadAvg())
		for _, c := range []struct {
			c       *contender
			clients int
		}{{pg1, 1}, {pg4, 4}} {
			res, err := h.pgbenchOn(ctx, scratch, "minimal-transaction", minimalTransaction, c.clients, h.o.duration, vars)
			if err != nil {
				return err
			}
			c.c.results = append(c.c.results, res)
			fmt.Fprintf(os.Stderr, "  %-42s %8.1f/s\n", c.c.name, res.perSecond())
		}
		m, err := h.goBench(ctx, "WebhookIngestion", "")
		if err != nil {
			return err
		}
		dk1, dk4, stmts = append(dk1, m["processed-events/s"]), append(dk4, m["processed-events/s-4procs"]), append(stmts, m["process-stmts/event"])
		fmt.Fprintf(os.Stderr, "  dakenh: %.1f events/s (1 worker), %.1f/s (4), %.1f statements/event\n", dk1[r], dk4[r], stmts[r])
		if h.o.sqlite {
			m, err := h.goBench(ctx, "WebhookIngestion", "sqlite")
			if err != nil {
				return err
			}
			lite1, lite4, liteStmts = append(lite1, m["processed-events/s"]), append(lite4, m["processed-events/s-4procs"]), append(liteStmts, m["process-stmts/event"])
			fmt.Fprintf(os.Stderr, "  dakenh on SQLite: %.1f events/s (1 worker), %.1f/s (4), %.1f statements/event\n", lite1[r], lite4[r], liteStmts[r])
		}
	}
	fmt.Printf("Inbound processing, PostgreSQL (dakenh: BenchmarkWebhookIngestion on a fresh database; minimal transaction: %d statements on the data set)\n", minimalStatements)
	fmt.Printf("  dakenh, 1 worker         %s events/s (rounds %v)\n", f0(median(dk1)), f0s(dk1))
	fmt.Printf("  dakenh, 4 workers        %s events/s (rounds %v)\n", f0(median(dk4)), f0s(dk4))
	fmt.Printf("  %-24s %s tx/s (rounds %v)\n", "pgbench, 1 client", f0(pg1.rate()), f0s(rates(pg1)))
	fmt.Printf("  %-24s %s tx/s (rounds %v)\n", "pgbench, 4 clients", f0(pg4.rate()), f0s(rates(pg4)))
	fmt.Printf("  dakenh statements per event: %.1f (minimal: %d; goal ≤ 8)\n", median(stmts), minimalStatements)
	fmt.Printf("  ratio, 1 worker / 1 client:   %.2f×   (goal ≥ 0.5)\n", median(dk1)/pg1.rate())
	fmt.Printf("  ratio, 4 workers / 4 clients: %.2f×   (goal ≥ 0.5)\n", median(dk4)/pg4.rate())
	if h.o.sqlite {
		fmt.Printf("  dakenh on SQLite, 1 worker   %s events/s (rounds %v)\n", f0(median(lite1)), f0s(lite1))
		fmt.Printf("  dakenh on SQLite, 4 workers  %s events/s (rounds %v)\n", f0(median(lite4)), f0s(lite4))
		fmt.Printf("  dakenh on SQLite statements per event: %.1f\n", median(liteStmts))
		fmt.Printf("  ratio, SQLite / PostgreSQL, 1 worker: %.2f×   (goal ≥ 1)\n", median(lite1)/median(dk1))
	}
	fmt.Printf("load average at the end: %s\n\n", loadAvg())
	return nil
}

// goBench runs one of the server package's benchmarks once on PostgreSQL
// (or SQLite when dialect is "sqlite") and returns its reported metrics;
// serverEnv (KEY=VALUE …) is the environment added to the server the
// benchmark starts, for those that start one.
func (h *harness) goBench(ctx context.Context, name, dialect string, serverEnv ...string) (map[string]float64, error) {
	if dialect == "" {
		dialect = "postgres"
	}
	var out bytes.Buffer
	cmd := h.command(ctx, "go", "test", "./server", "-run", "^$", "-bench", name, "-benchtime", "1x", "-timeout", "30m")
	cmd.Env = append(os.Environ(), "DAKENH_TEST_DB="+dialect, "DAKENH_BENCH_SERVER_ENV="+strings.Join(serverEnv, " "))
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w\n%s", name, err, out.String())
	}
	m := map[string]float64{}
	for line := range bytes.Lines(out.Bytes()) {
		if !bytes.HasPrefix(line, []byte("Benchmark")) {
			continue
		}
		for _, kv := range benchMetric.FindAllSubmatch(line, -1) {
			v, err := strconv.ParseFloat(string(kv[1]), 64)
			if err == nil {
				m[string(kv[2])] = v
			}
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("go test -bench %s reported nothing:\n%s", name, out.String())
	}
	return m, nil
}

func rates(c *contender) []float64 {
	v := make([]float64, len(c.results))
	for i, r := range c.results {
		v[i] = r.perSecond()
	}
	return v
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func f0s(v []float64) []string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = f0(x)
	}
	return s
}
