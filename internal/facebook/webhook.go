package facebook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header carrying the webhook body's signature.
const SignatureHeader = "X-Hub-Signature-256"

// signaturePrefix starts the value of SignatureHeader.
const signaturePrefix = "sha256="

// VerifyChallenge answers Facebook's subscription check,
// GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…: it returns the
// challenge to echo (200, text/plain) and true when the mode is "subscribe",
// the token equals verifyToken and a challenge is present; otherwise the
// caller answers 403. An empty verifyToken never matches, so a channel
// without one cannot be subscribed by anyone.
func VerifyChallenge(query url.Values, verifyToken string) (challenge string, ok bool) {
	challenge = query.Get("hub.challenge")
	if query.Get("hub.mode") != "subscribe" || verifyToken == "" || challenge == "" {
		return "", false
	}
	// Comparing digests takes the same time whatever the tokens' lengths,
	// so the comparison leaks neither the token nor its length.
	got := sha256.Sum256([]byte(query.Get("hub.verify_token")))
	want := sha256.Sum256([]byte(verifyToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return "", false
	}
	return challenge, true
}

// The errors VerifySignature returns; for each the caller answers 401 and
// stores nothing.
var (
	// ErrSignatureMissing means the request has no X-Hub-Signature-256.
	ErrSignatureMissing = errors.New("facebook: webhook signature missing")
	// ErrSignatureMalformed means the header is not "sha256=" and 64 hex
	// digits.
	ErrSignatureMalformed = errors.New("facebook: webhook signature malformed")
	// ErrSignatureMismatch means the signature is not the body's HMAC under
	// the app secret: the body was altered or not sent by Facebook.
	ErrSignatureMismatch = errors.New("facebook: webhook signature does not match")
	// ErrNoAppSecret means the channel has no app secret to check with.
	// Anyone can compute an HMAC under an empty key, so nothing is accepted.
	ErrNoAppSecret = errors.New("facebook: no app secret to verify the webhook signature")
)

// VerifySignature checks header, the value of X-Hub-Signature-256, against
// the raw request body: it must be "sha256=" followed by the hex HMAC-SHA256
// of body under appSecret. The comparison takes constant time.
func VerifySignature(header string, body []byte, appSecret string) error {
	if appSecret == "" {
		return ErrNoAppSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	if len(header) < len(signaturePrefix) || !strings.EqualFold(header[:len(signaturePrefix)], signaturePrefix) {
		return ErrSignatureMalformed
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil || len(got) != sha256.Size {
		return ErrSignatureMalformed
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrSignatureMismatch
	}
	return nil
}

// The errors ParseWebhook returns; for both the HTTP layer answers 400.
var (
	// ErrMalformedWebhook means the body is not the JSON the contract
	// describes.
	ErrMalformedWebhook = errors.New("facebook: malformed webhook")
	// ErrUnsupportedObject means the webhook is about something other than a
	// page, e.g. an Instagram account or a user.
	ErrUnsupportedObject = errors.New("facebook: webhook object is not a page")
)

// Webhook is one webhook POST: several entries, each for one page, each with
// several events, flattened in the order Facebook sent them.
type Webhook struct {
	// Object is always "page".
	Object string
	// Events are the messaging events of every entry.
	Events []Event
}

// EventType says what an Event reports.
type EventType string

// The event types. Unknown covers what the contract does not describe
// (reactions, opt-ins, referrals…), kept so the caller can store and ignore
// them rather than fail the whole batch.
const (
	EventMessage  EventType = "message"
	EventEcho     EventType = "echo"
	EventDelivery EventType = "delivery"
	EventRead     EventType = "read"
	EventPostback EventType = "postback"
	EventUnknown  EventType = "unknown"
)

// Event is one messaging event. Exactly one of Message (for EventMessage and
// EventEcho), Delivery, Read and Postback is set, except for EventUnknown.
type Event struct {
	// Type says what the event reports.
	Type EventType
	// PageID is the page of the entry the event came in.
	PageID string
	// Sender is the PSID of the customer, or the page ID for echoes.
	Sender string
	// Recipient is the page ID, or the customer's PSID for echoes.
	Recipient string
	// Timestamp is when the event happened; the entry's time when the event
	// has none.
	Timestamp time.Time
	// Message is the message received, or sent by the page for an echo.
	Message *Message
	// Delivery reports messages the customer's device received.
	Delivery *Delivery
	// Read reports messages the customer has read.
	Read *Read
	// Postback reports a button the customer tapped.
	Postback *Postback
	// Raw is the event's JSON as Facebook sent it, for storing events this
	// package does not decode.
	Raw json.RawMessage
}

// Message is a message of an EventMessage or EventEcho.
type Message struct {
	// MID is Facebook's message ID; for an echo of a message sent through
	// the Send API it is the ID the send returned.
	MID string
	// Text is the text, empty for attachments only.
	Text string
	// Attachments are the message's files, stickers, locations and shares.
	Attachments []Attachment
	// AppID is, on echoes, the app that sent the message: compare it with
	// our app ID to tell our sends from replies typed in Meta Business Suite.
	AppID string
	// StickerID is set when the message is a sticker (or the like button).
	StickerID string
	// QuickReplyPayload is the payload of the quick reply the customer
	// tapped, if any.
	QuickReplyPayload string
	// ReplyToMID is the message this one replies to, if any.
	ReplyToMID string
}

// Attachment is one attachment of a Message.
type Attachment struct {
	// Type is Facebook's attachment type: image, file, audio, video,
	// location, fallback, template…
	Type string
	// URL is where the file can be downloaded, or what a fallback links to.
	URL string
	// Title is the title of a fallback or location, if any.
	Title string
	// Location is set for location attachments.
	Location *Location
}

// Location is a point a customer shared.
type Location struct {
	// Latitude is in degrees, north positive.
	Latitude float64
	// Longitude is in degrees, east positive.
	Longitude float64
}

// Delivery reports that the customer's device received messages.
type Delivery struct {
	// MIDs are the delivered messages; Facebook may leave it empty.
	MIDs []string
	// Watermark means every message sent before it was delivered.
	Watermark time.Time
}

// Read reports that the customer read messages.
type Read struct {
	// Watermark means every message sent before it was read.
	Watermark time.Time
}

// Postback reports a tap on a postback button.
type Postback struct {
	// MID identifies the postback, when Facebook sends one.
	MID string
	// Title is the button's title.
	Title string
	// Payload is the button's payload.
	Payload string
}

// MessageKind is the kind of content a message carries.
type MessageKind string

// The message kinds Event.Kind returns. Fallback covers shares, templates and
// anything else with no better kind.
const (
	KindText     MessageKind = "text"
	KindImage    MessageKind = "image"
	KindFile     MessageKind = "file"
	KindAudio    MessageKind = "audio"
	KindVideo    MessageKind = "video"
	KindSticker  MessageKind = "sticker"
	KindLocation MessageKind = "location"
	KindFallback MessageKind = "fallback"
)

// CustomerPSID returns the customer's page-scoped ID: the sender, except for
// echoes, which the page sends to the customer.
func (e *Event) CustomerPSID() string {
	if e.Type == EventEcho {
		return e.Recipient
	}
	return e.Sender
}

// DedupeKey returns the key under which a redelivered copy of this event is
// recognised: the mid for messages and echoes; for deliveries and reads, the
// page, customer and watermark, because they carry no ID of their own and a
// later watermark supersedes an earlier one. Postbacks use their mid, or the
// page, customer and timestamp when they have none. It is "" when the event
// cannot be told apart from others (unknown events, messages without mid).
func (e *Event) DedupeKey() string {
	switch {
	case (e.Type == EventMessage || e.Type == EventEcho) && e.Message != nil:
		return e.Message.MID
	case e.Type == EventDelivery && e.Delivery != nil:
		return watermarkKey("delivery", e.PageID, e.CustomerPSID(), e.Delivery.Watermark)
	case e.Type == EventRead && e.Read != nil:
		return watermarkKey("read", e.PageID, e.CustomerPSID(), e.Read.Watermark)
	case e.Type == EventPostback && e.Postback != nil:
		if e.Postback.MID != "" {
			return e.Postback.MID
		}
		return watermarkKey("postback", e.PageID, e.CustomerPSID(), e.Timestamp)
	}
	return ""
}

func watermarkKey(kind, pageID, psid string, at time.Time) string {
	return kind + ":" + pageID + ":" + psid + ":" + strconv.FormatInt(unixMilli(at), 10)
}

// Kind returns what a message or echo carries, judged by its sticker, then
// its first attachment with a kind of its own, then its text; "" for events
// that carry no message.
func (e *Event) Kind() MessageKind {
	if e.Message == nil {
		return ""
	}
	m := e.Message
	// Stickers arrive as image attachments; sticker_id is what tells them
	// apart from photos.
	if m.StickerID != "" {
		return KindSticker
	}
	for _, a := range m.Attachments {
		switch MessageKind(a.Type) {
		case KindImage, KindFile, KindAudio, KindVideo, KindLocation:
			return MessageKind(a.Type)
		}
	}
	// A shared link arrives as text plus a fallback preview: it is text.
	if m.Text != "" {
		return KindText
	}
	return KindFallback
}

// ParseWebhook decodes the body of a webhook POST, which may batch several
// entries and events. It fails with ErrUnsupportedObject for objects other
// than "page" and ErrMalformedWebhook for anything that is not the
// contract's JSON. It does not check the signature: call VerifySignature on
// the same bytes first.
func ParseWebhook(body []byte) (*Webhook, error) {
	var in wireWebhook
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedWebhook, err)
	}
	if in.Object != "page" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedObject, in.Object)
	}
	w := &Webhook{Object: in.Object}
	for _, entry := range in.Entry {
		for _, raw := range entry.Messaging {
			// Unmarshal accepts null for a struct; an event must be an object.
			if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
				return nil, fmt.Errorf("%w: entry %s: event is not an object", ErrMalformedWebhook, entry.ID)
			}
			var ev wireEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("%w: entry %s: %v", ErrMalformedWebhook, entry.ID, err)
			}
			w.Events = append(w.Events, ev.event(entry, raw))
		}
	}
	return w, nil
}

