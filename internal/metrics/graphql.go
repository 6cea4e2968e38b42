package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQL returns a gqlgen extension recording dakenh_graphql_* metrics;
// register it with (*handler.Server).Use. Extensions returned by repeated
// calls share the same series and the same operation-name budget.
//
// Operations are counted and timed by type and by operation name. Names are
// chosen by the client, so only names matching ^[A-Za-z_][A-Za-z0-9_]{0,63}$
// are used, and only the first 200 distinct ones; anything else is labelled
// "other" and unnamed operations "anonymous". Note that this lets a client
// use up the budget with junk names, after which new legitimate names also
// land in "other"; the total count stays correct either way.
//
// Subscriptions are counted once when they start; their per-event timing is
// not recorded because a subscription's lifetime is not a latency.
//
// Errors in every response are counted by extensions.code ("unknown" when
// absent), including parse and validation failures that never become an
// operation.
func (m *Metrics) GraphQL() graphql.HandlerExtension {
	return graphqlExtension{m: m}
}

// OperationStopped counts a GraphQL operation stopped before it finished,
// by reason (gqllimit.Response's Stopped hook).
func (m *Metrics) OperationStopped(reason string) {
	m.gqlStopped.WithLabelValues(reason).Inc()
}

// graphqlExtension implements the gqlgen hooks. It is a value type holding
// only a pointer, so all copies record into the same Metrics.
type graphqlExtension struct {
	m *Metrics
}

var (
	_ graphql.HandlerExtension     = graphqlExtension{}
	_ graphql.OperationInterceptor = graphqlExtension{}
	_ graphql.ResponseInterceptor  = graphqlExtension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (graphqlExtension) ExtensionName() string { return "DakenhMetrics" }

// Validate implements graphql.HandlerExtension; the extension works with any
// schema.
func (graphqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

// dispatchedKey marks the context of responses produced by an operation that
// InterceptOperation saw, whose errors it already counts, so that
// InterceptResponse does not count them a second time.
type dispatchedKey struct{}

// InterceptOperation implements graphql.OperationInterceptor. It counts the
// operation, observes the latency of queries and mutations at their final
// response, and counts errors in every response of the operation. Errors are
// counted here rather than only in InterceptResponse because gqlgen returns
// errors raised while starting an operation (for example a subscription
// resolver failing, such as on authentication) without running the response
// interceptors.
func (e graphqlExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opType, opName := labelUnknown, labelAnonymous
	start := time.Now()
	if graphql.HasOperationContext(ctx) {
		opCtx := graphql.GetOperationContext(ctx)
		if op := opCtx.Operation; op != nil {
			opType = operationType(op.Operation)
			if op.Name != "" {
				opName = e.m.operationNames.value(op.Name)
			}
		}
		// OperationStart is set when the HTTP request (or WebSocket
		// message) arrived, so the latency includes reading, parsing and
		// validation, as the client experiences it.
		if s := opCtx.Stats.OperationStart; !s.IsZero() {
			start = s
		}
	}
	e.m.gqlOperations.WithLabelValues(opType, opName).Inc()

	responses := next(ctx)
	var observed atomic.Bool
	return func(ctx context.Context) *graphql.Response {
		resp := responses(context.WithValue(ctx, dispatchedKey{}, true))
		if resp != nil {
			e.m.countErrors(resp.Errors)
		}
		// Queries and mutations produce one response, or several with
		// @defer, the last having hasNext=false; a nil response means the
		// stream is over. Observe once, at whichever comes first.
		if opType != string(ast.Subscription) && isFinal(resp) && observed.CompareAndSwap(false, true) {
			e.m.gqlDuration.WithLabelValues(opType, opName).Observe(time.Since(start).Seconds())
		}
		return resp
	}
}

// InterceptResponse implements graphql.ResponseInterceptor. It counts errors
// of responses that did not come from InterceptOperation: those gqlgen
// builds when a request fails before becoming an operation (malformed JSON,
// parse or validation failure, unknown operation name, complexity limit).
func (e graphqlExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && ctx.Value(dispatchedKey{}) == nil {
		e.m.countErrors(resp.Errors)
	}
	return resp
}

// countErrors increments the error counter once per error, by code.
func (m *Metrics) countErrors(errs gqlerror.List) {
	for _, err := range errs {
		code := labelUnknown
		if err != nil && err.Extensions != nil {
			if raw, ok := err.Extensions["code"]; ok {
				// Codes are set by our error presenter, but a code copied
				// from an upstream error could be anything: bound them
				// like operation names.
				s, isString := raw.(string)
				if isString {
					code = m.errorCodes.value(s)
				} else {
					code = labelOther
				}
			}
		}
		m.gqlErrors.WithLabelValues(code).Inc()
	}
}

// isFinal reports whether resp ends the response stream of an operation.
func isFinal(resp *graphql.Response) bool {
	return resp == nil || resp.HasNext == nil || !*resp.HasNext
}

// operationType maps the parsed operation type onto a fixed label set.
func operationType(op ast.Operation) string {
	switch op {
	case ast.Query, ast.Mutation, ast.Subscription:
		return string(op)
	default:
		return labelUnknown
	}
}

// labelLimiter admits at most limit distinct label values of safe shape and
// maps everything else to "other", so that client-chosen strings cannot grow
// the number of time series without bound.
type labelLimiter struct {
	limit int
	mu    sync.RWMutex
	seen  map[string]struct{}
}

// newLabelLimiter returns a labelLimiter admitting limit distinct values.
func newLabelLimiter(limit int) *labelLimiter {
	return &labelLimiter{limit: limit, seen: make(map[string]struct{}, limit)}
}

// value returns v if it is safe and already admitted or there is still room
// for it, and "other" otherwise. Values once admitted stay admitted, so a
// series never flips between its name and "other".
func (l *labelLimiter) value(v string) string {
	if !safeLabelValue.MatchString(v) {
		return labelOther
	}
	// Nearly every call is for a known value; take the shared lock first.
	l.mu.RLock()
	_, ok := l.seen[v]
	l.mu.RUnlock()
	if ok {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.limit {
		return labelOther
	}
	l.seen[v] = struct{}{}
	return v
}
