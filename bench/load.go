package main

// The load generator is written here in Go rather than taken from wrk or
// hey: every contender is then driven by the same client code on the same
// connections, each answer is checked (status 200, no GraphQL errors), and
// the latencies come back without parsing another tool's output. It costs
// about as much CPU per request as wrk does, and that cost lands on every
// contender alike.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is one contender's run.
type result struct {
	n        int           // requests (or transactions) completed
	elapsed  time.Duration // how long the run took
	p50, p99 time.Duration
	cpu      time.Duration // the server's CPU time during the run; 0 if unknown
	load     float64       // the 1-minute load average at the end
}

func (r result) perSecond() float64 { return float64(r.n) / r.elapsed.Seconds() }

// cpuPerOp is the server's CPU time per request in milliseconds.
func (r result) cpuPerOp() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / 1000 / float64(r.n)
}

// httpLoad posts body to url from clients keep-alive connections for d and
// returns what was answered. Any answer other than 200 without "errors" in
// it fails the run.
func httpLoad(ctx context.Context, url, token string, body []byte, clients int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var (
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, 4096)
			buf := bytes.NewBuffer(make([]byte, 0, 64<<10))
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					buf.Reset()
					_, err = io.Copy(buf, resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || bytes.Contains(buf.Bytes(), []byte(`"errors"`))) {
						err = fmt.Errorf("status %d: %.500s", resp.StatusCode, buf.String())
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	r := result{n: len(lat), elapsed: time.Since(start), load: load1()}
	slices.Sort(lat)
	r.p50, r.p99 = pct(lat, 0.50), pct(lat, 0.99)
	return r, nil
}

// pct returns the p-th percentile (0 < p ≤ 1) of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// gqlBody is a GraphQL request body.
func gqlBody(query string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"query":`)
	b.Write(mustJSON(query))
	b.WriteString(`}`)
	return b.Bytes()
}
