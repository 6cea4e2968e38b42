package zalo

import (
	"context"
	"errors"
	"net/http"
)

// DefaultTemplateMessagePath is the path of template messages by user ID
// (docs/providers.md, "Zalo OA Open API").
const DefaultTemplateMessagePath = "/v3.0/oa/message/template"

// MaxFormTitle is the longest title of a form Zalo takes, in characters.
const MaxFormTitle = 100

// formPayload is the payload of a request_user_info template: Zalo shows
// the user a card asking for their name, phone and address, and the answer
// comes back as the user_submit_info webhook.
type formPayload struct {
	TemplateType string        `json:"template_type"`
	Elements     []formElement `json:"elements"`
}

type formElement struct {
	Title    string `json:"title"`
	ImageURL string `json:"image_url"`
}

// SendForm sends the user a form asking for their information, with title
// and the picture at imageURL, as a consultation message, and returns
// Zalo's message ID.
func (c *Client) SendForm(ctx context.Context, token, userID, title, imageURL string) (string, error) {
	const op = "send form"
	if title == "" || imageURL == "" {
		return "", invalidArgument(op, "a form needs a title and an image URL")
	}
	return c.sendMessage(ctx, op, token, userID, csMessage{
		Attachment: &csAttachment{
			Type: "template",
			Payload: formPayload{
				TemplateType: "request_user_info",
				Elements:     []formElement{{Title: title, ImageURL: imageURL}},
			},
		},
	})
}

// templateRequest is the body of a template message by user ID.
type templateRequest struct {
	UserID       string            `json:"user_id"`
	TemplateID   string            `json:"template_id"`
	TemplateData map[string]string `json:"template_data"`
}

// SendTemplateMessage sends the OA's approved template templateID with
// data to the user by Zalo user ID (the transaction and promotion messages
// since 2026-03-01) and returns Zalo's message ID. Zalo answers with the
// ZNS codes (TemplateFailureReason), and CodeTemplateNotByUserID for a
// template approved before it allowed this.
func (c *Client) SendTemplateMessage(ctx context.Context, token, userID, templateID string, data map[string]string) (string, error) {
	const op = "send template message"
	if userID == "" || templateID == "" {
		return "", invalidArgument(op, "empty user or template ID")
	}
	if data == nil {
		data = map[string]string{}
	}
	body, err := marshalJSON(templateRequest{UserID: userID, TemplateID: templateID, TemplateData: data})
	if err != nil {
		return "", wrap(op, err)
	}
	var out struct {
		MessageID flexString `json:"message_id"`
	}
	err = c.openAPI(ctx, c.templatePath, call{method: http.MethodPost, contentType: "application/json", body: body}, token, &out)
	if err == nil && out.MessageID == "" {
		err = &MalformedResponseError{Err: errors.New("no data.message_id")}
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return string(out.MessageID), nil
}
