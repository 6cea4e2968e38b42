package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// benchFanout measures one event delivered to idle WebSocket subscribers:
// dakenh (server/bench_fanout_test.go's BenchmarkFanout: the built server
// as its own process, -subs graphql-transport-ws messageEvents
// subscriptions, then a message of a new conversation and one more in it)
// against a bare gorilla/websocket broadcast of a frame of the same size to
// as many local clients (this harness, run as its own process), in
// interleaved rounds.
func benchFanout(ctx context.Context, h *harness) error {
	if h.o.subs != 1000 && h.o.subs != 10000 {
		return fmt.Errorf("-subs must be 1000 or 10000 (BenchmarkFanout's sizes), not %d", h.o.subs)
	}
	var dk, bare []map[string]float64
	variants := make([][]map[string]float64, len(h.o.variants))
	for r := range h.o.rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d (load %s)\n", r+1, h.o.rounds, loadAvg())
		m, err := h.goBench(ctx, fmt.Sprintf("Fanout/subs=%d$", h.o.subs), "")
		if err != nil {
			return err
		}
		dk = append(dk, m)
		fmt.Fprintf(os.Stderr, "  dakenh: new conversation p50 %.0f ms p99 %.0f ms, same p50 %.0f p99 %.0f, %.1f kB/sub (load %s)\n",
			m["new-conv-p50-ms"], m["new-conv-p99-ms"], m["same-conv-p50-ms"], m["same-conv-p99-ms"], m["kB/sub"], loadAvg())
		for i, settings := range h.o.variants {
			m, err := h.goBench(ctx, fmt.Sprintf("Fanout/subs=%d$", h.o.subs), "", strings.Fields(settings)...)
			if err != nil {
				return err
			}
			variants[i] = append(variants[i], m)
			fmt.Fprintf(os.Stderr, "  dakenh %s: new conversation p50 %.0f ms p99 %.0f ms, same p50 %.0f p99 %.0f, %.1f kB/sub (load %s)\n",
				settings, m["new-conv-p50-ms"], m["new-conv-p99-ms"], m["same-conv-p50-ms"], m["same-conv-p99-ms"], m["kB/sub"], loadAvg())
		}
		b, err := h.bareBroadcast(ctx, h.o.subs)
		if err != nil {
			return err
		}
		bare = append(bare, b)
		fmt.Fprintf(os.Stderr, "  bare broadcast: p50 %.0f ms p99 %.0f ms, %.2f s CPU, %.1f kB/sub (load %s)\n",
			b["p50-ms"], b["p99-ms"], b["server-cpu-s"], b["kB/sub"], loadAvg())
	}
	med := func(ms []map[string]float64, k string) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = m[k]
		}
		return median(v)
	}
	fmt.Printf("Fan-out of one event to %d idle WebSocket subscribers (medians of %d rounds)\n", h.o.subs, h.o.rounds)
	fmt.Printf("  %-44s %9s %9s %12s %10s\n", "", "p50 ms", "p99 ms", "server CPU s", "kB/sub")
	fmt.Printf("  %-44s %9.0f %9.0f %12.2f %10.1f\n", "dakenh, message of a new conversation", med(dk, "new-conv-p50-ms"), med(dk, "new-conv-p99-ms"), med(dk, "new-conv-server-cpu-s"), med(dk, "kB/sub"))
	fmt.Printf("  %-44s %9.0f %9.0f %12.2f\n", "dakenh, next message of that conversation", med(dk, "same-conv-p50-ms"), med(dk, "same-conv-p99-ms"), med(dk, "same-conv-server-cpu-s"))
	fmt.Printf("  %-44s %9.0f %9.0f %12.2f %10.1f\n", fmt.Sprintf("bare gorilla/websocket broadcast, %d B", len(broadcastFrame)), med(bare, "p50-ms"), med(bare, "p99-ms"), med(bare, "server-cpu-s"), med(bare, "kB/sub"))
	for i, settings := range h.o.variants {
		v := variants[i]
		fmt.Printf("  %-44s %9.0f %9.0f %12.2f %10.1f\n", "dakenh "+settings+", new conversation", med(v, "new-conv-p50-ms"), med(v, "new-conv-p99-ms"), med(v, "new-conv-server-cpu-s"), med(v, "kB/sub"))
		fmt.Printf("  %-44s %9.0f %9.0f %12.2f\n", "dakenh "+settings+", next message", med(v, "same-conv-p50-ms"), med(v, "same-conv-p99-ms"), med(v, "same-conv-server-cpu-s"))
	}
	fmt.Printf("  p99 ratio, dakenh (next message) / bare:   %.2f×   (goal ≤ 1.5)\n", med(dk, "same-conv-p99-ms")/med(bare, "p99-ms"))
	fmt.Printf("  p99 ratio, dakenh (new conversation) / bare: %.2f×\n", med(dk, "new-conv-p99-ms")/med(bare, "p99-ms"))
	fmt.Printf("  dakenh RSS per idle subscriber: %.1f kB (goal ≤ 24)\n", med(dk, "kB/sub"))
	for i, settings := range h.o.variants {
		v := variants[i]
		fmt.Printf("  dakenh %s: p99 ratios %.2f× (next message), %.2f× (new conversation); %.1f kB per idle subscriber\n",
			settings, med(v, "same-conv-p99-ms")/med(bare, "p99-ms"), med(v, "new-conv-p99-ms")/med(bare, "p99-ms"), med(v, "kB/sub"))
	}
	fmt.Printf("load average at the end: %s\n\n", loadAvg())
	return nil
}