// The wire types mirror the webhook JSON; ParseWebhook maps them onto the
// exported types so callers never handle Facebook's spelling.
type wireWebhook struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	ID   string `json:"id"`
	Time int64  `json:"time"`
	// Messaging is decoded event by event to keep each event's raw JSON.
	Messaging []json.RawMessage `json:"messaging"`
}

type wireEvent struct {
	Sender    wireParty     `json:"sender"`
	Recipient wireParty     `json:"recipient"`
	Timestamp int64         `json:"timestamp"`
	Message   *wireMessage  `json:"message"`
	Delivery  *wireDelivery `json:"delivery"`
	Read      *wireRead     `json:"read"`
	Postback  *wirePostback `json:"postback"`
}

type wireParty struct {
	ID string `json:"id"`
}

type wireMessage struct {
	MID         string           `json:"mid"`
	Text        string           `json:"text"`
	Attachments []wireAttachment `json:"attachments"`
	IsEcho      bool             `json:"is_echo"`
	AppID       numericID        `json:"app_id"`
	StickerID   numericID        `json:"sticker_id"`
	QuickReply  *struct {
		Payload string `json:"payload"`
	} `json:"quick_reply"`
	ReplyTo *struct {
		MID string `json:"mid"`
	} `json:"reply_to"`
}

