package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

var (
	pgbenchTPS     = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	pgbenchLatency = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// pgbench runs script (pgbench's script language) with clients
// connections for d on the benchmark database, with prepared statements,
// and returns its transactions. vars are passed with -D.
func (h *harness) pgbench(ctx context.Context, name, script string, clients int, d time.Duration, vars map[string]string) (result, error) {
	return h.pgbenchOn(ctx, h.dbURL, name, script, clients, d, vars)
}

// pgbenchOn is pgbench on the database at url.
func (h *harness) pgbenchOn(ctx context.Context, url, name, script string, clients int, d time.Duration, vars map[string]string) (result, error) {
	path := filepath.Join(h.o.cache, name+".sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return result{}, err
	}
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)),
		"-T", strconv.Itoa(max(1, int(d.Seconds()))), "-f", path}
	for k, v := range vars {
		args = append(args, "-D", k+"="+v)
	}
	args = append(args, url)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("pgbench: %w\n%s", err, out.String())
	}
	m := pgbenchTPS.FindSubmatch(out.Bytes())
	if m == nil {
		return result{}, fmt.Errorf("pgbench printed no tps:\n%s", out.String())
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	r := result{n: int(tps * d.Seconds()), elapsed: d, load: load1()}
	if l := pgbenchLatency.FindSubmatch(out.Bytes()); l != nil {
		avg, _ := strconv.ParseFloat(string(l[1]), 64)
		r.p50 = time.Duration(avg * float64(time.Millisecond)) // pgbench reports the mean
	}
	return r, nil
}

// scratchCopy returns the URL of a fresh copy of the benchmark database
// (dropped when the harness closes), for benchmarks that write. Nothing
// may be connected to the benchmark database meanwhile.
func (h *harness) scratchCopy(ctx context.Context, name string) (string, error) {
	h.stopProcs()
	db := h.o.dbName + "_" + name
	if _, err := h.admin.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, db)); err != nil {
		return "", err
	}
	if _, err := h.admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %q TEMPLATE %q`, db, h.o.dbName)); err != nil {
		return "", err
	}
	h.cleanup(func() {
		_, _ = h.admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, db))
	})
	return withDatabase(h.o.adminURL, db)
}
