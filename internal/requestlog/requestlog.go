// Package requestlog provides structured JSON logging with secret redaction,
// and an HTTP middleware that gives every request an ID, a request-scoped
// logger and one access log line.
//
// The access log deliberately records no headers, bodies or query strings:
// those are where bearer tokens, cookies, passwords and reset links travel,
// and logs are kept longer and shared more widely than the data they
// describe.
package requestlog

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dakenh/dakenh/internal/httpstat"
)

// HeaderRequestID is the header carrying the request ID in both directions:
// read from a trusted proxy or client to correlate logs across services, and
// echoed on the response so a user can quote it in a bug report.
const HeaderRequestID = "X-Request-ID"

// redacted replaces the value of every attribute that may hold a secret.
const redacted = "[REDACTED]"

// maxRequestIDLen bounds incoming request IDs, which are client-controlled
// and copied into every log line of the request.
const maxRequestIDLen = 64

// sensitiveKeyParts are matched case-insensitively as substrings of
// attribute and group keys. Over-redacting (say "token_count") costs a
// little debuggability; under-redacting leaks credentials into log storage.
var sensitiveKeyParts = []string{
	"password",
	"secret",
	"token",
	"authorization",
	"cookie",
	"apikey",
	"api_key",
	"api-key",
}

// NewLogger returns a JSON logger writing to w at level and above, which
// replaces with "[REDACTED]" the value of any attribute whose key,
// case-insensitively, contains password, secret, token, authorization,
// cookie, apikey or api_key, or equals key. The check applies at any group
// depth, and everything inside a group whose own name is sensitive is
// redacted too.
//
// Values logged with slog.Any are serialized as a whole and their contents
// are not inspected: log structs and maps through slog.Group or a
// slog.LogValuer for redaction to apply to their fields.
//
// A record logged with a context (InfoContext, ErrorContext, …) also
// carries the request ID Middleware stored in it and the attributes With
// added, so a line logged through any logger, not only FromContext's,
// names the request or the job it belongs to.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(contextHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: redactAttr,
	})})
}

// contextHandler adds the context's request ID and With attributes to
// each record. has lists the keys the logger already carries (FromContext's
// logger has request_id), which are not added twice.
type contextHandler struct {
	slog.Handler
	has []string
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := ID(ctx); id != "" && !slices.Contains(h.has, "request_id") {
			r.AddAttrs(slog.String("request_id", id))
		}
		if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
			for _, a := range attrs {
				if !slices.Contains(h.has, a.Key) {
					r.AddAttrs(a)
				}
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := slices.Clone(h.has)
	for _, a := range attrs {
		has = append(has, a.Key)
	}
	return contextHandler{Handler: h.Handler.WithAttrs(attrs), has: has}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{Handler: h.Handler.WithGroup(name), has: h.has}
}

type attrsKey struct{}

// With returns a copy of ctx whose log records carry args (key-value pairs
// or slog.Attrs, as slog.Logger.With takes) besides any ctx already adds:
// a background worker names itself, a job its ID, so their lines can be
// told apart like a request's.
func With(ctx context.Context, args ...any) context.Context {
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(args...)
	attrs, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	attrs = slices.Clip(attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	return context.WithValue(ctx, attrsKey{}, attrs)
}

// redactAttr is the slog ReplaceAttr hook. slog calls it for every non-group
// attribute with the names of its enclosing groups, so a secret nested at
// any depth, or under a group such as "authorization", is caught.
func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if isSensitiveKey(a.Key) {
		return slog.String(a.Key, redacted)
	}
	for _, g := range groups {
		if isSensitiveKey(g) {
			return slog.String(a.Key, redacted)
		}
	}
	return a
}

// isSensitiveKey reports whether an attribute or group key names something
// that may hold a secret.
func isSensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if k == "key" {
		return true
	}
	for _, part := range sensitiveKeyParts {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

type (
	loggerKey    struct{}
	requestIDKey struct{}
)

// WithLogger returns a copy of ctx carrying logger, for FromContext.
func WithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, logger)
}

// FromContext returns the logger stored by WithLogger (inside Middleware, one
// that adds request_id to every record), or slog.Default() if there is none,
// so callers never need a nil check.
func FromContext(ctx context.Context) *slog.Logger {
	if logger, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && logger != nil {
		return logger
	}
	return slog.Default()
}

// ID returns the request ID that Middleware stored in ctx, or "" outside a
// request.
func ID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Middleware returns HTTP middleware that assigns each request an ID, echoes
// it in the X-Request-ID response header, stores it and a logger carrying
// request_id in the request context, and logs one "http request" line when
// the handler returns.
//
// An incoming X-Request-ID is kept if it is at most 64 characters of
// [A-Za-z0-9._-], so that IDs from a proxy correlate across services while a
// client cannot inject log-breaking or oversized values; otherwise a random
// ID is generated.
//
// The line has method, path (without the query string), status, bytes,
// duration_ms, remote_addr and user_agent; never headers or bodies. It is
// logged at Error level for 5xx responses and Info otherwise. The handler
// sees a ResponseWriter wrapped by httpstat.Wrap, which keeps exactly the
// optional interfaces (http.Flusher, http.Hijacker, io.ReaderFrom, ...) of
// the server's writer and unwraps to it for http.ResponseController; a
// hijacked connection (a WebSocket upgrade) is logged with status 101 when
// the handler returns, i.e. when it closes.
//
// A panicking handler produces no line: install panic recovery inside this
// middleware so that the recovered 500 is logged.
func Middleware(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			// Captured now because handlers below may rewrite the request
			// (http.StripPrefix, routers).
			method, path := r.Method, r.URL.Path

			id := r.Header.Get(HeaderRequestID)
			if !validRequestID(id) {
				id = newRequestID()
			}
			w.Header().Set(HeaderRequestID, id)

			reqLogger := logger.With(slog.String("request_id", id))
			ctx := context.WithValue(r.Context(), requestIDKey{}, id)
			ctx = WithLogger(ctx, reqLogger)

			ww, rec := httpstat.Wrap(w)
			next.ServeHTTP(ww, r.WithContext(ctx))

			status := rec.Status()
			level := slog.LevelInfo
			if status >= http.StatusInternalServerError {
				level = slog.LevelError
			}
			reqLogger.LogAttrs(ctx, level, "http request",
				slog.String("method", method),
				slog.String("path", path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.Bytes()),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote_addr", r.RemoteAddr),
				slog.String("user_agent", r.UserAgent()),
			)
		})
	}
}

// validRequestID reports whether an incoming request ID is safe to log and
// echo: non-empty, at most 64 characters, only [A-Za-z0-9._-].
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns a random ID: 26 base32 characters carrying 128 bits,
// unguessable and collision-free in practice, and within the alphabet
// validRequestID accepts so it survives being passed on to other services.
func newRequestID() string {
	return rand.Text()
}
