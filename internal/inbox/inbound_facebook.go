package inbox

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/facebook"
)

// facebook applies one stored Messenger event (a webhook of that one
// event, see ReceiveFacebook). Postbacks and events the adapter does not
// know change nothing; their rows stay for diagnosis.
func (p *processing) facebook(ctx context.Context, payload []byte) error {
	wh, err := facebook.ParseWebhook(payload)
	if err != nil || len(wh.Events) != 1 {
		return nil
	}
	e := &wh.Events[0]
	at := p.at(e.Timestamp)
	switch e.Type {
	case facebook.EventMessage:
		return p.message(ctx, facebookMessage(e, message.DirectionINBOUND, at))
	case facebook.EventEcho:
		return p.message(ctx, facebookMessage(e, message.DirectionOUTBOUND, at))
	case facebook.EventDelivery:
		// mids name some delivered messages; the watermark says every
		// message before it was delivered. Either may be missing.
		if err := p.receipt(ctx, e.Delivery.MIDs, message.StatusDELIVERED, at); err != nil {
			return err
		}
		return p.receiptUpTo(ctx, e.CustomerPSID(), e.Delivery.Watermark, message.StatusDELIVERED, at)
	case facebook.EventRead:
		return p.receiptUpTo(ctx, e.CustomerPSID(), e.Read.Watermark, message.StatusSEEN, at)
	}
	return nil
}

// facebookMessage converts a message or echo event.
func facebookMessage(e *facebook.Event, dir message.Direction, at time.Time) incoming {
	m := incoming{
		userID:     e.CustomerPSID(),
		direction:  dir,
		text:       e.Message.Text,
		providerID: e.Message.MID,
		at:         at,
	}
	for _, a := range e.Message.Attachments {
		att := schematype.Attachment{Type: a.Type, URL: a.URL, Name: a.Title}
		if l := a.Location; l != nil {
			lat, lon := l.Latitude, l.Longitude
			att.Latitude, att.Longitude = &lat, &lon
		}
		m.attachments = append(m.attachments, att)
	}
	m.kind = facebookKind(e.Kind(), m.attachments)
	return m
}

// facebookKind maps the kind of a Messenger message to ours. Shares and
// templates arrive as "fallback" attachments: a link when they carry one.
func facebookKind(k facebook.MessageKind, atts []schematype.Attachment) message.Kind {
	switch k {
	case facebook.KindText:
		return message.KindTEXT
	case facebook.KindImage:
		return message.KindIMAGE
	case facebook.KindFile:
		return message.KindFILE
	case facebook.KindAudio:
		return message.KindAUDIO
	case facebook.KindVideo:
		return message.KindVIDEO
	case facebook.KindSticker:
		return message.KindSTICKER
	case facebook.KindLocation:
		return message.KindLOCATION
	}
	for _, a := range atts {
		if a.URL != "" {
			return message.KindLINK
		}
	}
	return message.KindOTHER
}
