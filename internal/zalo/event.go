package zalo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventName is the event_name of a webhook event.
type EventName string

// The event names of docs/providers.md. Zalo sends others too; they parse
// like these but are not Known.
const (
	EventUserSendText         EventName = "user_send_text"
	EventUserSendImage        EventName = "user_send_image"
	EventUserSendLink         EventName = "user_send_link"
	EventUserSendAudio        EventName = "user_send_audio"
	EventUserSendVideo        EventName = "user_send_video"
	EventUserSendSticker      EventName = "user_send_sticker"
	EventUserSendLocation     EventName = "user_send_location"
	EventUserSendFile         EventName = "user_send_file"
	EventUserSendBusinessCard EventName = "user_send_business_card"
	EventAnonymousSendText    EventName = "anonymous_send_text"
	// EventUserReceivedMessage reports that a message of the OA (or a ZNS
	// message) reached the user's device.
	EventUserReceivedMessage EventName = "user_received_message"
	// EventUserSeenMessage reports that the user saw messages of the OA,
	// listed in Message.IDs.
	EventUserSeenMessage EventName = "user_seen_message"
	// The oa_send_* message events echo what the OA sent, from this
	// application or from any other client of the OA.
	EventOASendText    EventName = "oa_send_text"
	EventOASendImage   EventName = "oa_send_image"
	EventOASendGIF     EventName = "oa_send_gif"
	EventOASendList    EventName = "oa_send_list"
	EventOASendFile    EventName = "oa_send_file"
	EventOASendSticker EventName = "oa_send_sticker"
	EventFollow        EventName = "follow"
	EventUnfollow      EventName = "unfollow"
	// EventUserSubmitInfo carries the contact form a user filled in (Info).
	EventUserSubmitInfo EventName = "user_submit_info"
	// The call events; their details are uncertain, see Event.Call and
	// Event.Consent.
	EventOASendConsent    EventName = "oa_send_consent"
	EventUserReplyConsent EventName = "user_reply_consent"
	EventUserCallOA       EventName = "user_call_oa"
	EventOACallUser       EventName = "oa_call_user"

	// The ZNS events about an OA's templates and quota.
	EventChangeTemplateStatus EventName = "change_template_status"
	EventChangeOADailyQuota   EventName = "change_oa_daily_quota"
)

// EventNames returns the event names of docs/providers.md.
func EventNames() []EventName {
	return []EventName{
		EventUserSendText, EventUserSendImage, EventUserSendLink, EventUserSendAudio,
		EventUserSendVideo, EventUserSendSticker, EventUserSendLocation, EventUserSendFile,
		EventUserSendBusinessCard, EventAnonymousSendText,
		EventUserReceivedMessage, EventUserSeenMessage,
		EventOASendText, EventOASendImage, EventOASendGIF, EventOASendList,
		EventOASendFile, EventOASendSticker,
		EventFollow, EventUnfollow, EventUserSubmitInfo,
		EventOASendConsent, EventUserReplyConsent, EventUserCallOA, EventOACallUser,
		EventChangeTemplateStatus, EventChangeOADailyQuota,
	}
}

// Known reports whether n is one of EventNames. Unknown events are stored
// or ignored by the webhook, never refused.
func (n EventName) Known() bool { return slices.Contains(EventNames(), n) }

// Kind is the kind of message an event carries.
type Kind string

// The message kinds. KindNone is the kind of events that carry no message
// of their own (receipts, follows, calls) and of unknown message types.
const (
	KindNone         Kind = ""
	KindText         Kind = "text"
	KindImage        Kind = "image"
	KindFile         Kind = "file"
	KindSticker      Kind = "sticker"
	KindLink         Kind = "link"
	KindLocation     Kind = "location"
	KindAudio        Kind = "audio"
	KindVideo        Kind = "video"
	KindGIF          Kind = "gif"
	KindBusinessCard Kind = "business_card"
	KindList         Kind = "list"
)

