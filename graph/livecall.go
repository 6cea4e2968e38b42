package graph

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/graph/model"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/viewer"
)

// liveCallEvent loads the payload of an event of a LiveTalk call (a CALL
// event naming its conversation). The stream already decided who receives
// it (event's wantsLiveCall): an event addressed to the viewer, such as
// the RINGING of a call they may not see yet, is loaded as the system;
// an unaddressed one as the viewer. A SIGNAL event carries the visitor's
// signal; the agent's own signals are the visitor's and are skipped.
func (r *Resolver) liveCallEvent(ctx context.Context, e *ent.Event, out *model.CallEvent) (*model.CallEvent, error) {
	if e.Type == event.TypeSignal {
		s, err := livecall.DecodeSignal(e)
		if err != nil {
			return nil, err
		}
		if s.From != livecall.SideVisitor {
			return nil, &ent.NotFoundError{}
		}
		out.Signal = s
	}
	if e.AudienceUserID != "" {
		ctx = viewer.SystemContext(ctx, e.OrganizationID)
	}
	c, err := r.Client.Call.Get(ctx, e.CallID)
	if err != nil {
		return nil, err
	}
	out.Call = c
	return out, nil
}
