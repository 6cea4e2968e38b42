// Package livetalkcall is the visitor's side of LiveTalk calls (README.md,
// "Call minutes and LiveTalk calls"): what the visitor API (graph/visitor)
// does when a website visitor calls from their chat. It joins the visitor
// of internal/livetalk, whose token proved one conversation theirs, to the
// call engine of internal/livecall: a visitor starts, signals and hangs up
// only calls of their own conversation; the kinds of call a widget offers
// are its LiveTalk settings' enabled functions; and the call events of the
// visitor's conversation reach their visitorEvents stream, never the
// staff-only ones (the copies addressed to agents, REJECTED, the visitor's
// own signals).
package livetalkcall

import (
	"context"
	"slices"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Service is the visitor's side of LiveTalk calls.
type Service struct {
	client  *ent.Client
	calls   *livecall.Engine
	minutes *callminutes.Service
}

// New returns the service over the call engine and the call minutes.
func New(client *ent.Client, calls *livecall.Engine, minutes *callminutes.Service) *Service {
	return &Service{client: client, calls: calls, minutes: minutes}
}

// Register makes the engine take only the kinds of call each widget's
// settings enable, and lt's visitorEvents forward the visitor's call
// events. Call it once at start-up, before either serves requests.
func (s *Service) Register(lt *livetalk.Service) {
	s.calls.SetKindPolicy(s.takes)
	lt.HandleEvents(eventTopic, s.load)
}

// Kinds returns the kinds of call ch's widget offers: the audio and video
// functions its LiveTalk settings enable (chat is always on, calls are
// optional). Another kind of channel offers none.
func (s *Service) Kinds(ctx context.Context, ch *ent.Channel) ([]entcall.Kind, error) {
	if ch.Kind != channel.KindLIVETALK {
		return nil, nil
	}
	st, err := livetalk.SettingsOf(viewer.SystemContext(ctx, ch.OrganizationID), s.client, ch)
	if err != nil || st == nil {
		return nil, err
	}
	var out []entcall.Kind
	for _, k := range []entcall.Kind{entcall.KindAUDIO, entcall.KindVIDEO} {
		if slices.Contains(st.Functions, string(k)) {
			out = append(out, k)
		}
	}
	return out, nil
}

// takes is the engine's KindPolicy.
func (s *Service) takes(ctx context.Context, ch *ent.Channel, kind entcall.Kind) (bool, error) {
	kinds, err := s.Kinds(ctx, ch)
	return slices.Contains(kinds, kind), err
}

// Available reports whether a visitor of ch may start a call now: the
// widget offers a kind of call and the organization has minutes left this
// month. The widget hides its call buttons otherwise.
func (s *Service) Available(ctx context.Context, ch *ent.Channel) (bool, error) {
	kinds, err := s.Kinds(ctx, ch)
	if err != nil || len(kinds) == 0 {
		return false, err
	}
	b, err := s.minutes.Get(viewer.SystemContext(ctx, ch.OrganizationID))
	if err != nil {
		return false, err
	}
	return b.RemainingMinutes > 0, nil
}

// system returns a context of the system of v's organization, and v's
// conversation: the engine's visitor operations take both once the token
// proved the conversation the visitor's.
func system(ctx context.Context, v *livetalk.Visitor) (context.Context, gid.ID) {
	return viewer.SystemContext(ctx, v.Viewer.OrgID), v.Viewer.Visitor.ConversationID
}

// Start is the visitor calling from their chat (livecall.Engine.Start:
// CALLS_DISABLED for a kind the widget does not offer, CALL_IN_PROGRESS,
// NO_CALL_MINUTES, BAD_USER_INPUT on "kind").
func (s *Service) Start(ctx context.Context, v *livetalk.Visitor, kind entcall.Kind) (*ent.Call, error) {
	sys, conv := system(ctx, v)
	return s.calls.Start(sys, conv, kind)
}

// Signal relays the visitor's signal to the agent who answered their call;
// HANGUP also hangs up. Another conversation's call is NOT_FOUND; bad
// input names "kind" and "data".
func (s *Service) Signal(ctx context.Context, v *livetalk.Visitor, callID gid.ID, kind livecall.SignalKind, data string) (*livecall.Signal, error) {
	sys, conv := system(ctx, v)
	return s.calls.VisitorSignal(sys, conv, callID, kind, data)
}

// HangUp is the visitor hanging up their call (livecall's VisitorHangUp);
// another conversation's call is NOT_FOUND.
func (s *Service) HangUp(ctx context.Context, v *livetalk.Visitor, callID gid.ID) (*ent.Call, error) {
	sys, conv := system(ctx, v)
	return s.calls.VisitorHangUp(sys, conv, callID)
}

// Call returns a call of the visitor's conversation; another's is
// NOT_FOUND.
func (s *Service) Call(ctx context.Context, v *livetalk.Visitor, callID gid.ID) (*ent.Call, error) {
	sys, conv := system(ctx, v)
	return s.calls.Call(sys, conv, callID)
}

// IceServers returns the STUN and TURN servers of c, the same the agent
// gets.
func (s *Service) IceServers(c *ent.Call) []livecall.IceServer { return s.calls.IceServers(c) }