// Kind returns the kind of message an event of this name carries, from the
// suffix of its *_send_<kind> name.
func (n EventName) Kind() Kind {
	for _, prefix := range []string{"user_send_", "oa_send_", "anonymous_send_"} {
		suffix, ok := strings.CutPrefix(string(n), prefix)
		if !ok {
			continue
		}
		switch k := Kind(suffix); k {
		case KindText, KindImage, KindFile, KindSticker, KindLink, KindLocation,
			KindAudio, KindVideo, KindGIF, KindBusinessCard, KindList:
			return k
		}
		return KindNone
	}
	return KindNone
}

// Event is one webhook post of Zalo, parsed by ParseEvent. Fields absent
// from the post are zero; Raw keeps everything, the fields this type does
// not model included.
type Event struct {
	// Name is event_name.
	Name EventName
	// AppID is app_id, the Zalo app the webhook belongs to.
	AppID string
	// UserIDByApp is user_id_by_app, the user's ID for the app.
	UserIDByApp string
	// Timestamp is when Zalo emitted the event.
	Timestamp time.Time
	// SenderID is sender.id: the user for user → OA events, the OA for
	// echoes and receipts.
	SenderID string
	// RecipientID is recipient.id, the other side of SenderID. For a ZNS
	// receipt it is the phone number (or its hash) the message went to.
	RecipientID string
	// Message is the message of message events and receipts.
	Message Message
	// FollowerID is follower.id of follow and unfollow.
	FollowerID string
	// Info is the form of user_submit_info.
	Info SubmittedInfo
	// DeliveryTime is when a message reached the user's device (ZNS
	// receipts); Timestamp is only when Zalo sent the event.
	DeliveryTime time.Time
	// Call holds the details of the call events.
	Call CallDetails
	// Consent holds the details of the call permission events.
	Consent ConsentDetails
	// Template is the change of change_template_status.
	Template TemplateChange
	// Quota is the change of change_oa_daily_quota.
	Quota QuotaChange
	// Raw is the post's body as received.
	Raw json.RawMessage

	oaID   string // oa_id, when the event has one
	userID string // a top-level user_id, when the event has one
}

// Message is the message of an event.
type Message struct {
	// ID is msg_id.
	ID string
	// Text is the text of a text message, or a caption.
	Text string
	// Attachments are the images, files, stickers, links and locations of
	// the message.
	Attachments []Attachment
	// IDs are the msg_ids of user_seen_message.
	IDs []string
	// TrackingID is the caller's tracking_id, echoed by ZNS receipts.
	TrackingID string
}

// Attachment is one attachment of a message.
type Attachment struct {
	// Type is the attachment type: image, gif, file, sticker, link,
	// location, audio, video…
	Type string
	// Payload describes the attachment; which fields are set depends on
	// Type.
	Payload AttachmentPayload
}

// AttachmentPayload describes an attachment.
type AttachmentPayload struct {
	// URL is where the content can be downloaded (it expires).
	URL string
	// Thumbnail is the URL of a preview image.
	Thumbnail string
	// Name is the file name of a file.
	Name string
	// Size is the size of a file, in bytes.
	Size int64
	// ID identifies a sticker.
	ID string
	// Description describes a link or business card.
	Description string
	// Checksum is the checksum of a file.
	Checksum string
	// FileType is the type of a file, such as "pdf".
	FileType string
	// Coordinates is the place of a location; nil for other attachments.
	Coordinates *Coordinates
}

// Coordinates is a place on Earth, in degrees.
type Coordinates struct {
	Latitude  float64
	Longitude float64
}

// SubmittedInfo is the form of user_submit_info.
type SubmittedInfo struct {
	Name     string
	Phone    string
	Address  string
	City     string
	District string
	Ward     string
}

