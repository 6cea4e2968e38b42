package livecall

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

// Side is who sent a signal.
type Side string

// The sides of a call.
const (
	SideVisitor Side = "VISITOR"
	SideAgent   Side = "AGENT"
)

// SignalKind is what a signal carries.
type SignalKind string

// The kinds of signal: WebRTC's SDP offer and answer, an ICE candidate,
// and the hang-up, which also ends the call.
const (
	SignalOffer        SignalKind = "OFFER"
	SignalAnswer       SignalKind = "ANSWER"
	SignalICECandidate SignalKind = "ICE_CANDIDATE"
	SignalHangUp       SignalKind = "HANGUP"
)

// Valid reports whether k is one of the kinds.
func (k SignalKind) Valid() bool {
	switch k {
	case SignalOffer, SignalAnswer, SignalICECandidate, SignalHangUp:
		return true
	}
	return false
}

// Signal is one relayed signal: the JSON payload of a SIGNAL event,
// {"from":"AGENT","kind":"OFFER","data":"v=0…"}.
type Signal struct {
	From Side       `json:"from"`
	Kind SignalKind `json:"kind"`
	// Data is the SDP text, or the ICE candidate as JSON; empty for
	// HANGUP.
	Data string `json:"data"`
}

// SignalInput is a signal an agent sends (the SendCallSignalInput
// GraphQL input).
type SignalInput struct {
	CallID gid.ID
	Kind   SignalKind
	Data   string
}

// AgentSignal relays the signal of the agent of ctx to the visitor of
// their answered call. HANGUP also hangs up.
func (e *Engine) AgentSignal(ctx context.Context, in SignalInput) (*Signal, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsUser() {
		return nil, apierr.New(apierr.Forbidden, "only the agent on the call sends its signals")
	}
	return e.signal(ctx, v.OrgID, in.CallID, "input.", func(c *ent.Call) error {
		if deref(c.OperatorID) != v.UserID {
			return apierr.New(apierr.Forbidden, "this call is not yours")
		}
		return nil
	}, Signal{From: SideAgent, Kind: in.Kind, Data: in.Data})
}

// VisitorSignal relays a signal of the visitor of conversationID to the
// agent who answered their call callID. The visitor API calls it with a
// context of the system of the conversation's organization, once the
// visitor's token proved the conversation theirs; a call of another
// conversation is NOT_FOUND. HANGUP also hangs up. Bad input names the
// fields "kind" and "data".
func (e *Engine) VisitorSignal(ctx context.Context, conversationID, callID gid.ID, kind SignalKind, data string) (*Signal, error) {
	v, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	return e.signal(ctx, v.OrgID, callID, "", visitorOf(conversationID), Signal{From: SideVisitor, Kind: kind, Data: data})
}

// visitorOf refuses a call of another conversation than the visitor's.
func visitorOf(conversationID gid.ID) func(*ent.Call) error {
	return func(c *ent.Call) error {
		if deref(c.ConversationID) != conversationID {
			return apierr.New(apierr.NotFound, "no such LiveTalk call")
		}
		return nil
	}
}

// signal checks s, then appends it about the call in one transaction with
// the call locked: only an answered call carries signals, and a HANGUP
// ends it.
func (e *Engine) signal(ctx context.Context, orgID, callID gid.ID, field string, allowed func(*ent.Call) error, s Signal) (*Signal, error) {
	if !s.Kind.Valid() {
		return nil, apierr.BadInput(field+"kind", "unknown signal kind %q", s.Kind)
	}
	switch {
	case len(s.Data) > MaxSignalBytes:
		return nil, apierr.BadInput(field+"data", "a signal's data is at most %d bytes", MaxSignalBytes)
	case s.Data == "" && s.Kind != SignalHangUp:
		return nil, apierr.BadInput(field+"data", "a %s signal needs its data", s.Kind)
	}
	err := e.inTx(ctx, orgID, func(ctx context.Context, tx *ent.Tx) error {
		c, err := e.lockCall(ctx, tx, orgID, callID)
		if err != nil {
			return err
		}
		if err := allowed(c); err != nil {
			return err
		}
		switch c.Status {
		case entcall.StatusENDED:
			return apierr.Precondition(ReasonCallEnded, "the call has ended")
		case entcall.StatusRINGING:
			if s.Kind == SignalHangUp {
				result := entcall.ResultMISSED // the visitor gave up
				if s.From == SideAgent {
					result = entcall.ResultREJECTED
				}
				_, err := e.end(ctx, tx, c, result)
				return err
			}
			return apierr.Precondition(ReasonCallNotAnswered, "the call has not been answered yet; signals flow once an agent answers")
		}
		if err := appendSignal(ctx, tx, c, s); err != nil {
			return err
		}
		if s.Kind == SignalHangUp {
			_, err = e.end(ctx, tx, c, entcall.ResultANSWERED)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// MarshalGQL writes the side as a GraphQL enum value.
func (s Side) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *Side) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok || (Side(str) != SideVisitor && Side(str) != SideAgent) {
		return fmt.Errorf("%v is not a CallSide", v)
	}
	*s = Side(str)
	return nil
}

// MarshalGQL writes the kind as a GraphQL enum value.
func (k SignalKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads a GraphQL enum value.
func (k *SignalKind) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok || !SignalKind(str).Valid() {
		return fmt.Errorf("%v is not a CallSignalKind", v)
	}
	*k = SignalKind(str)
	return nil
}

var (
	_ graphql.Marshaler   = Side("")
	_ graphql.Unmarshaler = new(Side)
)
