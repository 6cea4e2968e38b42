package connect

import (
	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
)

// ConnectionStatus is whether a channel works (seeds 001, 004: "Đã kết
// nối", "Mất kết nối", "Kết nối fanpage này").
type ConnectionStatus string

// The connection statuses.
const (
	// StatusConnected: the channel works.
	StatusConnected ConnectionStatus = "CONNECTED"
	// StatusConnectionLost: the provider refused the channel's token, or
	// the page stopped sending the app its webhooks; an admin must
	// reconnect it, which keeps its history and settings.
	StatusConnectionLost ConnectionStatus = "CONNECTION_LOST"
	// StatusNotConnected: no channel (a page Facebook lists that the
	// organization has not connected), or one an admin disconnected.
	StatusNotConnected ConnectionStatus = "NOT_CONNECTED"
)

// Status is ch's connection status; a nil ch is NOT_CONNECTED.
func Status(ch *ent.Channel) ConnectionStatus {
	switch {
	case ch == nil:
		return StatusNotConnected
	case ch.Status == channel.StatusCONNECTED:
		return StatusConnected
	case ch.ConnectionLostAt != nil:
		return StatusConnectionLost
	}
	return StatusNotConnected
}