// CallDetails are the details of user_call_oa and oa_call_user. Their shape
// is uncertain (docs/providers.md), so the values are kept as sent.
type CallDetails struct {
	// ID is call_id, which identifies the call across Zalo's retries.
	ID string
	// Duration is call_duration.
	Duration string
	// TalkTime is talk_time.
	TalkTime string
	// StatusCode is status_code.
	StatusCode string
	// InitTime is init_time, when the call was placed (milliseconds), as
	// sent.
	InitTime string
	// WaitingTime is waiting_time, how long it rang (seconds), as sent.
	WaitingTime string
	// CallType is call_type: AUDIO or VIDEO.
	CallType string
	// AgentID is agent_id, the agent the call link was asked for.
	AgentID string
	// RecordingURL is recording_url, when Zalo recorded the call.
	RecordingURL string
	// Phone is phone, the customer's number as sent (84…): Zalo may name
	// the caller by it instead of, or besides, user_id.
	Phone string
}

// ConsentDetails are the details of oa_send_consent and user_reply_consent.
// Their shape is uncertain (docs/providers.md), so the values are kept as
// sent.
type ConsentDetails struct {
	// Phone is the phone number the permission is about.
	Phone string
	// RequestType is SENT or EXPIRED (oa_send_consent).
	RequestType string
	// UserConsent is ALLOW or USER_BLOCKED (user_reply_consent).
	UserConsent string
	// ExpiredTime is when the permission ends, as sent.
	ExpiredTime string
	// ConfirmedTime is when the user answered (user_reply_consent), as
	// sent.
	ConfirmedTime string
}

// TemplateChange is a ZNS template's new status (change_template_status).
type TemplateChange struct {
	// ID is Zalo's template ID.
	ID string
	// PrevStatus and NewStatus are the statuses as sent: ENABLE,
	// PENDING_REVIEW, REJECT, DISABLE or DELETE.
	PrevStatus, NewStatus string
	// Reason is Zalo's explanation, if any.
	Reason string
}

// QuotaChange is an OA's new daily ZNS quota (change_oa_daily_quota).
type QuotaChange struct {
	Prev, New int
}

// ErrInvalidEvent is wrapped by the errors of ParseEvent: the body is not
// a Zalo event, and the webhook answers 400.
var ErrInvalidEvent = errors.New("invalid webhook event")

// wireID is an {"id": …} object.
type wireID struct {
	ID flexString `json:"id"`
}

// wireEvent is a webhook post as Zalo encodes it.
type wireEvent struct {
	AppID        flexString   `json:"app_id"`
	OAID         flexString   `json:"oa_id"`
	UserIDByApp  flexString   `json:"user_id_by_app"`
	UserID       flexString   `json:"user_id"`
	EventName    string       `json:"event_name"`
	Timestamp    flexString   `json:"timestamp"`
	Sender       wireID       `json:"sender"`
	Recipient    wireID       `json:"recipient"`
	Follower     wireID       `json:"follower"`
	Message      *wireMessage `json:"message"`
	Info         *wireInfo    `json:"info"`
	DeliveryTime flexString   `json:"delivery_time"`

	CallID        flexString `json:"call_id"`
	CallDuration  flexString `json:"call_duration"`
	TalkTime      flexString `json:"talk_time"`
	StatusCode    flexString `json:"status_code"`
	InitTime      flexString `json:"init_time"`
	WaitingTime   flexString `json:"waiting_time"`
	CallType      string     `json:"call_type"`
	AgentID       flexString `json:"agent_id"`
	RecordingURL  string     `json:"recording_url"`
	Phone         flexString `json:"phone"`
	RequestType   string     `json:"request_type"`
	UserConsent   string     `json:"user_consent"`
	ExpiredTime   flexString `json:"expired_time"`
	ConfirmedTime flexString `json:"confirmed_time"`

	// The ZNS template and quota events. Other events may use these names
	// differently, so they are decoded for those two events only.
	TemplateID flexString      `json:"template_id"`
	Status     json.RawMessage `json:"status"`
	Reason     json.RawMessage `json:"reason"`
	Quota      json.RawMessage `json:"quota"`
}

