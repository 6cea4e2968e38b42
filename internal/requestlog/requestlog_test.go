package requestlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// secretValue is logged under sensitive keys; it must never reach the output.
const secretValue = "s3cr3t-value"

// decodeLines parses JSON log output into one map per line.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// lookup follows path through nested JSON objects.
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// credentials is a LogValuer whose resolved group holds a secret.
type credentials struct{ user, password string }

func (c credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.user), slog.String("password", c.password))
}

func TestNewLoggerRedaction(t *testing.T) {
	tests := []struct {
		name string
		log  func(*slog.Logger)
		path []string
		want any
	}{
		{"password", func(l *slog.Logger) { l.Info("m", "password", secretValue) }, []string{"password"}, redacted},
		{"case-insensitive", func(l *slog.Logger) { l.Info("m", "Authorization", secretValue) }, []string{"Authorization"}, redacted},
		{"substring", func(l *slog.Logger) { l.Info("m", "user_password_hash", secretValue) }, []string{"user_password_hash"}, redacted},
		{"token", func(l *slog.Logger) { l.Info("m", "refreshToken", secretValue) }, []string{"refreshToken"}, redacted},
		{"secret", func(l *slog.Logger) { l.Info("m", "CLIENT_SECRET", secretValue) }, []string{"CLIENT_SECRET"}, redacted},
		{"cookie", func(l *slog.Logger) { l.Info("m", "Set-Cookie", secretValue) }, []string{"Set-Cookie"}, redacted},
		{"apikey", func(l *slog.Logger) { l.Info("m", "stripeApiKey", secretValue) }, []string{"stripeApiKey"}, redacted},
		{"api_key", func(l *slog.Logger) { l.Info("m", "api_key", secretValue) }, []string{"api_key"}, redacted},
		{"api-key", func(l *slog.Logger) { l.Info("m", "X-Api-Key", secretValue) }, []string{"X-Api-Key"}, redacted},
		{"key exactly", func(l *slog.Logger) { l.Info("m", "KEY", secretValue) }, []string{"KEY"}, redacted},
		{"non-string value", func(l *slog.Logger) { l.Info("m", slog.Int("pin_token", 1234)) }, []string{"pin_token"}, redacted},
		{
			"depth one",
			func(l *slog.Logger) { l.Info("m", slog.Group("db", slog.String("secret", secretValue))) },
			[]string{"db", "secret"}, redacted,
		},
		{
			"depth three",
			func(l *slog.Logger) {
				l.Info("m", slog.Group("a", slog.Group("b", slog.Group("c", slog.String("token", secretValue)))))
			},
			[]string{"a", "b", "c", "token"}, redacted,
		},
		{
			"sibling of secret kept",
			func(l *slog.Logger) {
				l.Info("m", slog.Group("db", slog.String("host", "db1"), slog.String("password", secretValue)))
			},
			[]string{"db", "host"}, "db1",
		},
		{
			"WithGroup and With",
			func(l *slog.Logger) { l.WithGroup("req").With("cookie", secretValue).Info("m") },
			[]string{"req", "cookie"}, redacted,
		},
		{
			"everything under a sensitive group",
			func(l *slog.Logger) {
				l.Info("m", slog.Group("authorization", slog.String("scheme", "Bearer"), slog.String("value", secretValue)))
			},
			[]string{"authorization", "value"}, redacted,
		},
		{
			"LogValuer resolving to a group",
			func(l *slog.Logger) { l.Info("m", "login", credentials{user: "ann", password: secretValue}) },
			[]string{"login", "password"}, redacted,
		},
		{
			"LogValuer keeps safe fields",
			func(l *slog.Logger) { l.Info("m", "login", credentials{user: "ann", password: secretValue}) },
			[]string{"login", "user"}, "ann",
		},
		{"safe key kept", func(l *slog.Logger) { l.Info("m", "email", "ann@example.com") }, []string{"email"}, "ann@example.com"},
		{"key is only matched exactly", func(l *slog.Logger) { l.Info("m", "monkey", "banana") }, []string{"monkey"}, "banana"},
		{"message kept", func(l *slog.Logger) { l.Info("token refreshed") }, []string{"msg"}, "token refreshed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(NewLogger(&buf, slog.LevelInfo))
			if strings.Contains(buf.String(), secretValue) {
				t.Errorf("secret leaked: %s", buf.String())
			}
			lines := decodeLines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1", len(lines))
			}
			got, ok := lookup(lines[0], tt.path...)
			if !ok || got != tt.want {
				t.Errorf("%v = %v (present %v), want %v; line %s", tt.path, got, ok, tt.want, buf.String())
			}
		})
	}
}

func TestNewLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelWarn)
	l.Info("dropped")
	l.Warn("kept")
	lines := decodeLines(t, buf.String())
	if len(lines) != 1 || lines[0]["msg"] != "kept" {
		t.Errorf("got %v, want only the warning", lines)
	}
}

func TestContextHelpers(t *testing.T) {
	ctx := context.Background()
	if FromContext(ctx) != slog.Default() {
		t.Error("FromContext without a logger is not slog.Default()")
	}
	if id := ID(ctx); id != "" {
		t.Errorf("ID without a request = %q, want empty", id)
	}
	l := NewLogger(io.Discard, slog.LevelInfo)
	if FromContext(WithLogger(ctx, l)) != l {
		t.Error("FromContext does not return the logger stored by WithLogger")
	}
}

// serve runs one request through Middleware and returns the response, the
// request ID and logger the handler saw, and the log output.
func serve(t *testing.T, req *http.Request, h http.HandlerFunc) (*httptest.ResponseRecorder, string, string) {
	t.Helper()
	var buf bytes.Buffer
	var seenID string
	mw := Middleware(NewLogger(&buf, slog.LevelInfo))
	rec := httptest.NewRecorder()
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenID = ID(r.Context())
		FromContext(r.Context()).Info("handler log")
		if h != nil {
			h(w, r)
		}
	})).ServeHTTP(rec, req)
	return rec, seenID, buf.String()
}

func TestMiddlewareRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string // "" means no header
		keep     bool
	}{
		{"absent", "", false},
		{"simple", "abc123", true},
		{"all allowed characters", "A-z_0.9", true},
		{"uuid", "0b4f6c5e-8f3a-4c1e-9d2b-7a6e5f4d3c2b", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"log injection", "x\",\"level\":\"ERROR", false},
		{"newline", "abc\nmsg=forged", false},
		{"non-ASCII", "héllo", false},
		{"slash", "a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set(HeaderRequestID, tt.incoming)
			}
			rec, seenID, out := serve(t, req, nil)

			if tt.keep && seenID != tt.incoming {
				t.Errorf("ID = %q, want incoming %q", seenID, tt.incoming)
			}
			if !tt.keep {
				if seenID == tt.incoming {
					t.Errorf("bad incoming ID %q was kept", tt.incoming)
				}
				if len(seenID) != 26 || !validRequestID(seenID) {
					t.Errorf("generated ID %q is not 26 safe characters", seenID)
				}
			}
			if got := rec.Header().Get(HeaderRequestID); got != seenID {
				t.Errorf("response %s = %q, want %q", HeaderRequestID, got, seenID)
			}
			lines := decodeLines(t, out)
			if len(lines) != 2 {
				t.Fatalf("got %d log lines, want 2:\n%s", len(lines), out)
			}
			for _, line := range lines {
				if line["request_id"] != seenID {
					t.Errorf("line %q has request_id %v, want %q", line["msg"], line["request_id"], seenID)
				}
			}
		})
	}
}

func TestMiddlewareGeneratesDistinctIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		_, id, _ := serve(t, httptest.NewRequest(http.MethodGet, "/", nil), nil)
		if seen[id] {
			t.Fatalf("request ID %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestMiddlewareAccessLine(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		handler    http.HandlerFunc
		wantPath   string
		wantStatus float64
		wantBytes  float64
		wantLevel  string
	}{
		{
			name:   "query string and secrets not logged",
			method: http.MethodPost,
			target: "/reset?token=" + secretValue + "&password=" + secretValue,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "hello")
			},
			wantPath: "/reset", wantStatus: 201, wantBytes: 5, wantLevel: "INFO",
		},
		{
			name:   "server error logged at error level",
			method: http.MethodGet,
			target: "/boom",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			wantPath: "/boom", wantStatus: 500, wantBytes: 5, wantLevel: "ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader("password="+secretValue))
			req.Header.Set("Authorization", "Bearer "+secretValue)
			req.Header.Set("Cookie", "session="+secretValue)
			req.Header.Set("User-Agent", "test-agent/1.0")
			req.RemoteAddr = "192.0.2.1:5555"
			_, _, out := serve(t, req, tt.handler)

			for _, forbidden := range []string{secretValue, "?", "Bearer", "session="} {
				if strings.Contains(out, forbidden) {
					t.Errorf("log contains %q:\n%s", forbidden, out)
				}
			}
			lines := decodeLines(t, out)
			if len(lines) != 2 {
				t.Fatalf("got %d log lines, want 2:\n%s", len(lines), out)
			}
			line := lines[1]
			want := map[string]any{
				"msg":         "http request",
				"level":       tt.wantLevel,
				"method":      tt.method,
				"path":        tt.wantPath,
				"status":      tt.wantStatus,
				"bytes":       tt.wantBytes,
				"remote_addr": "192.0.2.1:5555",
				"user_agent":  "test-agent/1.0",
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms = %v, want a non-negative number", line["duration_ms"])
			}
			wantKeys := len(want) + 3 // time, request_id, duration_ms
			if len(line) != wantKeys {
				t.Errorf("access line has %d keys, want %d (no extra fields): %v", len(line), wantKeys, line)
			}
		})
	}
}

