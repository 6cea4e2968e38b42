package livetalk

import (
	"context"
	"sync"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The types of visitor events.
const (
	// EventMessage: a message of the chat, the visitor's or one sent to
	// them, as it now is; a message may come more than once (after a
	// resume), and clients keep the latest by its ID.
	EventMessage = "MESSAGE"
	// EventAgentJoined: an agent was assigned the chat.
	EventAgentJoined = "AGENT_JOINED"
)

// VisitorEvent is one item of visitorEvents: its cursor (resume after it)
// and what happened.
type VisitorEvent struct {
	Cursor event.Cursor
	Type   string
	// Message is the message of an EventMessage.
	Message *ent.Message
	// Agent is who joined (EventAgentJoined) or is typing (EventTyping):
	// their name and presence.
	Agent *Choice
	// Extra is what a Loader registered with HandleEvents returned, for
	// the event types of other features (call signalling).
	Extra any
}

// Loader turns an event of the visitor's conversation into what the
// visitor is told, or nil to tell nothing. ctx is the visitor's (queries
// made with it see only their conversation). A feature that relays
// something to visitors (call signalling) appends events of a topic that
// names the visitor's conversation (event.Entry.ConversationID) and
// registers a Loader for that topic with HandleEvents.
type Loader func(ctx context.Context, v *Visitor, e *ent.Event) (*VisitorEvent, error)

// handlers are the Loaders of other features, by topic.
type handlers struct {
	mu sync.RWMutex
	m  map[event.Topic]Loader
}

// HandleEvents makes visitorEvents hand the events of topic to load.
// MESSAGE and CONVERSATION events, and LIVETALK TYPING ones, are the
// Service's own; LIVETALK events of other types reach the loader of
// TopicLiveTalk. Call it at start-up, before the visitor API serves
// requests.
func (s *Service) HandleEvents(topic event.Topic, load Loader) {
	s.handlers.mu.Lock()
	defer s.handlers.mu.Unlock()
	if s.handlers.m == nil {
		s.handlers.m = map[event.Topic]Loader{}
	}
	s.handlers.m[topic] = load
}

// Events follows the visitor's conversation from after (the zero cursor:
// from now): the messages of the chat and the agents who join it, and
// what HandleEvents' loaders make of other topics. Replies handed over are
// marked DELIVERED. The channel closes when ctx ends or the stream fails;
// the error function then says why (nil when ctx ended it).
func (s *Service) Events(ctx context.Context, v *Visitor, after event.Cursor) (<-chan *VisitorEvent, func() error, error) {
	topics := []event.Topic{event.TopicMessage, event.TopicConversation, event.TopicLiveTalk}
	s.handlers.mu.RLock()
	for t := range s.handlers.m {
		topics = append(topics, t)
	}
	s.handlers.mu.RUnlock()
	// The stream runs as the system of the visitor's organization,
	// narrowed to their conversation; every subject is then loaded as the
	// visitor, under their privacy rule.
	stream, err := event.Subscribe(ctx, s.client, s.bus, &viewer.Viewer{OrgID: v.Viewer.OrgID, System: true}, event.Options{
		Topics:         topics,
		ConversationID: v.Viewer.Visitor.ConversationID,
		After:          after,
	})
	if err != nil {
		return nil, nil, err
	}
	out := make(chan *VisitorEvent)
	var failure error
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		vctx := viewer.NewContext(ctx, v.Viewer)
		sent := map[gid.ID]bool{}
		var agent gid.ID
		for d := range stream.C() {
			item, err := s.load(vctx, v, d, sent, &agent)
			if ent.IsNotFound(err) {
				continue
			}
			if err != nil {
				failure = event.Resumable(err)
				return
			}
			if item == nil {
				continue
			}
			select {
			case out <- item:
			case <-ctx.Done():
				return
			}
			if item.Message != nil {
				sent[item.Message.ID] = true
				// The message handed over is the subscription's to render
				// now: delivered marks a copy, and the visitor learns of
				// the DELIVERED state from its own event.
				m := *item.Message
				if err := s.delivered(ctx, v, &m); err != nil && ctx.Err() == nil {
					failure = event.Resumable(err)
					return
				}
			}
		}
		if err := stream.Err(); err != nil && ctx.Err() == nil {
			failure = event.Resumable(err)
		}
	}()
	errf := func() error {
		var err error
		once.Do(func() { <-done; err = failure })
		return err
	}
	return out, errf, nil
}

// load turns one delivery into the visitor's event, or nil. sent are the
// messages already handed over on this stream, agent the last agent
// announced.
func (s *Service) load(ctx context.Context, v *Visitor, d event.Delivery, sent map[gid.ID]bool, agent *gid.ID) (*VisitorEvent, error) {
	e := d.Event
	switch e.Topic {
	case event.TopicMessage:
		if e.MessageID == "" || sent[e.MessageID] {
			return nil, nil
		}
		m, err := s.client.Message.Get(ctx, e.MessageID)
		if err != nil {
			return nil, err
		}
		if !shown(m) {
			return nil, nil
		}
		return &VisitorEvent{Cursor: d.Cursor, Type: EventMessage, Message: m}, nil
	case event.TopicConversation:
		if e.Type != event.TypeAssigned && e.Type != event.TypeClaimed {
			return nil, nil
		}
		c, err := s.client.Conversation.Get(ctx, v.Viewer.Visitor.ConversationID)
		if err != nil {
			return nil, err
		}
		if c.AssigneeID == nil || *c.AssigneeID == *agent {
			return nil, nil
		}
		*agent = *c.AssigneeID
		// The agent's name is what the widget shows; users are read as
		// the system, the visitor reaching none.
		u, err := s.client.User.Get(systemOf(ctx, v.Viewer.OrgID), *c.AssigneeID)
		if err != nil {
			return nil, err
		}
		return &VisitorEvent{Cursor: d.Cursor, Type: EventAgentJoined,
			Agent: &Choice{ID: u.ID, Name: u.Name, Online: u.Presence == "ONLINE"}}, nil
	case event.TopicLiveTalk:
		if e.Type == EventTyping && e.UserID != "" {
			u, err := s.client.User.Get(systemOf(ctx, v.Viewer.OrgID), e.UserID)
			if err != nil {
				return nil, err
			}
			return &VisitorEvent{Cursor: d.Cursor, Type: EventTyping,
				Agent: &Choice{ID: u.ID, Name: u.Name, Online: u.Presence == "ONLINE"}}, nil
		}
	}
	s.handlers.mu.RLock()
	load := s.handlers.m[e.Topic]
	s.handlers.mu.RUnlock()
	if load == nil {
		return nil, nil
	}
	item, err := load(ctx, v, e)
	if item != nil {
		item.Cursor = d.Cursor
	}
	return item, err
}

// shown reports whether the visitor sees m now: what they sent, and what
// was sent to them, but not a reply still QUEUED (it comes with its SENT
// update), CANCELLED or FAILED.
func shown(m *ent.Message) bool {
	switch m.Status {
	case message.StatusRECEIVED, message.StatusSENT, message.StatusDELIVERED, message.StatusSEEN:
		return true
	}
	return false
}
