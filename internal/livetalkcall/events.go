package livetalkcall

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/livetalk"
)

// eventTopic is the topic of the call events visitors are told of.
const eventTopic = event.TopicCall

// The types of visitor events about calls (the VisitorEventType values of
// graph/visitor/calls.graphqls).
const (
	// EventRinging: the visitor's call rings the agents.
	EventRinging = "CALL_RINGING"
	// EventAnswered: an agent answered it; signals now flow.
	EventAnswered = "CALL_ANSWERED"
	// EventEnded: it ended (call.result says how).
	EventEnded = "CALL_ENDED"
	// EventSignal: the agent's WebRTC signal (an SDP answer or offer, an
	// ICE candidate, or the hang-up).
	EventSignal = "CALL_SIGNAL"
)

var eventTypes = map[string]string{
	event.TypeRinging:  EventRinging,
	event.TypeAnswered: EventAnswered,
	event.TypeEnded:    EventEnded,
	event.TypeSignal:   EventSignal,
}

// Event is the Extra of a visitor event about a call: the call as it now
// is, and the agent's signal of an EventSignal.
type Event struct {
	Call   *ent.Call
	Signal *livecall.Signal
}

// load is the visitorEvents Loader of CALL events: the stream reads the
// visitor's conversation's events only, and livecall.ForVisitor keeps
// those that are the visitor's.
func (s *Service) load(ctx context.Context, v *livetalk.Visitor, e *ent.Event) (*livetalk.VisitorEvent, error) {
	ve, ok, err := livecall.ForVisitor(e)
	if err != nil || !ok {
		return nil, err
	}
	typ, ok := eventTypes[ve.Type]
	if !ok {
		return nil, nil
	}
	c, err := s.Call(ctx, v, ve.CallID)
	if apierr.CodeOf(err) == apierr.NotFound {
		return nil, nil // not the visitor's conversation's call
	}
	if err != nil {
		return nil, err
	}
	return &livetalk.VisitorEvent{Type: typ, Extra: &Event{Call: c, Signal: ve.Signal}}, nil
}
