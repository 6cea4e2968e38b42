package model

import (
	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/livecall"
)

// MessageEvent is one payload of the messageEvents subscription. Err, when
// set, is the error the stream ends with (for example: resume from your last
// cursor). Every field reports it, so the client receives it as a typed
// GraphQL error before the subscription completes whatever it selected, and
// no non-null field comes back empty as an internal error.
type MessageEvent struct {
	Cursor  event.Cursor
	Type    MessageEventType
	Message *ent.Message
	Err     error
}

// ConversationEvent is one payload of the conversationEvents subscription;
// Err is as for MessageEvent.
type ConversationEvent struct {
	Cursor       event.Cursor
	Type         ConversationEventType
	Conversation *ent.Conversation
	Err          error
}

// CallEvent is one payload of the callEvents subscription; Err is as for
// MessageEvent.
type CallEvent struct {
	Cursor     event.Cursor
	Type       string
	Call       *ent.Call
	Permission *ent.CallPermission
	// Signal is a LiveTalk call's SIGNAL (internal/livecall).
	Signal *livecall.Signal
	Err    error
}

// ZnsEvent is one payload of the znsEvents subscription; Err is as for
// MessageEvent.
type ZnsEvent struct {
	Cursor  event.Cursor
	Type    string
	Message *ent.ZnsMessage
	Err     error
}

// UserEvent is one payload of the userEvents subscription; Err is as for
// MessageEvent.
type UserEvent struct {
	Cursor event.Cursor
	Type   UserEventType
	User   *ent.User
	Err    error
}
