package graph

import (
	"context"
	"errors"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/graph/model"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// follow turns the viewer's event stream into a subscription channel:
// load builds each payload (as the viewer, so privacy still applies), and
// fail builds the last payload when the stream ends with an error, such as
// "resume from your last cursor" for a client that fell behind.
//
// The returned channel is unbuffered: the stream's own bounded buffer is
// where a slow client is detected, so no second queue may hide it.
func follow[T any](ctx context.Context, r *Resolver, after *ent.Cursor, opts event.Options,
	load func(context.Context, *ent.Event, event.Cursor) (*T, error), fail func(error) *T) (<-chan *T, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apierr.NeedCredentials("authentication required")
	}
	opts.After = model.StreamPosition(after)
	opts.Buffer = r.StreamBuffer
	stream, err := event.Subscribe(ctx, r.Client, r.Bus, v, opts)
	if err != nil {
		return nil, err
	}
	loadCtx := viewer.NewContext(ctx, withRead(v))
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
