package graph

import (
	"context"
	"errors"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/graph/model"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gqlws"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// follow turns the viewer's event stream into the subscription's
// payloads: load builds each payload (as the viewer, so privacy still
// applies), and fail builds the last payload when the stream ends with an
// error, such as "resume from your last cursor" for a client that fell
// behind.
//
// Through the WebSocket transport (gqlws) the stream (its goroutine, or its
// organization's dispatcher) renders and writes each payload, shared by the subscriptions that render
// alike; the channel returned then never delivers. A render asks for one
// payload (gqlws.Item), which the channel holds. Through any other
// transport a goroutine forwards the stream to the channel, which is
// unbuffered: the stream's own bounded buffer is where a slow client is
// detected, so no second queue may hide it.
func follow[T any](ctx context.Context, r *Resolver, after *ent.Cursor, opts event.Options,
	load func(context.Context, *ent.Event, event.Cursor) (*T, error), fail func(error) *T) (<-chan *T, error) {
	if item, ok := gqlws.Item(ctx); ok {
		out := make(chan *T, 1)
		out <- item.(*T)
		close(out)
		return out, nil
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apierr.NeedCredentials("authentication required")
	}
	opts.After = model.StreamPosition(after)
	opts.Buffer = r.StreamBuffer
	loadCtx := viewer.NewContext(ctx, withRead(v))
	if sub := gqlws.FromContext(ctx); sub != nil {
		// The stream and the loads run with the subscription's context,
		// not the resolver's: an idle subscription then keeps none of
		// its first execution's state. Loads are shared by the streams
		// rendering alike, so one stream's end must not cancel them.
		ctx := sub.Context()
		loadCtx := context.WithoutCancel(viewer.NewContext(ctx, withRead(v)))
		err := sub.Follow(
			func(d event.Delivery) (any, error) {
				item, err := load(loadCtx, d.Event, d.Cursor)
				if ent.IsNotFound(err) {
					return nil, nil // deleted since, or no longer visible to the viewer
				}
				if err != nil || item == nil {
					return nil, err
				}
				return item, nil
			},
			func(err error) any {
				if err == nil || ctx.Err() != nil {
					return nil
				}
				return fail(resumable(ctx, err))
			},
			func(sink event.Sink) error {
				opts.Sink = sink
				_, err := event.Subscribe(ctx, r.Client, r.Bus, v, opts)
				return err
			})
		if err != nil {
			return nil, err
		}
		return make(chan *T), nil
	}
	stream, err := event.Subscribe(ctx, r.Client, r.Bus, v, opts)
	if err != nil {
		return nil, err
	}
	out := make(chan *T)
	go func() {
		defer close(out)
		send := func(item *T) bool {
			select {
			case out <- item:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for d := range stream.C() {
			item, err := load(loadCtx, d.Event, d.Cursor)
			if ent.IsNotFound(err) {
				continue // deleted since, or no longer visible to the viewer
			}
			if err != nil {
				send(fail(resumable(ctx, err)))
				return
			}
			if !send(item) {
				return
			}
		}
		if err := stream.Err(); err != nil && ctx.Err() == nil {
			send(fail(resumable(ctx, err)))
		}
	}()
	return out, nil
}

// resumable is the error that ends a subscription: the server's own
// failures (a database outage) become the resume error, so clients
// resubscribe from their last cursor instead of giving up, and their
// cause is logged here since the client never sees it.
func resumable(ctx context.Context, err error) error {
	out := event.Resumable(err)
	if e, ok := apierr.As(out); ok && e.Err != nil && !errors.Is(e.Err, event.ErrClosed) {
		requestlog.FromContext(ctx).WarnContext(ctx, "a subscription ended on a server failure; the client will resume", "err", e.Err)
	}
	return out
}

// withRead lends an API key READ for loading the subjects of its events:
// the EVENTS scope is the permission to see them.
func withRead(v *viewer.Viewer) *viewer.Viewer {
	if !v.IsAPIKey() || v.Has(viewer.ScopeRead) {
		return v
	}
	lent := *v
	lent.Scopes = append(slices.Clone(v.Scopes), viewer.ScopeRead)
	return &lent
}