type wireMessage struct {
	MsgID        flexString       `json:"msg_id"`
	Text         string           `json:"text"`
	Attachments  []wireAttachment `json:"attachments"`
	MsgIDs       []flexString     `json:"msg_ids"`
	TrackingID   flexString       `json:"tracking_id"`
	DeliveryTime flexString       `json:"delivery_time"`
}

type wireAttachment struct {
	Type    string `json:"type"`
	Payload struct {
		URL         string     `json:"url"`
		Thumbnail   string     `json:"thumbnail"`
		Name        string     `json:"name"`
		Size        flexString `json:"size"`
		ID          flexString `json:"id"`
		Description string     `json:"description"`
		Checksum    string     `json:"checksum"`
		Type        string     `json:"type"`
		Coordinates *struct {
			Latitude  flexString `json:"latitude"`
			Longitude flexString `json:"longitude"`
		} `json:"coordinates"`
	} `json:"payload"`
}

type wireInfo struct {
	Name     string     `json:"name"`
	Phone    flexString `json:"phone"`
	Address  string     `json:"address"`
	City     string     `json:"city"`
	District string     `json:"district"`
	Ward     string     `json:"ward"`
}

// ParseEvent parses the body of a webhook post. It fails, wrapping
// ErrInvalidEvent, when the body is not a JSON object with an event_name
// and a timestamp, or when a documented field has the wrong type. It does
// not check the signature: see VerifySignature.
func ParseEvent(body []byte) (*Event, error) {
	var w wireEvent
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, invalidEvent(err)
	}
	if w.EventName == "" {
		return nil, invalidEvent(errors.New("no event_name"))
	}
	if w.Timestamp == "" {
		return nil, invalidEvent(errors.New("no timestamp"))
	}
	ts, err := w.Timestamp.millis()
	if err != nil {
		return nil, invalidEvent(fmt.Errorf("timestamp: %w", err))
	}

	e := &Event{
		Name:        EventName(w.EventName),
		AppID:       string(w.AppID),
		UserIDByApp: string(w.UserIDByApp),
		Timestamp:   ts,
		SenderID:    string(w.Sender.ID),
		RecipientID: string(w.Recipient.ID),
		FollowerID:  string(w.Follower.ID),
		Call: CallDetails{
			ID:           string(w.CallID),
			Duration:     string(w.CallDuration),
			TalkTime:     string(w.TalkTime),
			StatusCode:   string(w.StatusCode),
			InitTime:     string(w.InitTime),
			WaitingTime:  string(w.WaitingTime),
			CallType:     w.CallType,
			AgentID:      string(w.AgentID),
			RecordingURL: w.RecordingURL,
		},
		Consent: ConsentDetails{
			Phone:         string(w.Phone),
			RequestType:   w.RequestType,
			UserConsent:   w.UserConsent,
			ExpiredTime:   string(w.ExpiredTime),
			ConfirmedTime: string(w.ConfirmedTime),
		},
		Raw:    slices.Clone(json.RawMessage(body)),
		oaID:   string(w.OAID),
		userID: string(w.UserID),
	}
	if e.Name == EventUserCallOA || e.Name == EventOACallUser {
		e.Call.Phone = string(w.Phone)
	}
	if err := w.parseZNS(e); err != nil {
		return nil, invalidEvent(err)
	}
	if w.Info != nil {
		e.Info = SubmittedInfo{
			Name: w.Info.Name, Phone: string(w.Info.Phone), Address: w.Info.Address,
			City: w.Info.City, District: w.Info.District, Ward: w.Info.Ward,
		}
	}

	// ZNS puts delivery_time in the message; accept it at the top level too.
	delivery := w.DeliveryTime
	if w.Message != nil {
		if e.Message, err = w.Message.parse(); err != nil {
			return nil, invalidEvent(err)
		}
		if w.Message.DeliveryTime != "" {
			delivery = w.Message.DeliveryTime
		}
	}
	if e.DeliveryTime, err = delivery.millis(); err != nil {
		return nil, invalidEvent(fmt.Errorf("delivery_time: %w", err))
	}
	return e, nil
}

