package model

import (
	"context"
	"errors"
	"io"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
)

// The Cursor scalar is one opaque string type for every position a client
// resumes from: a connection's edges (entgql's cursors) and the event
// streams' events (event.Cursor, whose strings are the ones the streams
// always handed out). In Go both are an ent.Cursor, so connections keep
// entgql's type; an event position rides in its Value.

// EventCursor returns the Cursor value of an event stream position.
func EventCursor(c event.Cursor) ent.Cursor { return ent.Cursor{Value: c} }

// StreamPosition returns the event stream position a Cursor argument of a
// subscription holds (UnmarshalCursor put it there).
func StreamPosition(c *ent.Cursor) event.Cursor {
	if c == nil {
		return event.Cursor{}
	}
	p, _ := c.Value.(event.Cursor)
	return p
}

// MarshalCursor writes a Cursor: an event position as its own string, a
// connection cursor as entgql encodes it.
func MarshalCursor(c ent.Cursor) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		if p, ok := c.Value.(event.Cursor); ok {
			graphql.MarshalString(p.String()).MarshalGQL(w)
			return nil
		}
		c.MarshalGQL(w)
		return nil
	})
}

// UnmarshalCursor reads a Cursor argument: on a subscription's field, an
// event position (event.ParseCursor); anywhere else, a connection cursor.
// Each kind is refused where the other belongs.
func UnmarshalCursor(ctx context.Context, v any) (ent.Cursor, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Subscription" {
		s, ok := v.(string)
		if !ok {
			return ent.Cursor{}, apierr.BadInput("after", "after must be a string")
		}
		p, err := event.ParseCursor(s)
		return EventCursor(p), err
	}
	var c ent.Cursor
	if err := c.UnmarshalGQL(v); err != nil {
		return c, errors.New("not a cursor of this connection")
	}
	return c, nil
}
