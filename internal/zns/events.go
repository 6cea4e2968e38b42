package zns

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/event"
)

// The types of ZNS events (znsEvents): one per status a message reaches.
const (
	EventQueued    = "QUEUED"
	EventSent      = "SENT"
	EventDelivered = "DELIVERED"
	EventFailed    = "FAILED"
)

// appendEvent appends m's ZNS event of type typ in tx, the transaction
// that changed m's status.
func appendEvent(ctx context.Context, tx *ent.Tx, m *ent.ZnsMessage, typ string) error {
	_, err := event.Append(ctx, tx, event.Entry{
		OrgID: m.OrganizationID, Topic: event.TopicZNS, Type: typ,
		ChannelID: m.ChannelID, ZnsMessageID: m.ID,
	})
	return err
}
