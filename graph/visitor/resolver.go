package visitor

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/livetalkcall"
)

// Resolver holds what the visitor API's resolvers call.
type Resolver struct {
	Client   *ent.Client
	LiveTalk *livetalk.Service
	// Calls is the visitor's side of LiveTalk calls.
	Calls *livetalkcall.Service
}

// NewSchema returns the executable visitor schema over r.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r})
}

// Request is what the HTTP layer knows of a visitor API request: the
// browser's origin, and the visitor its token authenticated, if any.
type Request struct {
	Origin  string
	Visitor *livetalk.Visitor
}

type requestKey struct{}

// WithRequest returns a context carrying r for the resolvers.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request WithRequest stored, or an empty one.
func RequestFrom(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}

// errOrigin refuses a page on an origin the channel does not allow.
var errOrigin = apierr.New(apierr.Forbidden, "this website's origin may not use this widget")

// channelOf returns the channel of key, if the request's origin may use it.
func (r *Resolver) channelOf(ctx context.Context, key string) (*ent.Channel, error) {
	ch, err := r.LiveTalk.ChannelByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if !livetalk.OriginAllowed(ch, RequestFrom(ctx).Origin) {
		return nil, errOrigin
	}
	return ch, nil
}

// visitor returns the request's visitor, if its origin may use their
// channel; without a token it is UNAUTHENTICATED.
func visitor(ctx context.Context) (*livetalk.Visitor, error) {
	req := RequestFrom(ctx)
	if req.Visitor == nil {
		return nil, apierr.NeedCredentials("send the visitor token startChat returned as Authorization: Visitor <token>")
	}
	if !livetalk.OriginAllowed(req.Visitor.Channel, req.Origin) {
		return nil, errOrigin
	}
	return req.Visitor, nil
}
