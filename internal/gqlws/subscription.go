package gqlws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gqlhttp"
	"github.com/dakenh/dakenh/internal/viewer"
)

// maxPending is how many of a subscription's frames may wait in its
// socket's queue; a stream finding it full waits (see event.Sink) and
// ends with RESUME_FROM_CURSOR once its Buffer of events is behind.
const maxPending = 16

// Subscription is one operation of a socket. Its root resolver finds it
// in its context (FromContext) and hands it the event stream (Follow);
// the stream (its goroutine, or its organization's dispatcher once it has
// caught up) then renders and writes each event through it, with no
// goroutine of the subscription's own.
//
// Subscriptions render together: those with the same operation, the same
// variables (but for the arguments of the stream's own field, such as
// where to start) and the same viewer — the same user or API key, with
// the same role and scopes — would render an event identically, so each
// event is rendered once for all of them and written as one prepared
// frame. Subscribers who see differently never share a render.
type Subscription struct {
	conn *conn
	id   string
	rc   *graphql.OperationContext
	ctx  context.Context
	// base is the subscription's context before the operation ran: the
	// socket's values, cancelled when the subscription ends.
	base   context.Context
	cancel context.CancelFunc
	// group names the renders this subscription shares.
	group string

	load func(event.Delivery) (any, error)
	fail func(error) any
	// following says the stream runs: it ends the operation.
	following atomic.Bool

	pending atomic.Int32
	room    chan struct{}
}

type subscriptionKey struct{}

// FromContext returns the subscription whose resolver runs with ctx, or
// nil when the operation does not come through this transport.
func FromContext(ctx context.Context) *Subscription {
	s, _ := ctx.Value(subscriptionKey{}).(*Subscription)
	return s
}

type itemKey struct{}

// Item returns the payload a render asks the root resolver to return as
// its only result (see Subscription.render).
func Item(ctx context.Context) (any, bool) {
	v, ok := ctx.Value(itemKey{}).(renderItem)
	return v.item, ok
}

type renderItem struct{ item any }

func newSubscription(c *conn, id string) *Subscription {
	ctx, cancel := context.WithCancel(c.ctx)
	return &Subscription{conn: c, id: id, ctx: ctx, base: ctx, cancel: cancel, room: make(chan struct{}, 1)}
}

// Context returns the context the subscription's stream and loads should
// run with: the socket's (its viewer, its logger), cancelled when the
// subscription ends, without the state of the operation's first execution,
// which an idle subscription would otherwise keep alive.
func (s *Subscription) Context() context.Context { return s.base }

// Follow makes the subscription's payloads those of an event stream:
// load builds an event's payload as the subscription's viewer (nil, nil
// when the viewer no longer may see it, so it is skipped), and fail the
// last payload for the error a stream ended with (nil for none). start
// subscribes with the subscription as the stream's Sink.
func (s *Subscription) Follow(load func(event.Delivery) (any, error), fail func(error) any, start func(event.Sink) error) error {
	s.load, s.fail = load, fail
	// Renders need the operation, not its first execution's state.
	s.rc = operationOf(s.rc)
	s.ctx = context.WithValue(graphql.WithOperationContext(s.base, s.rc), subscriptionKey{}, s)
	if err := start(s); err != nil {
		return err
	}
	s.following.Store(true)
	return nil
}

// start parses and validates the operation and runs it: its root
// resolver either follows a stream (which takes over), or fails, and that
// response ends the operation.
func (s *Subscription) start(payload []byte, read time.Time) {
	c := s.conn
	end := func() {
		c.complete(s.id)
		c.remove(s)
		s.cancel()
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		c.sendErrors(s.id, &gqlerror.Error{Message: "invalid json"})
		end()
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: read, End: graphql.Now()}
	params.Headers = c.headers
	ctx := graphql.StartOperationTrace(s.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.sendErrors(s.id, resp.Errors...)
		} else {
			c.sendResponse(s.id, &graphql.Response{Errors: errs})
		}
		end()
		return
	}
	s.rc = rc
	s.group = groupOf(rc, viewerKey(ctx))
	s.ctx = context.WithValue(graphql.WithOperationContext(s.ctx, rc), subscriptionKey{}, s)
	defer func() {
		if r := recover(); r != nil {
			err := rc.Recover(s.ctx, r)
			var gqlErr *gqlerror.Error
			if !errors.As(err, &gqlErr) {
				gqlErr = &gqlerror.Error{Message: fmt.Sprint(err)}
			}
			c.sendErrors(s.id, gqlErr)
			end()
		}
	}()
	responses, rctx := c.exec.DispatchOperation(s.ctx, rc)
	if s.following.Load() {
		return
	}
	if resp := responses(rctx); resp != nil {
		c.sendResponse(s.id, resp)
	}
	end()
}

var _ event.Sink = (*Subscription)(nil)