// broadcastFrame is a graphql-transport-ws "next" message of about 500
// bytes, the size of a message event with its text.
var broadcastFrame = func() []byte {
	head := `{"id":"1","type":"next","payload":{"data":{"messageEvents":{"cursor":"org_01JD3Q2V5Z8N4M7K1P6R9T0W2X:1234","type":"CREATED","message":{"id":"msg_01JD3Q2V5Z8N4M7K1P6R9T0W2X","text":"`
	tail := `"}}}}}`
	return []byte(head + strings.Repeat("x", 500-len(head)-len(tail)) + tail)
}()

// bareBroadcast starts the harness as a broadcast server, connects n
// clients, and measures their idle memory on the server and the delivery
// of two broadcasts.
func (h *harness) bareBroadcast(ctx context.Context, n int) (map[string]float64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	srv, err := h.start(ctx, "broadcast", nil, "/ready", self, "broadcast-server", "127.0.0.1:{port}")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	time.Sleep(time.Second)
	rss0 := srv.rssKB()
	wsURL := "ws" + strings.TrimPrefix(srv.url, "http") + "/ws"
	conns := make([]*websocket.Conn, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, _, err := d.Dial(wsURL, nil)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					next.Store(int64(n))
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if firstErr != nil {
		return nil, fmt.Errorf("connecting %d clients: %w", n, firstErr)
	}
	time.Sleep(2 * time.Second)
	m := map[string]float64{"kB/sub": float64(srv.rssKB()-rss0) / float64(n)}

	const rounds = 2
	received := make([][]time.Time, rounds)
	var got [rounds]atomic.Int64
	for k := range received {
		received[k] = make([]time.Time, n)
	}
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			for k := 0; k < rounds; k++ {
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received[k][i] = time.Now()
				got[k].Add(1)
			}
		})
	}
	var lat []time.Duration
	var cpu time.Duration
	for k := range rounds {
		cpu0 := srv.cpu()
		start := time.Now()
		if _, err := get(ctx, srv.url+"/broadcast"); err != nil {
			return nil, err
		}
		for got[k].Load() < int64(n) {
			if time.Since(start) > 2*time.Minute {
				return nil, fmt.Errorf("broadcast %d: %d of %d clients received it after 2 minutes", k, got[k].Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cpu += srv.cpu() - cpu0
		for _, at := range received[k] {
			lat = append(lat, at.Sub(start))
		}
		time.Sleep(time.Second)
	}
	readers.Wait()
	slices.Sort(lat)
	m["p50-ms"], m["p99-ms"] = ms(pct(lat, 0.5)), ms(pct(lat, 0.99))
	m["server-cpu-s"] = cpu.Seconds() / rounds
	return m, nil
}

// serveBroadcast is the bare broadcast server: it upgrades every request
// to /ws and keeps the connection with one reading goroutine, as any
// WebSocket server does; GET /broadcast writes broadcastFrame, prepared
// once, to every connection in turn.
func serveBroadcast(addr string) error {
	var (
		mu    sync.Mutex
		conns = map[*websocket.Conn]struct{}{}
	)
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
					return
				}
			}
		}()
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, _ *http.Request) {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, broadcastFrame)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		mu.Lock()
		all := make([]*websocket.Conn, 0, len(conns))
		for c := range conns {
			all = append(all, c)
		}
		mu.Unlock()
		for _, c := range all {
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_ = c.WritePreparedMessage(pm)
		}
		_, _ = io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}
