package inbox

import (
	"context"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/zalo"
)

// zalo applies a stored Zalo webhook post. ZNS events go to the inbox's
// ZNS first, call permission events to its Calls; events the inbox has no use for (names Zalo may add)
// change nothing, and their rows stay for diagnosis.
func (p *processing) zalo(ctx context.Context, payload []byte) error {
	e, err := zalo.ParseEvent(payload)
	if err != nil || !e.Known() {
		// It parsed when it was received; an event that no longer does was
		// stored by an older version and has nothing for this one.
		return nil
	}
	at := p.at(e.Timestamp)
	if p.zns != nil {
		if handled, err := p.zns.ApplyEvent(ctx, p.tx, p.ch, e, at); handled || err != nil {
			return err
		}
	}
	switch {
	case isZaloUserMessage(e.Name):
		return p.message(ctx, zaloMessage(e, message.DirectionINBOUND, at))
	case e.IsEcho():
		return p.message(ctx, zaloMessage(e, message.DirectionOUTBOUND, at))
	case e.Name == zalo.EventUserReceivedMessage:
		if !e.DeliveryTime.IsZero() {
			at = p.at(e.DeliveryTime)
		}
		return p.receipt(ctx, []string{e.Message.ID}, message.StatusDELIVERED, at)
	case e.Name == zalo.EventUserSeenMessage:
		ids := e.Message.IDs
		if len(ids) == 0 {
			ids = []string{e.Message.ID}
		}
		return p.receipt(ctx, ids, message.StatusSEEN, at)
	case e.Name == zalo.EventFollow:
		return p.follow(ctx, e.UserID(), true)
	case e.Name == zalo.EventUnfollow:
		return p.follow(ctx, e.UserID(), false)
	case e.Name == zalo.EventOASendConsent || e.Name == zalo.EventUserReplyConsent:
		if p.calls == nil {
			return nil
		}
		return p.calls.ApplyConsent(ctx, p.tx, p.ch, e, at)
	case e.Name == zalo.EventUserCallOA || e.Name == zalo.EventOACallUser:
		return p.call(ctx, e, at)
	case e.Name == zalo.EventUserSubmitInfo:
		return p.submitInfo(ctx, e.UserID(), submittedInfo{
			name:    e.Info.Name,
			phone:   e.Info.Phone,
			address: joinNonEmpty(", ", e.Info.Address, e.Info.Ward, e.Info.District, e.Info.City),
		})
	}
	return nil
}

// isZaloUserMessage reports whether the event is a message a user sent
// the OA.
func isZaloUserMessage(n zalo.EventName) bool {
	return n == zalo.EventAnonymousSendText || strings.HasPrefix(string(n), "user_send_")
}

// zaloMessage converts a message event.
func zaloMessage(e *zalo.Event, dir message.Direction, at time.Time) incoming {
	m := incoming{
		userID:     e.UserID(),
		direction:  dir,
		kind:       zaloKind(e.Kind()),
		text:       e.Message.Text,
		providerID: e.Message.ID,
		at:         at,
	}
	for _, a := range e.Message.Attachments {
		att := schematype.Attachment{
			Type: a.Type,
			URL:  a.Payload.URL,
			Name: a.Payload.Name,
			Size: a.Payload.Size,
		}
		if att.URL == "" {
			att.URL = a.Payload.Thumbnail
		}
		if att.Name == "" {
			att.Name = a.Payload.Description
		}
		if c := a.Payload.Coordinates; c != nil {
			lat, lon := c.Latitude, c.Longitude
			att.Latitude, att.Longitude = &lat, &lon
		}
		m.attachments = append(m.attachments, att)
	}
	return m
}

// zaloKind maps the kind of a Zalo message to ours.
func zaloKind(k zalo.Kind) message.Kind {
	switch k {
	case zalo.KindText:
		return message.KindTEXT
	case zalo.KindImage, zalo.KindGIF:
		return message.KindIMAGE
	case zalo.KindFile:
		return message.KindFILE
	case zalo.KindSticker:
		return message.KindSTICKER
	case zalo.KindLink:
		return message.KindLINK
	case zalo.KindLocation:
		return message.KindLOCATION
	case zalo.KindAudio:
		return message.KindAUDIO
	case zalo.KindVideo:
		return message.KindVIDEO
	}
	return message.KindOTHER
}
