package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// The peer is PostGraphile 4 on the same tables, pinned by
// bench/peer/package-lock.json and installed with `npm ci` into the cache
// directory (node_modules is never committed).

// installPeer installs the pinned peer unless the cache already holds that
// lockfile's install, and returns the directory holding node_modules.
func (h *harness) installPeer(ctx context.Context) (string, error) {
	src := filepath.Join(h.root, "bench", "peer")
	dir := filepath.Join(h.o.cache, "peer")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		return "", err
	}
	manifest, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(append([]byte{}, manifest...), lock...))
	stamp := hex.EncodeToString(sum[:])
	stampPath := filepath.Join(dir, "installed")
	if have, _ := os.ReadFile(stampPath); bytes.Equal(have, []byte(stamp)) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, body := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(os.Stderr, "installing the peer (npm ci) into %s\n", dir)
	cmd := h.command(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm ci: %w", err)
	}
	return dir, os.WriteFile(stampPath, []byte(stamp), 0o644)
}

// startPeer runs PostGraphile on the benchmark database in one Node
// process, with its query log off (as dakenh's request log is).
func (h *harness) startPeer(ctx context.Context) (*proc, error) {
	dir, err := h.installPeer(ctx)
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(dir, "node_modules", "postgraphile", "cli.js")
	return h.start(ctx, "postgraphile", []string{"NODE_ENV=production"}, "/graphql", "node", cli,
		"--connection", h.dbURL, "--schema", "public", "--host", "127.0.0.1", "--port", "{port}",
		"--disable-query-log", "--disable-default-mutations")
}
