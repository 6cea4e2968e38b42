package livecall

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// entry is a CALL event about c, addressed to audience when not empty.
func entry(c *ent.Call, typ string, audience gid.ID) event.Entry {
	return event.Entry{
		OrgID:          c.OrganizationID,
		Topic:          event.TopicCall,
		Type:           typ,
		ChannelID:      c.ChannelID,
		ConversationID: deref(c.ConversationID),
		CallID:         c.ID,
		AudienceUserID: audience,
	}
}

// announce appends typ about c once addressed to each AGENT it rings and
// once unaddressed: owners and admins (who see every conversation) take
// the unaddressed one, agents only theirs (see event's wantsLiveCall).
func announce(ctx context.Context, tx *ent.Tx, c *ent.Call, typ string) error {
	entries := []event.Entry{entry(c, typ, "")}
	if len(c.RingingUserIds) > 0 {
		ids := make([]gid.ID, len(c.RingingUserIds))
		for i, id := range c.RingingUserIds {
			ids[i] = gid.ID(id)
		}
		agents, err := tx.User.Query().
			Where(user.IDIn(ids...), user.RoleEQ(viewer.RoleAgent)).
			Order(user.ByID()).
			IDs(ctx)
		if err != nil {
			return fmt.Errorf("livecall: loading the agents rung: %w", err)
		}
		for _, id := range agents {
			entries = append(entries, entry(c, typ, id))
		}
	}
	_, err := event.AppendAll(ctx, tx, entries...)
	return err
}

// appendSignal appends s about c, addressed to the agent who answered it.
func appendSignal(ctx context.Context, tx *ent.Tx, c *ent.Call, s Signal) error {
	payload, err := json.Marshal(s)
	if err != nil {
		return err
	}
	e := entry(c, event.TypeSignal, deref(c.OperatorID))
	e.Payload = string(payload)
	_, err = event.Append(ctx, tx, e)
	return err
}

// DecodeSignal returns the signal of a SIGNAL event.
func DecodeSignal(e *ent.Event) (*Signal, error) {
	var s Signal
	if err := json.Unmarshal([]byte(e.Payload), &s); err != nil {
		return nil, fmt.Errorf("livecall: decoding the signal of event %d: %w", e.Seq, err)
	}
	return &s, nil
}

// VisitorEvent is an event of the visitor's conversation that concerns
// their call, as the visitor API forwards it.
type VisitorEvent struct {
	// Type is RINGING, ANSWERED, ENDED or SIGNAL.
	Type string
	// CallID is the call.
	CallID gid.ID
	// Signal is the agent's signal of a SIGNAL event.
	Signal *Signal
}

// ForVisitor reports whether e, an event of the visitor's conversation
// read from its organization's log (as the system, filtered on the
// conversation), goes to the visitor, and what it says: the unaddressed
// RINGING, ANSWERED and ENDED of the conversation's calls (load the call
// for its status, result, times and ICE servers), and the SIGNAL events
// the agent sent. Every other event of topic CALL (the copies addressed to
// agents, REJECTED, the visitor's own signals) is not the visitor's.
func ForVisitor(e *ent.Event) (*VisitorEvent, bool, error) {
	if e.Topic != event.TopicCall || e.CallID == "" || e.ConversationID == "" {
		return nil, false, nil
	}
	switch e.Type {
	case event.TypeRinging, event.TypeAnswered, event.TypeEnded:
		if e.AudienceUserID != "" {
			return nil, false, nil
		}
		return &VisitorEvent{Type: e.Type, CallID: e.CallID}, true, nil
	case event.TypeSignal:
		s, err := DecodeSignal(e)
		if err != nil || s.From != SideAgent {
			return nil, false, err
		}
		return &VisitorEvent{Type: e.Type, CallID: e.CallID, Signal: s}, true, nil
	}
	return nil, false, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