type wireAttachment struct {
	Type string `json:"type"`
	// Title and URL sit beside the payload on older fallback attachments.
	Title   string `json:"title"`
	URL     string `json:"url"`
	Payload struct {
		URL         string `json:"url"`
		Title       string `json:"title"`
		Coordinates *struct {
			Lat  float64 `json:"lat"`
			Long float64 `json:"long"`
		} `json:"coordinates"`
	} `json:"payload"`
}

type wireDelivery struct {
	MIDs      []string `json:"mids"`
	Watermark int64    `json:"watermark"`
}

type wireRead struct {
	Watermark int64 `json:"watermark"`
}

type wirePostback struct {
	MID     string `json:"mid"`
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// numericID decodes an ID Facebook sends as a JSON number, also accepting a
// string, into its decimal text; float64 would round IDs past 2^53.
type numericID string

func (n *numericID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = numericID(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return err
	}
	*n = numericID(num.String())
	return nil
}

func (ev *wireEvent) event(entry wireEntry, raw json.RawMessage) Event {
	out := Event{
		Type:      EventUnknown,
		PageID:    entry.ID,
		Sender:    ev.Sender.ID,
		Recipient: ev.Recipient.ID,
		Timestamp: fromMilli(ev.Timestamp),
		Raw:       raw,
	}
	if ev.Timestamp == 0 {
		out.Timestamp = fromMilli(entry.Time)
	}
	switch {
	case ev.Message != nil:
		out.Type = EventMessage
		if ev.Message.IsEcho {
			out.Type = EventEcho
		}
		out.Message = ev.Message.message()
	case ev.Delivery != nil:
		out.Type = EventDelivery
		out.Delivery = &Delivery{MIDs: ev.Delivery.MIDs, Watermark: fromMilli(ev.Delivery.Watermark)}
	case ev.Read != nil:
		out.Type = EventRead
		out.Read = &Read{Watermark: fromMilli(ev.Read.Watermark)}
	case ev.Postback != nil:
		out.Type = EventPostback
		out.Postback = &Postback{MID: ev.Postback.MID, Title: ev.Postback.Title, Payload: ev.Postback.Payload}
	}
	return out
}

func (m *wireMessage) message() *Message {
	out := &Message{
		MID:       m.MID,
		Text:      m.Text,
		AppID:     string(m.AppID),
		StickerID: string(m.StickerID),
	}
	if m.QuickReply != nil {
		out.QuickReplyPayload = m.QuickReply.Payload
	}
	if m.ReplyTo != nil {
		out.ReplyToMID = m.ReplyTo.MID
	}
	for _, a := range m.Attachments {
		att := Attachment{Type: a.Type, URL: a.Payload.URL, Title: a.Payload.Title}
		if att.URL == "" {
			att.URL = a.URL
		}
		if att.Title == "" {
			att.Title = a.Title
		}
		if c := a.Payload.Coordinates; c != nil {
			att.Location = &Location{Latitude: c.Lat, Longitude: c.Long}
		}
		out.Attachments = append(out.Attachments, att)
	}
	return out
}

// fromMilli converts Facebook's milliseconds since the epoch, leaving 0 as
// the zero time rather than 1970.
func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