// hijackWriter's Hijack succeeds, as net/http's does for an HTTP/1.x
// request, without a real connection.
type hijackWriter struct{ http.ResponseWriter }

func (hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	client, server := net.Pipe()
	_ = client.Close()
	return server, nil, nil
}

// TestMiddlewareRecordsWithHTTPStat checks that the handler gets the
// server's writer wrapped by httpstat and that the access line of a hijacked
// connection (a WebSocket upgrade), written when the handler returns, has
// status 101 and no query string. The recording rules themselves are tested
// in package httpstat.
func TestMiddlewareRecordsWithHTTPStat(t *testing.T) {
	var buf bytes.Buffer
	w := hijackWriter{httptest.NewRecorder()}
	var unwraps bool
	h := Middleware(NewLogger(&buf, slog.LevelInfo))(http.HandlerFunc(func(ww http.ResponseWriter, r *http.Request) {
		u, ok := ww.(interface{ Unwrap() http.ResponseWriter })
		unwraps = ok && u.Unwrap() == w
		hj, ok := ww.(http.Hijacker)
		if !ok {
			t.Error("wrapped writer is not an http.Hijacker")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		_ = conn.Close()
	}))
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/graphql?token="+secretValue, nil))
	if !unwraps {
		t.Error("wrapped writer does not Unwrap to the original")
	}

	if strings.Contains(buf.String(), secretValue) {
		t.Errorf("query string leaked: %s", buf.String())
	}
	lines := decodeLines(t, buf.String())
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf.String())
	}
	if lines[0]["status"] != float64(http.StatusSwitchingProtocols) || lines[0]["path"] != "/graphql" ||
		lines[0]["bytes"] != float64(0) || lines[0]["level"] != "INFO" {
		t.Errorf("access line = %v, want status 101, path /graphql, bytes 0, level INFO", lines[0])
	}
}

// TestContextAttributes checks that a line logged with a request's or a
// job's context names it, whichever logger writes it, and only once.
func TestContextAttributes(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelDebug)
	var reqCtx context.Context
	Middleware(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqCtx = r.Context()
		logger.ErrorContext(r.Context(), "from the server's logger")
		FromContext(r.Context()).ErrorContext(r.Context(), "from the request's logger")
		FromContext(r.Context()).Error("without a context")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	job := With(context.Background(), "worker", "delivery")
	logger.WarnContext(With(job, slog.String("job", "msg_1")), "a job's line")
	logger.WarnContext(job, "a worker's line")
	logger.Warn("no context at all")

	lines := decodeLines(t, buf.String())
	id := ID(reqCtx)
	want := []map[string]any{
		{"request_id": id}, {"request_id": id}, {"request_id": id}, {"request_id": id}, // the access line is the 4th
		{"worker": "delivery", "job": "msg_1"}, {"worker": "delivery"}, {},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		for _, k := range []string{"request_id", "worker", "job"} {
			if got, ok := lines[i][k]; ok != (w[k] != nil) || (ok && got != w[k]) {
				t.Errorf("line %d (%v) has %s = %v, want %v", i, lines[i]["msg"], k, got, w[k])
			}
		}
	}
	if n := strings.Count(strings.Split(buf.String(), "\n")[1], `"request_id"`); n != 1 {
		t.Fatalf("the request's logger wrote request_id %d times", n)
	}
}
