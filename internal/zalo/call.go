package zalo

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Open API paths of OA voice calls (docs/providers.md, "Zalo OA calls").
// Zalo's documentation of them is not public, so they follow integration
// notes; the base URL is configuration.
const (
	requestConsentPath = "/v2.0/oa/call/requestconsent"
	callOutboundPath   = "/v3.0/oa/call/outbound"
)

// CallType is the call_type of a consent request or a call link.
type CallType string

// The call types.
const (
	CallAudio         CallType = "audio"
	CallVideo         CallType = "video"
	CallAudioAndVideo CallType = "audio_and_video"
)

// The reason codes of a consent request.
const (
	ReasonConsultation      = 101 // product or service consultation
	ReasonOrderConfirmation = 103 // order or appointment confirmation
	ReasonDelivery          = 105
	ReasonFlight            = 106
	ReasonOrderUpdate       = 107
)

// ConsentRequest asks a user, by phone, to let the OA call them.
type ConsentRequest struct {
	// Phone is the user's number in Zalo's form, 84xxxxxxxxx.
	Phone string `json:"phone"`
	// CallType is what the OA may place: audio, video or both.
	CallType CallType `json:"call_type"`
	// ReasonCode is one of the Reason constants.
	ReasonCode int `json:"reason_code"`
}

// RequestCallConsent sends the user Zalo's call permission request. The
// answer arrives later by the user_reply_consent webhook.
func (c *Client) RequestCallConsent(ctx context.Context, token string, r ConsentRequest) error {
	const op = "request call consent"
	switch {
	case r.Phone == "" || strings.HasPrefix(r.Phone, "+"):
		return invalidArgument(op, "phone must be in the form 84xxxxxxxxx")
	case r.CallType == "":
		return invalidArgument(op, "empty call type")
	case r.ReasonCode == 0:
		return invalidArgument(op, "no reason code")
	}
	body, err := marshalJSON(r)
	if err != nil {
		return wrap(op, err)
	}
	err = c.openAPI(ctx, requestConsentPath, call{
		method:      http.MethodPost,
		contentType: "application/json",
		body:        body,
	}, token, nil)
	return wrap(op, err)
}

// CallLinkRequest asks for the link through which an operator calls a user.
type CallLinkRequest struct {
	// UserID is the user's Zalo ID on the OA.
	UserID string `json:"user_id"`
	// CallType is audio or video.
	CallType CallType `json:"call_type"`
	// AgentID names the operator to Zalo; optional.
	AgentID string `json:"agent_id,omitempty"`
}

// CallLink is the provider's answer to a CallLinkRequest.
type CallLink struct {
	// Link opens the call in Zalo.
	Link string
	// QRCode is the link as a QR code image (a URL or data URI, as sent).
	QRCode string
	// TTL is how long Zalo keeps the link valid, in seconds, as sent.
	TTL int64
}

// OutboundCallLink requests a call link for calling a user. Zalo requires
// the user to have interacted with the OA in the last 30 days.
func (c *Client) OutboundCallLink(ctx context.Context, token string, r CallLinkRequest) (CallLink, error) {
	const op = "outbound call link"
	switch {
	case r.UserID == "":
		return CallLink{}, invalidArgument(op, "empty user ID")
	case r.CallType != CallAudio && r.CallType != CallVideo:
		return CallLink{}, invalidArgument(op, "call type must be audio or video")
	}
	body, err := marshalJSON(r)
	if err != nil {
		return CallLink{}, wrap(op, err)
	}
	var data struct {
		CallLink flexString `json:"call_link"`
		QRCode   flexString `json:"qr_code"`
		TTL      flexString `json:"ttl"`
	}
	err = c.openAPI(ctx, callOutboundPath, call{
		method:      http.MethodPost,
		contentType: "application/json",
		body:        body,
	}, token, &data)
	if err == nil && data.CallLink == "" {
		err = &MalformedResponseError{Err: errors.New("no data.call_link")}
	}
	if err != nil {
		return CallLink{}, wrap(op, err)
	}
	// A TTL that is not a number is kept as 0: dakenh's ticket has its
	// own, shorter lifetime.
	ttl, _ := data.TTL.int64()
	return CallLink{Link: string(data.CallLink), QRCode: string(data.QRCode), TTL: ttl}, nil
}
