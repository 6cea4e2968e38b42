package partner

import (
	"slices"
	"strings"

	"github.com/dakenh/dakenh/internal/event"
)

// AllEvents is the event type an endpoint chooses to receive every event
// of its organization, including types added after it was created.
const AllEvents = "*"

// eventTypes are the event types a partner may choose, as
// "<topic>.<type>" in lower case: every event the subscriptions carry
// (messageEvents, conversationEvents, callEvents, znsEvents, userEvents)
// and the channel events of the log. README.md, "Partner webhooks", lists them
// for partners; a test keeps the two alike.
var eventTypes = []string{
	"message.created",
	"message.updated",

	"conversation.created",
	"conversation.offered",
	"conversation.assigned",
	"conversation.claimed",
	"conversation.status_changed",
	"conversation.updated",
	"conversation.offer_expired",
	"conversation.offer_declined",
	"conversation.waiting",

	"call.ringing",
	"call.answered",
	"call.ended",
	"call.permission_requested",
	"call.permission_granted",
	"call.permission_denied",
	"call.permission_expired",

	"zns.queued",
	"zns.sent",
	"zns.delivered",
	"zns.failed",

	"channel.updated",
	"channel.disconnected",

	"user.presence_changed",
}

// EventTypes returns the event types an endpoint may choose, besides
// AllEvents.
func EventTypes() []string { return slices.Clone(eventTypes) }

// EventType names an event of the log as partners see it:
// "message.created" for a MESSAGE event of type CREATED.
func EventType(topic event.Topic, typ string) string {
	return strings.ToLower(string(topic)) + "." + strings.ToLower(typ)
}

// Wants reports whether an endpoint that chose events receives an event
// of type typ.
func Wants(events []string, typ string) bool {
	return slices.Contains(events, AllEvents) || slices.Contains(events, typ)
}