// Deliver renders d (or finds its render) and queues its frame.
func (s *Subscription) Deliver(d event.Delivery) error {
	if s.pending.Load() >= maxPending {
		return event.ErrFull
	}
	r, err := s.conn.t.renders.get(s.ctx, s.group, d, func() ([]byte, error) {
		item, err := s.load(d)
		if err != nil || item == nil {
			return nil, err
		}
		return s.render(item)
	})
	if err != nil {
		return err
	}
	if r.payload == nil {
		return nil // not for this viewer
	}
	s.pending.Add(1)
	if !s.conn.deliver(frame{shared: r.frame(s.conn.nextType(), s.id), sub: s}) {
		s.pending.Add(-1) // the socket closed; the stream is being cancelled
	}
	return nil
}

// Room receives once a queued frame has been written.
func (s *Subscription) Room() <-chan struct{} { return s.room }

// written records that one of s's frames has been written.
func (s *Subscription) written() {
	s.pending.Add(-1)
	select {
	case s.room <- struct{}{}:
	default:
	}
}

// End sends the payload of the error the stream ended with, if any, and
// completes the operation.
func (s *Subscription) End(err error) {
	defer s.cancel()
	s.conn.remove(s)
	if item := s.fail(err); item != nil {
		payload, rerr := s.render(item)
		if rerr != nil {
			payload = encodeResponse(&graphql.Response{Errors: gqlerror.List{gqlerror.Wrap(rerr)}})
		}
		s.conn.send(frameOf(s.id, s.conn.nextType(), payload))
	}
	s.conn.complete(s.id)
}

// render executes the operation for one payload: its root resolver
// returns item (Item) and gqlgen resolves the selection below it as the
// subscription's viewer. The context outlives s, since other
// subscriptions of the group may wait for the result.
func (s *Subscription) render(item any) ([]byte, error) {
	rc := operationOf(s.rc)
	ctx := context.WithValue(context.WithoutCancel(s.ctx), itemKey{}, renderItem{item})
	responses, ctx := s.conn.exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if resp == nil {
		return nil, errors.New("gqlws: the operation rendered no payload")
	}
	return encodeResponse(resp), nil
}

// operationOf returns a fresh operation context for src's operation: what
// an execution reads, without what one left (stats, collected fields).
func operationOf(src *graphql.OperationContext) *graphql.OperationContext {
	return &graphql.OperationContext{
		RawQuery: src.RawQuery, Variables: src.Variables, OperationName: src.OperationName,
		Doc: src.Doc, Extensions: src.Extensions, Headers: src.Headers, Operation: src.Operation,
		DisableIntrospection: src.DisableIntrospection, RecoverFunc: src.RecoverFunc,
		ResolverMiddleware: src.ResolverMiddleware, RootResolverMiddleware: src.RootResolverMiddleware,
		Stats: graphql.Stats{OperationStart: graphql.Now()},
	}
}

// encodeResponse returns resp's JSON.
func encodeResponse(resp *graphql.Response) []byte {
	var buf bytes.Buffer
	gqlhttp.Write(&buf, resp)
	return buf.Bytes()
}

// viewerKey names what of the viewer decides what it may see: who it is
// (user or API key), its role and scopes; not its session.
func viewerKey(ctx context.Context) string {
	v := viewer.FromContext(ctx)
	if v == nil {
		return "-"
	}
	scopes := make([]string, len(v.Scopes))
	for i, sc := range v.Scopes {
		scopes[i] = string(sc)
	}
	slices.Sort(scopes)
	return fmt.Sprintf("%s|%s|%s|%s|%t|%s", v.OrgID, v.UserID, v.Role, v.APIKeyID, v.System, strings.Join(scopes, ","))
}

// groupOf names the renders of an operation for a viewer: the viewer, the
// document and operation, and the values of the variables that the
// selection below the root field uses. Variables used only by the root
// field's arguments (where the stream starts, which conversation it
// follows) decide which events come, not how one renders.
func groupOf(rc *graphql.OperationContext, viewerKey string) string {
	used := map[string]bool{}
	var walk func(ast.SelectionSet)
	visited := map[string]bool{}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			for _, a := range d.Arguments {
				variables(a.Value, used)
			}
		}
	}
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				for _, a := range sel.Arguments {
					variables(a.Value, used)
				}
				directives(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				directives(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				directives(sel.Directives)
				if sel.Definition != nil && !visited[sel.Name] {
					visited[sel.Name] = true
					directives(sel.Definition.Directives)
					walk(sel.Definition.SelectionSet)
				}
			}
		}
	}
	if op := rc.Operation; op != nil {
		directives(op.Directives)
		for _, sel := range op.SelectionSet {
			if f, ok := sel.(*ast.Field); ok {
				// The root field: its directives and selection render,
				// its arguments select.
				directives(f.Directives)
				walk(f.SelectionSet)
				continue
			}
			walk(ast.SelectionSet{sel})
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", viewerKey, rc.OperationName, rc.RawQuery)
	for _, n := range names {
		v, _ := json.Marshal(rc.Variables[n]) // maps encode with sorted keys
		fmt.Fprintf(h, "%s=%s\x00", n, v)
	}
	return string(h.Sum(nil))
}

// variables adds the variables v refers to.
func variables(v *ast.Value, used map[string]bool) {
	if v == nil {
		return
	}
	if v.Kind == ast.Variable {
		used[v.Raw] = true
	}
	for _, c := range v.Children {
		variables(c.Value, used)
	}
}
