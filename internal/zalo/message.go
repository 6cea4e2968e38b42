package zalo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
)

// Open API paths for messages and files.
const (
	messageCSPath  = "/v3.0/oa/message/cs"
	uploadFilePath = "/v2.0/oa/upload/file"
)

// MaxUploadSize is the largest file UploadFile sends, in bytes. Zalo's OA
// documentation limits uploaded files to 5 MB; refusing earlier saves the
// upload and bounds the memory the multipart body takes.
const MaxUploadSize = 5 << 20

// csRequest is the body of POST /v3.0/oa/message/cs.
type csRequest struct {
	Recipient csRecipient `json:"recipient"`
	Message   csMessage   `json:"message"`
}

type csRecipient struct {
	UserID string `json:"user_id"`
}

type csMessage struct {
	Text       string        `json:"text,omitempty"`
	Attachment *csAttachment `json:"attachment,omitempty"`
}

type csAttachment struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

// mediaPayload is the payload of an image sent by URL: a "media" template
// with one image element.
type mediaPayload struct {
	TemplateType string         `json:"template_type"`
	Elements     []mediaElement `json:"elements"`
}

type mediaElement struct {
	MediaType string `json:"media_type"`
	URL       string `json:"url"`
}

// filePayload is the payload of a file previously uploaded with UploadFile.
type filePayload struct {
	Token string `json:"token"`
}

// SendText sends text to the user as a consultation message and returns
// Zalo's message ID.
func (c *Client) SendText(ctx context.Context, token, userID, text string) (string, error) {
	const op = "send text"
	if text == "" {
		return "", invalidArgument(op, "empty text")
	}
	return c.sendMessage(ctx, op, token, userID, csMessage{Text: text})
}

// SendImage sends the image at imageURL to the user, with caption as its
// text when not empty, and returns Zalo's message ID. Zalo fetches the image
// itself, so imageURL must be publicly reachable.
func (c *Client) SendImage(ctx context.Context, token, userID, imageURL, caption string) (string, error) {
	const op = "send image"
	if imageURL == "" {
		return "", invalidArgument(op, "empty image URL")
	}
	return c.sendMessage(ctx, op, token, userID, csMessage{
		Text: caption,
		Attachment: &csAttachment{
			Type: "template",
			Payload: mediaPayload{
				TemplateType: "media",
				Elements:     []mediaElement{{MediaType: "image", URL: imageURL}},
			},
		},
	})
}

// SendFile sends a file uploaded with UploadFile to the user and returns
// Zalo's message ID.
func (c *Client) SendFile(ctx context.Context, token, userID, fileToken string) (string, error) {
	const op = "send file"
	if fileToken == "" {
		return "", invalidArgument(op, "empty file token")
	}
	return c.sendMessage(ctx, op, token, userID, csMessage{
		Attachment: &csAttachment{Type: "file", Payload: filePayload{Token: fileToken}},
	})
}

// sendMessage posts a consultation message and returns data.message_id.
func (c *Client) sendMessage(ctx context.Context, op, token, userID string, msg csMessage) (string, error) {
	if userID == "" {
		return "", invalidArgument(op, "empty user ID")
	}
	body, err := marshalJSON(csRequest{Recipient: csRecipient{UserID: userID}, Message: msg})
	if err != nil {
		return "", wrap(op, err)
	}
	var data struct {
		MessageID flexString `json:"message_id"`
	}
	err = c.openAPI(ctx, messageCSPath, call{
		method:      http.MethodPost,
		contentType: "application/json",
		body:        body,
	}, token, &data)
	if err == nil && data.MessageID == "" {
		err = &MalformedResponseError{Err: errors.New("no data.message_id")}
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return string(data.MessageID), nil
}

// UploadFile uploads the content of r under filename (multipart field
// "file") and returns the token SendFile takes. Zalo accepts PDF, DOC and
// DOCX files of at most MaxUploadSize bytes.
//
// An error reading r is returned wrapped; it has no Transient method, so it
// counts as permanent unless the caller classifies it.
func (c *Client) UploadFile(ctx context.Context, token, filename string, r io.Reader) (string, error) {
	const op = "upload file"
	if filename == "" {
		return "", invalidArgument(op, "empty file name")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return "", wrap(op, err)
	}
	n, err := io.Copy(part, io.LimitReader(r, MaxUploadSize+1))
	if err != nil {
		return "", wrap(op, fmt.Errorf("read file: %w", err))
	}
	if n > MaxUploadSize {
		return "", invalidArgument(op, fmt.Sprintf("file exceeds %d bytes", MaxUploadSize))
	}
	if err := mw.Close(); err != nil {
		return "", wrap(op, err)
	}

	var data struct {
		Token string `json:"token"`
	}
	err = c.openAPI(ctx, uploadFilePath, call{
		method:      http.MethodPost,
		contentType: mw.FormDataContentType(),
		body:        body.Bytes(),
	}, token, &data)
	if err == nil && data.Token == "" {
		err = &MalformedResponseError{Err: errors.New("no data.token")}
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return data.Token, nil
}