// parseZNS fills the template or quota change of the ZNS events.
func (w *wireEvent) parseZNS(e *Event) error {
	switch e.Name {
	case EventChangeTemplateStatus:
		var st struct {
			Prev flexString `json:"prev_status"`
			New  flexString `json:"new_status"`
		}
		var reason flexString
		if len(w.Status) > 0 {
			if err := json.Unmarshal(w.Status, &st); err != nil {
				return fmt.Errorf("status: %w", err)
			}
		}
		if len(w.Reason) > 0 {
			if err := json.Unmarshal(w.Reason, &reason); err != nil {
				reason = flexString(w.Reason) // an object: kept as sent
			}
		}
		if w.TemplateID == "" || st.New == "" {
			return errors.New("change_template_status without template_id or status.new_status")
		}
		e.Template = TemplateChange{ID: string(w.TemplateID), PrevStatus: string(st.Prev), NewStatus: string(st.New), Reason: string(reason)}
	case EventChangeOADailyQuota:
		var q struct {
			Prev flexString `json:"prev_value"`
			New  flexString `json:"new_value"`
		}
		if len(w.Quota) == 0 {
			return errors.New("change_oa_daily_quota without quota")
		}
		if err := json.Unmarshal(w.Quota, &q); err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		prev, err1 := q.Prev.int64()
		next, err2 := q.New.int64()
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		e.Quota = QuotaChange{Prev: int(prev), New: int(next)}
	}
	return nil
}

// parse converts the wire message.
func (w *wireMessage) parse() (Message, error) {
	m := Message{
		ID:         string(w.MsgID),
		Text:       w.Text,
		TrackingID: string(w.TrackingID),
	}
	for _, id := range w.MsgIDs {
		m.IDs = append(m.IDs, string(id))
	}
	for i, wa := range w.Attachments {
		p := wa.Payload
		size, err := p.Size.int64()
		if err != nil {
			return Message{}, fmt.Errorf("attachment %d: size: %w", i, err)
		}
		a := Attachment{Type: wa.Type, Payload: AttachmentPayload{
			URL: p.URL, Thumbnail: p.Thumbnail, Name: p.Name, Size: size, ID: string(p.ID),
			Description: p.Description, Checksum: p.Checksum, FileType: p.Type,
		}}
		if c := p.Coordinates; c != nil {
			lat, errLat := c.Latitude.float64()
			lon, errLon := c.Longitude.float64()
			if err := errors.Join(errLat, errLon); err != nil {
				return Message{}, fmt.Errorf("attachment %d: coordinates: %w", i, err)
			}
			a.Payload.Coordinates = &Coordinates{Latitude: lat, Longitude: lon}
		}
		m.Attachments = append(m.Attachments, a)
	}
	return m, nil
}

// invalidEvent wraps a parse failure in ErrInvalidEvent.
func invalidEvent(err error) error {
	return fmt.Errorf("zalo: %w: %w", ErrInvalidEvent, err)
}

// Known reports whether the event's name is one of EventNames.
func (e *Event) Known() bool { return e.Name.Known() }

// Kind returns the kind of message the event carries, from its name.
func (e *Event) Kind() Kind { return e.Name.Kind() }

// IsEcho reports whether the event echoes a message the OA sent
// (oa_send_*), from this application or any other client of the OA. The
// webhook matches echoes of our own sends by Message.ID.
func (e *Event) IsEcho() bool {
	return strings.HasPrefix(string(e.Name), "oa_send_") && e.Name != EventOASendConsent
}

