package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The inbox page, asked the same way of every contender: the first 50
// conversations in ID order with their customer, assignee and channel, and
// (in the full page) the last message.
const (
	dakenhPage = `query Inbox { conversations(first: 50) { edges { node {
  id status unreadCount lastMessageAt
  customer { id name } assignee { id name } channel { id name }
  %s } } } }`
	// dakenhLast is the conversation's last message; dakenhLastOld is the
	// same through the messages connection, for commits before lastMessage.
	dakenhLast    = `lastMessage { id text direction createdAt }`
	dakenhLastOld = `messages(last: 1) { edges { node { id text direction createdAt } } }`

	peerPage = `query Inbox { allConversations(first: 50, orderBy: PRIMARY_KEY_ASC) { nodes {
  id status unreadCount lastMessageAt
  customerByCustomerId { id name } userByAssigneeId { id name } channelByChannelId { id name }
  %s } } }`
	peerLast = `messagesByConversationId(first: 1, orderBy: CREATED_AT_DESC) { nodes { id text direction createdAt } }`

	// sqlPage is the page as one statement: what the database itself can
	// serve, the limit every GraphQL server above it approaches.
	sqlPage = `SELECT c.id, c.status, c.unread_count, c.last_message_at,
       cu.id, cu.name, u.id, u.name, ch.id, ch.name%s
FROM conversations c
JOIN customers cu ON cu.id = c.customer_id
JOIN channels ch ON ch.id = c.channel_id
LEFT JOIN users u ON u.id = c.assignee_id%s
WHERE c.organization_id = :org
ORDER BY c.id
LIMIT 50;
`
	sqlLastCols = `, m.id, m.text, m.direction, m.created_at`
	sqlLastJoin = `
LEFT JOIN LATERAL (SELECT id, text, direction, created_at FROM messages
                   WHERE conversation_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1) m ON true`
)

func benchInbox(ctx context.Context, h *harness) error {
	if _, err := osexec.LookPath("pgbench"); err != nil {
		return fmt.Errorf("pgbench is needed (Debian: postgresql-client): %w", err)
	}
	ds, err := h.postgresData(ctx)
	if err != nil {
		return err
	}
	dk, err := h.startDakenh(ctx, "dakenh-inbox", "DATABASE_URL="+h.dbURL)
	if err != nil {
		return err
	}
	peer, err := h.startPeer(ctx)
	if err != nil {
		return err
	}
	var cs []*contender
	full, last := h.dakenhInbox(ctx, dk, ds.token, "dakenh (PostgreSQL)")
	cs = append(cs, full)
	peerFull := h.httpContender(ctx, "PostGraphile 4", peer, "", fmt.Sprintf(peerPage, peerLast), "allConversations")
	sqlFull := h.sqlContender(ctx, "SQL limit (pgbench, mean latency)", fmt.Sprintf(sqlPage, sqlLastCols, sqlLastJoin), ds)
	cs = append(cs, peerFull, sqlFull)
	noLast := h.httpContender(ctx, "dakenh, no last message", dk, ds.token, fmt.Sprintf(dakenhPage, ""), "conversations")
	peerNoLast := h.httpContender(ctx, "PostGraphile 4, no last message", peer, "", fmt.Sprintf(peerPage, ""), "allConversations")
	sqlNoLast := h.sqlContender(ctx, "SQL, no last message", fmt.Sprintf(sqlPage, "", ""), ds)
	cs = append(cs, noLast, peerNoLast, sqlNoLast)
	for i, settings := range h.o.variants {
		vp, err := h.startDakenh(ctx, fmt.Sprintf("dakenh-variant-%d", i+1), append([]string{"DATABASE_URL=" + h.dbURL}, strings.Fields(settings)...)...)
		if err != nil {
			return err
		}
		v, _ := h.dakenhInbox(ctx, vp, ds.token, "dakenh "+settings)
		cs = append(cs, v)
	}
	var lite, liteNoLast *contender
	if h.o.sqlite {
		dir, lds, err := h.sqliteData(ctx)
		if err != nil {
			return err
		}
		ldk, err := h.startDakenh(ctx, "dakenh-inbox-sqlite", "DAKENH_DATA_DIR="+dir)
		if err != nil {
			return err
		}
		lite, _ = h.dakenhInbox(ctx, ldk, lds.token, "dakenh (SQLite)")
		liteNoLast = h.httpContender(ctx, "dakenh (SQLite), no last message", ldk, lds.token, fmt.Sprintf(dakenhPage, ""), "conversations")
		cs = append(cs, lite, liteNoLast)
	}
	fmt.Fprintf(os.Stderr, "dakenh's page asks for the last message as %s\n", last)
	if err := rounds(h.o.rounds, cs); err != nil {
		return err
	}
	table(fmt.Sprintf("Inbox page, %d clients, OWNER, 20,000 conversations (dakenh's last message: %s)", h.o.clients, last), cs, "req/s")
	fmt.Println("Ratios of medians:")
	ratio("dakenh / PostGraphile, full page", full, peerFull, "goal ≥ 2")
	ratio("dakenh / SQL limit, full page", full, sqlFull, "goal ≥ 0.2")
	ratio("dakenh / PostGraphile, no last message", noLast, peerNoLast, "goal ≥ 2")
	if lite != nil {
		ratio("dakenh SQLite / dakenh PostgreSQL, full page", lite, full, "")
		ratio("dakenh SQLite / dakenh PostgreSQL, no last message", liteNoLast, noLast, "")
	}
	fmt.Printf("load average at the end: %s\n\n", loadAvg())
	return nil
}

