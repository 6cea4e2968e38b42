package facebook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// The attachment kinds SendAttachment accepts, as the Send API names them.
const (
	AttachmentImage = "image"
	AttachmentFile  = "file"
	AttachmentAudio = "audio"
	AttachmentVideo = "video"
)

// The messaging types and tag the adapter sends.
const (
	messagingResponse   = "RESPONSE"
	messagingMessageTag = "MESSAGE_TAG"
	tagHumanAgent       = "HUMAN_AGENT"
)

// MaxTextLength is the longest text, in characters, the Send API accepts in
// one message.
const MaxTextLength = 2000

// maxAnswerBytes bounds how much of an answer is read. Send API answers are a
// few hundred bytes; anything near this is not the Graph API talking.
const maxAnswerBytes = 1 << 20

// SendOptions changes how a message is sent.
type SendOptions struct {
	// HumanAgent sends the message as MESSAGE_TAG with the HUMAN_AGENT tag
	// instead of as a RESPONSE. It is the only way to answer a customer more
	// than 24 hours after their last message, and works for 7 days; it must
	// only be used for messages an agent wrote.
	HumanAgent bool
}

// SendText sends text from the page to the customer psid and returns the
// message ID Facebook assigned, which is also the mid of the echo webhook
// that follows, so the caller can recognise its own messages coming back.
//
// A timeout or lost connection is transient but ambiguous: Facebook may have
// delivered the message, and the Send API has no idempotency key, so a retry
// can deliver it twice.
func (c *Client) SendText(ctx context.Context, pageID, pageToken, psid, text string, opts SendOptions) (string, error) {
	if text == "" {
		return "", invalidRequest("The message has no text.")
	}
	if utf8.RuneCountInString(text) > MaxTextLength {
		// Facebook's own limit; refusing here gives the agent a clear
		// reason instead of a generic parameter error.
		return "", invalidRequest(fmt.Sprintf("The message is longer than Messenger's %d characters.", MaxTextLength))
	}
	return c.send(ctx, pageID, pageToken, psid, outMessage{Text: text}, opts)
}

// SendAttachment sends the file at mediaURL, which Facebook downloads itself,
// as an attachment of the given kind (AttachmentImage, AttachmentFile,
// AttachmentAudio or AttachmentVideo). It returns the message ID like
// SendText, with the same caveat about retries.
func (c *Client) SendAttachment(ctx context.Context, pageID, pageToken, psid, kind, mediaURL string, opts SendOptions) (string, error) {
	switch kind {
	case AttachmentImage, AttachmentFile, AttachmentAudio, AttachmentVideo:
	default:
		return "", invalidRequest(fmt.Sprintf("Messenger cannot send a %q attachment.", kind))
	}
	// Facebook fetches the URL from its own servers, so only an absolute
	// http(s) URL can work.
	u, err := url.Parse(mediaURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalidRequest("The attachment URL must be an absolute http or https URL.")
	}
	msg := outMessage{Attachment: &outAttachment{Type: kind, Payload: outPayload{URL: mediaURL}}}
	return c.send(ctx, pageID, pageToken, psid, msg, opts)
}

// sendRequest is the Send API request body.
type sendRequest struct {
	Recipient     recipient  `json:"recipient"`
	MessagingType string     `json:"messaging_type"`
	Tag           string     `json:"tag,omitempty"`
	Message       outMessage `json:"message"`
}

type recipient struct {
	ID string `json:"id"`
}

// outMessage carries either Text or Attachment, never both.
type outMessage struct {
	Text       string         `json:"text,omitempty"`
	Attachment *outAttachment `json:"attachment,omitempty"`
}

type outAttachment struct {
	Type    string     `json:"type"`
	Payload outPayload `json:"payload"`
}

type outPayload struct {
	URL string `json:"url"`
}

// sendResponse is the Send API's answer.
type sendResponse struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

func (c *Client) send(ctx context.Context, pageID, pageToken, psid string, msg outMessage, opts SendOptions) (string, error) {
	switch {
	case pageID == "":
		return "", invalidRequest("The Facebook page ID is missing.")
	case pageToken == "":
		return "", invalidRequest("The Facebook page has no access token; reconnect the page.")
	case psid == "":
		return "", invalidRequest("The customer has no Messenger ID.")
	}
	req := sendRequest{
		Recipient:     recipient{ID: psid},
		MessagingType: messagingResponse,
		Message:       msg,
	}
	if opts.HumanAgent {
		req.MessagingType = messagingMessageTag
		req.Tag = tagHumanAgent
	}
	var resp sendResponse
	if err := c.post(ctx, pageToken, "/"+url.PathEscape(pageID)+"/messages", req, &resp); err != nil {
		return "", fmt.Errorf("facebook: send message from page %s: %w", pageID, err)
	}
	if resp.MessageID == "" {
		return "", fmt.Errorf("facebook: send message from page %s: %w: no message_id", pageID, ErrUnexpectedAnswer)
	}
	return resp.MessageID, nil
}

// post sends in as JSON to the versioned Graph API path with the token as the
// access_token query parameter, and decodes a 2xx answer into out.
func (c *Client) post(ctx context.Context, token, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return c.do(ctx, http.MethodPost, path, url.Values{"access_token": {token}}, body, out, token)
}

// do sends one request to the versioned Graph API path with query, and a
// JSON body when body is not nil, and decodes a 2xx answer into out. The
// secrets are redacted from Facebook's error messages; the query, which
// carries them, is never part of an error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any, secrets ...string) error {
	endpoint := c.baseURL + "/" + c.version + path + "?" + query.Encode()

	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, endpoint, rd)
	if err != nil {
		// A bad GraphURL; the parse error quotes the URL, token included.
		return fmt.Errorf("build request: %w", withoutURL(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, reqCtx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return c.transportError(ctx, reqCtx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp.StatusCode, data, secrets...)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %v", ErrUnexpectedAnswer, err)
	}
	return nil
}

// transportError explains a request that got no usable answer, telling the
// caller's cancellation apart from this client's own timeout.
func (c *Client) transportError(parent, reqCtx context.Context, err error) error {
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	switch {
	case parent.Err() != nil:
		return &TransportError{Timeout: errors.Is(parent.Err(), context.DeadlineExceeded), Err: parent.Err()}
	case reqCtx.Err() != nil:
		return &TransportError{Timeout: true, Err: fmt.Errorf("no answer within %s: %w", c.timeout, context.DeadlineExceeded)}
	default:
		return &TransportError{Timeout: timeout, Err: withoutURL(err)}
	}
}

// withoutURL unwraps a *url.Error, whose message quotes the request URL and
// with it the page token.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