// oaIsSender reports whether sender.id is the OA: for echoes, and for the
// receipts, which report on a message the OA sent (the sample payloads of
// Zalo's documentation have sender = OA, recipient = user for both). The
// two OA-initiated call events are assumed to follow suit; their shape is
// uncertain, and their oa_id, when present, decides first anyway.
func (e *Event) oaIsSender() bool {
	switch e.Name {
	case EventUserReceivedMessage, EventUserSeenMessage, EventOASendConsent, EventOACallUser:
		return true
	}
	return e.IsEcho()
}

// OAID returns the ID of the OA the event belongs to: oa_id when the event
// has one, else the sender for echoes and receipts, else the recipient.
func (e *Event) OAID() string {
	switch {
	case e.oaID != "":
		return e.oaID
	case e.oaIsSender():
		return e.SenderID
	default:
		return e.RecipientID
	}
}

// UserID returns the ID of the user on the other side of the OA: the
// follower of follow events, else the recipient of echoes and receipts,
// else the sender. It may be empty, e.g. for call permission events, which
// name the user by Consent.Phone.
func (e *Event) UserID() string {
	var id string
	switch {
	case e.FollowerID != "":
		id = e.FollowerID
	case e.oaIsSender():
		id = e.RecipientID
	default:
		id = e.SenderID
	}
	if id == "" {
		id = e.userID
	}
	return id
}

// maxDedupeIDs bounds the length of a seen event's key: past it, the
// message IDs are replaced by their hash.
const maxDedupeIDs = 200

// DedupeKey identifies the event across Zalo's retries, which resend the
// same post: two posts have the same key exactly when they report the same
// thing. It starts with the event name, so that the echo, the receipt and
// the seen event of one message do not collide:
//
//   - an event with a msg_id: "<event>:<msg_id>";
//   - user_seen_message: "<event>:<msg_ids sorted, deduplicated, joined by ,>"
//     (their hash when long), so the order Zalo lists them in does not
//     matter;
//   - a call event: "<event>:<call_id>";
//   - anything else (follow, unfollow, user_submit_info, consents):
//     "<event>:" + SHA-256 of the event name, UserID and timestamp.
func (e *Event) DedupeKey() string {
	prefix := string(e.Name) + ":"
	switch {
	case len(e.Message.IDs) > 0:
		ids := slices.Clone(e.Message.IDs)
		slices.Sort(ids)
		joined := strings.Join(slices.Compact(ids), ",")
		if len(joined) > maxDedupeIDs {
			return prefix + "sha256:" + hashHex(joined)
		}
		return prefix + joined
	case e.Message.ID != "":
		return prefix + e.Message.ID
	case e.Call.ID != "":
		return prefix + e.Call.ID
	case e.Template.ID != "":
		return prefix + e.Template.ID + ":" + e.Template.NewStatus + ":" + strconv.FormatInt(e.Timestamp.UnixMilli(), 10)
	default:
		user := e.UserID()
		if user == "" {
			user = e.Consent.Phone
		}
		ms := strconv.FormatInt(e.Timestamp.UnixMilli(), 10)
		return prefix + hashHex(string(e.Name)+"\x00"+user+"\x00"+ms)
	}
}

// hashHex returns the hex SHA-256 of s.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Expires returns when a granted permission ends (ExpiredTime), or the
// zero time when Zalo gave none: absent, 0, or not a number of
// milliseconds, since the field's shape is uncertain and the product then
// applies its own default.
func (c ConsentDetails) Expires() time.Time {
	t, err := flexString(c.ExpiredTime).millis()
	if err != nil || t.UnixMilli() <= 0 {
		return time.Time{}
	}
	return t
}

// Confirmed returns when the user answered (ConfirmedTime), or the zero
// time when it is absent or not a number of milliseconds.
func (c ConsentDetails) Confirmed() time.Time {
	t, err := flexString(c.ConfirmedTime).millis()
	if err != nil || t.UnixMilli() <= 0 {
		return time.Time{}
	}
	return t
}