// startDakenh runs the built server with the harness's settings plus env.
func (h *harness) startDakenh(ctx context.Context, name string, env ...string) (*proc, error) {
	if h.o.profile {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		env = append(env, fmt.Sprintf("DAKENH_DEBUG_ADDR=127.0.0.1:%d", port))
	}
	env = append([]string{
		"DAKENH_ADDR=127.0.0.1:{port}",
		"DAKENH_SECRET=bench-secret-bench-secret-bench-secret",
		// Like the peer's query log, the per-request log is off.
		"DAKENH_LOG_LEVEL=warn",
	}, env...)
	return h.start(ctx, name, env, "/readyz", h.bin)
}

// dakenhInbox is dakenh's full page, asking for the last message as
// lastMessage where the server has it and messages(last: 1) otherwise; it
// returns which one it uses.
func (h *harness) dakenhInbox(ctx context.Context, p *proc, token, name string) (*contender, string) {
	q := fmt.Sprintf(dakenhPage, dakenhLast)
	if _, err := post(ctx, p.url+"/graphql", token, gqlBody(q)); err != nil {
		return h.httpContender(ctx, name, p, token, fmt.Sprintf(dakenhPage, dakenhLastOld), "conversations"), "messages(last: 1)"
	}
	return h.httpContender(ctx, name, p, token, q, "conversations"), "lastMessage"
}

// httpContender measures a GraphQL server answering query; the warm-up
// also checks that the page holds 50 conversations with their customer
// and channel (and last message when asked).
func (h *harness) httpContender(ctx context.Context, name string, p *proc, token, query, root string) *contender {
	body := gqlBody(query)
	url := p.url + "/graphql"
	runs := 0
	return &contender{
		name: name,
		warm: func() error {
			raw, err := post(ctx, url, token, body)
			if err != nil {
				return err
			}
			if err := checkPage(raw, root, strings.Contains(query, "text")); err != nil {
				return err
			}
			_, err = httpLoad(ctx, url, token, body, h.o.clients, h.o.warmup)
			return err
		},
		run: func() (result, error) {
			profiled := h.profile(ctx, p, name, &runs)
			before := p.cpu()
			r, err := httpLoad(ctx, url, token, body, h.o.clients, h.o.duration)
			r.cpu = p.cpu() - before
			if perr := profiled(); err == nil {
				err = perr
			}
			return r, err
		},
	}
}

// sqlContender measures the page as one SQL statement under pgbench.
func (h *harness) sqlContender(ctx context.Context, name, script string, ds *dataset) *contender {
	vars := map[string]string{"org": string(ds.orgID)}
	file := strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(strings.ToLower(name))
	return &contender{
		name: name,
		warm: func() error {
			_, err := h.pgbench(ctx, file, script, h.o.clients, time.Second, vars)
			return err
		},
		run: func() (result, error) {
			return h.pgbench(ctx, file, script, h.o.clients, h.o.duration, vars)
		},
	}
}

// checkPage checks a page of conversations: 50 of them, each with its
// customer and channel, and its last message when withLast.
func checkPage(raw []byte, root string, withLast bool) error {
	var out struct {
		Data map[string]struct {
			Edges []struct{ Node map[string]any }
			Nodes []map[string]any
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	page := out.Data[root]
	nodes := page.Nodes
	for _, e := range page.Edges {
		nodes = append(nodes, e.Node)
	}
	if len(nodes) != 50 {
		return fmt.Errorf("the page has %d conversations, want 50: %.300s", len(nodes), raw)
	}
	for _, n := range nodes {
		if (n["customer"] == nil && n["customerByCustomerId"] == nil) || (n["channel"] == nil && n["channelByChannelId"] == nil) {
			return fmt.Errorf("a conversation without its customer or channel: %v", n)
		}
		if withLast && !strings.Contains(string(mustJSON(n)), `"text"`) {
			return fmt.Errorf("a conversation without its last message: %v", n)
		}
	}
	return nil
}

// post sends one GraphQL request and returns its body; GraphQL errors are
// errors.
func post(ctx context.Context, url, token string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(`"errors"`)) {
		return raw, fmt.Errorf("status %d: %.500s", resp.StatusCode, raw)
	}
	return raw, nil
}

// profile starts taking a CPU profile of p's first measured run when -profile
// is set and p serves the profiler; the function it returns waits for the
// profile and writes it to <cache>/<name>.pprof.
func (h *harness) profile(ctx context.Context, p *proc, name string, runs *int) func() error {
	*runs++
	debug := p.env("DAKENH_DEBUG_ADDR")
	if !h.o.profile || debug == "" || *runs > 1 {
		return func() error { return nil }
	}
	secs := max(1, int(h.o.duration.Seconds())-1)
	done := make(chan error, 1)
	go func() {
		raw, err := get(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debug, secs))
		if err == nil {
			path := filepath.Join(h.o.cache, strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(name)+".pprof")
			err = os.WriteFile(path, raw, 0o644)
			fmt.Fprintf(os.Stderr, "  CPU profile: go tool pprof %s\n", path)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// get fetches url.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}
