// Command server runs dakenh: migrations, the GraphQL API over HTTP and
// WebSocket, webhooks and background workers. With no settings it keeps its
// data in an embedded SQLite database under ./data.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dakenh/dakenh/internal/requestlog"
)

// shutdownGrace bounds how long SIGTERM waits for in-flight requests.
const shutdownGrace = 25 * time.Second

func main() {
	bootLog := requestlog.NewLogger(os.Stderr, slog.LevelInfo)
	cfg, err := configFromEnv(os.Getenv, bootLog.Warn)
	if err != nil {
		bootLog.Error("configuration", "err", err)
		os.Exit(2)
	}
	tuneGC(os.Getenv)
	logger := requestlog.NewLogger(os.Stderr, cfg.LogLevel)
	if len(os.Args) > 1 && os.Args[1] == "minutes" {
		os.Exit(runMinutes(cfg, logger, os.Args[2:]))
	}
	// Libraries that print with the standard log package write JSON too.
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled, then drains: it stops accepting,
// waits for in-flight requests, closes WebSockets and workers, and closes the
// database.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	app, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, logger); err != nil {
			return err
		}
	}
	app.startWorkers()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Hijacked WebSocket connections are not drained by Shutdown; their
	// contexts derive from base, which is cancelled once HTTP has drained.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		servers = append(servers, &http.Server{
			Handler:           app.MetricsHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          srv.ErrorLog,
		})
		listeners = append(listeners, mln)
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	logger.Info("dakenh listening", "addr", ln.Addr().String(), "database", app.db.Dialect)

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		for _, s := range servers {
			_ = s.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, s := range servers[1:] {
		_ = s.Shutdown(sctx)
	}
	err = srv.Shutdown(sctx)
	cancelBase()
	app.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
