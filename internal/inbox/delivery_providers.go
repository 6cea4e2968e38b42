package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Messenger's reply windows (docs/providers.md): a RESPONSE within 24 hours of
// the customer's last message, a HUMAN_AGENT tagged reply within 7 days.
const (
	messengerResponseWindow   = 24 * time.Hour
	messengerHumanAgentWindow = 7 * 24 * time.Hour
)

// outboundRecipient returns the customer's ID on the message's channel: the Zalo
// user ID or the page-scoped ID. After a merge a customer may have several
// on one channel; the most recently active one is used.
func (s *Service) outboundRecipient(ctx context.Context, m *ent.Message) (string, error) {
	idt, err := s.client.Identity.Query().
		Where(identity.ChannelID(m.ChannelID), identity.CustomerID(m.Edges.Conversation.CustomerID)).
		Order(ent.Desc(identity.FieldUpdatedAt), ent.Desc(identity.FieldID)).
		First(ctx)
	if err != nil {
		return "", err
	}
	return idt.ExternalID, nil
}

// sendZalo sends m as an OA consultation message: text, an image by URL
// (with the text as caption), or a file downloaded here and uploaded. A
// token Zalo refuses (-216) is refreshed and the send retried once.
func (s *Service) sendZalo(ctx context.Context, m *ent.Message, ch *ent.Channel) deliveryOutcome {
	userID, err := s.outboundRecipient(ctx, m)
	if ent.IsNotFound(err) {
		return outcomeFailed("The customer has no Zalo ID on this OA.", err)
	}
	if err != nil {
		return outcomeRetry("The customer's Zalo ID could not be loaded.", err)
	}
	var send func(token string) (string, error)
	switch {
	case m.Kind == message.KindFORM && m.Content != nil:
		title, image := m.Text, m.Content.ImageURL
		send = func(token string) (string, error) { return s.out.zalo.SendForm(ctx, token, userID, title, image) }
	case (m.Kind == message.KindPROMOTION || m.Kind == message.KindTRANSACTION) && m.Content != nil:
		tpl, data := m.Content.TemplateID, m.Content.TemplateData
		send = func(token string) (string, error) {
			return s.out.zalo.SendTemplateMessage(ctx, token, userID, tpl, data)
		}
	case len(m.Attachments) == 0:
		send = func(token string) (string, error) { return s.out.zalo.SendText(ctx, token, userID, m.Text) }
	case m.Attachments[0].Type == AttachmentImage:
		url := m.Attachments[0].URL
		send = func(token string) (string, error) { return s.out.zalo.SendImage(ctx, token, userID, url, m.Text) }
	case m.Attachments[0].Type == AttachmentFile:
		f, err := s.downloadAttachment(ctx, m.Attachments[0], zalo.MaxUploadSize)
		if err != nil {
			return downloadFailure(err)
		}
		send = func(token string) (string, error) {
			fileToken, err := s.out.zalo.UploadFile(ctx, token, f.name, bytes.NewReader(f.data))
			if err != nil {
				return "", err
			}
			return s.out.zalo.SendFile(ctx, token, userID, fileToken)
		}
	default:
		return outcomeFailed(fmt.Sprintf("Zalo OA messages cannot carry a %s attachment.", m.Attachments[0].Type), nil)
	}

	token, err := s.zaloTokenForSend(ctx, ch)
	if err != nil {
		return tokenOutcome(err)
	}
	id, err := send(token)
	if zalo.IsTokenInvalid(err) {
		// The token may have been revoked or expired early; another
		// replica may also have refreshed it already, in which case the
		// refresh just returns the new one.
		if token, err = s.zaloToken(ctx, ch.ID, token); err != nil {
			return tokenOutcome(err)
		}
		id, err = send(token)
		if zalo.IsTokenInvalid(err) {
			// Refused right after a refresh: the OA revoked the app.
			o := outcomeRetry(zaloReason(err), err)
			o.lost = &lostToken{channelID: ch.ID, token: token,
				reason: "Zalo refused the OA's access token even after it was refreshed; reconnect the OA."}
			return o
		}
	}
	switch {
	case err == nil:
		return outcomeSent(id)
	case zalo.IsTransient(err):
		return outcomeRetry(zaloReason(err), err)
	default:
		return outcomeFailed(zaloReason(err), err)
	}
}

// zaloTokenForSend returns the channel's stored access token, or refreshes
// it first when it is about to expire; the refresh worker normally did that
// already.
func (s *Service) zaloTokenForSend(ctx context.Context, ch *ent.Channel) (string, error) {
	if exp := ch.AccessTokenExpiresAt; exp != nil && exp.Sub(s.now()) >= ZaloRefreshBefore {
		creds, err := s.Open(ch)
		if err != nil {
			return "", err
		}
		if creds.AccessToken != "" {
			return creds.AccessToken, nil
		}
	}
	return s.zaloToken(ctx, ch.ID, "")
}

// tokenOutcome turns a failure to obtain an access token into the message's
// outcome: a disconnected channel fails it, anything else is retried.
func tokenOutcome(err error) deliveryOutcome {
	if errors.Is(err, ErrConnectionLost) {
		return outcomeRetry(connectionLostReason, err)
	}
	if errors.Is(err, ErrChannelDisconnected) {
		return outcomeFailed("The OA's authorization has expired and the channel was disconnected; reconnect the OA and send the message again.", err)
	}
	if fromZalo(err) && !zalo.IsTransient(err) {
		return outcomeFailed("Zalo did not refresh the OA's access token; check the OA's app ID and secret or reconnect it.", err)
	}
	// Transient provider failures, and our own (the database), pass.
	return outcomeRetry("The OA's access token could not be refreshed for the moment.", err)
}

// fromZalo reports whether err is an answer or refusal of the zalo
// package, as opposed to an error of ours such as the database's.
func fromZalo(err error) bool {
	_, api := errors.AsType[*zalo.APIError](err)
	_, oauth := errors.AsType[*zalo.OAuthError](err)
	_, status := errors.AsType[*zalo.HTTPError](err)
	_, transport := errors.AsType[*zalo.TransportError](err)
	_, malformed := errors.AsType[*zalo.MalformedResponseError](err)
	return api || oauth || status || transport || malformed || errors.Is(err, zalo.ErrInvalidArgument)
}

// zaloReason explains a Zalo send failure to agents.
func zaloReason(err error) string {
	if e, ok := errors.AsType[*zalo.APIError](err); ok {
		switch e.Code {
		case zalo.CodeUserInactive:
			return "The customer has not interacted with the OA in the last 7 days, so Zalo does not allow consultation messages now (error -230)."
		case zalo.CodeUserNotFollower:
			return "The customer does not follow the OA (error -213)."
		case zalo.CodeRateLimited:
			return "Zalo is limiting how fast this OA can send (error -32)."
		case zalo.CodeTokenInvalid:
			return "Zalo refused the OA's access token even after it was refreshed; reconnect the OA."
		}
		if reason, ok := zalo.TemplateFailureReason(e.Code); ok {
			return reason
		}
		msg := strings.TrimSuffix(delivery.Truncate(strings.TrimSpace(e.Message), 200), ".")
		if msg == "" {
			return fmt.Sprintf("Zalo refused the message (error %d).", e.Code)
		}
		return fmt.Sprintf("Zalo refused the message: %s (error %d).", msg, e.Code)
	}
	if e, ok := errors.AsType[*zalo.HTTPError](err); ok {
		if e.Transient() {
			return "Zalo is temporarily unavailable."
		}
		return fmt.Sprintf("Zalo refused the request (HTTP %d).", e.StatusCode)
	}
	if e, ok := errors.AsType[*zalo.TransportError](err); ok {
		if errors.Is(e, context.DeadlineExceeded) {
			return "Zalo did not answer in time."
		}
		return "Could not reach Zalo."
	}
	if _, ok := errors.AsType[*zalo.MalformedResponseError](err); ok {
		return "Zalo gave an unexpected answer; the message may have been sent."
	}
	if errors.Is(err, zalo.ErrInvalidArgument) {
		return "The message is missing something Zalo requires and cannot be sent."
	}
	return "Zalo could not send the message."
}

// sendFacebook sends m through the Send API: a RESPONSE within 24 hours of
// the customer's last message, a HUMAN_AGENT tagged reply (agents only)
// within 7 days, and nothing later.
func (s *Service) sendFacebook(ctx context.Context, m *ent.Message, ch *ent.Channel) deliveryOutcome {
	humanAgent, o, ok := messengerTag(m, s.now())
	if !ok {
		return o
	}
	psid, err := s.outboundRecipient(ctx, m)
	if ent.IsNotFound(err) {
		return outcomeFailed("The customer has no Messenger ID on this page.", err)
	}
	if err != nil {
		return outcomeRetry("The customer's Messenger ID could not be loaded.", err)
	}
	creds, err := s.Open(ch)
	if err != nil {
		return outcomeFailed("The page's credentials cannot be read; reconnect the page.", err)
	}
	send := func(humanAgent bool) (string, error) {
		opts := facebook.SendOptions{HumanAgent: humanAgent}
		if len(m.Attachments) == 0 {
			return s.out.facebook.SendText(ctx, ch.ExternalID, creds.AccessToken, psid, m.Text, opts)
		}
		a := m.Attachments[0]
		return s.out.facebook.SendAttachment(ctx, ch.ExternalID, creds.AccessToken, psid, a.Type, a.URL, opts)
	}
	id, err := send(humanAgent)
	if !humanAgent && outsideResponseWindow(err) && m.SenderType == message.SenderTypeUSER {
		// Facebook's clock says the 24 hours are over although ours did
		// not: an agent's reply may still go out as HUMAN_AGENT.
		id, err = send(true)
	}
	switch {
	case err == nil:
		return outcomeSent(id)
	case facebook.IsTokenInvalid(err):
		// Kept for the reconnect, like the page's other queued replies.
		o := outcomeRetry(facebook.Reason(err), err)
		o.lost = &lostToken{channelID: ch.ID, token: creds.AccessToken,
			reason: "Facebook no longer accepts the page's access token; reconnect the page."}
		return o
	case facebook.IsTransient(err):
		return outcomeRetry(facebook.Reason(err), err)
	default:
		return outcomeFailed(facebook.Reason(err), err)
	}
}

// messengerTag decides how m may be sent at now: as a RESPONSE
// (humanAgent false) or with the HUMAN_AGENT tag. ok is false, with the
// failure outcome, when Messenger would refuse it anyway.
func messengerTag(m *ent.Message, now time.Time) (humanAgent bool, o deliveryOutcome, ok bool) {
	last := m.Edges.Conversation.LastInboundAt
	switch {
	case last == nil:
		return false, outcomeFailed("The customer has never written to this page; Messenger only allows replies to customers who wrote first.", nil), false
	case now.Sub(*last) < messengerResponseWindow:
		return false, deliveryOutcome{}, true
	case now.Sub(*last) >= messengerHumanAgentWindow:
		return false, outcomeFailed("The customer last wrote more than 7 days ago; Messenger no longer allows replies until they write again.", nil), false
	case m.SenderType != message.SenderTypeUSER:
		return false, outcomeFailed("The customer last wrote more than 24 hours ago; Messenger then only accepts a reply written by a person (HUMAN_AGENT), within 7 days.", nil), false
	default:
		return true, deliveryOutcome{}, true
	}
}

// outsideResponseWindow reports Facebook's refusal of a RESPONSE outside
// the 24 hour window (code 10, subcode 2018278).
func outsideResponseWindow(err error) bool {
	e, ok := errors.AsType[*facebook.APIError](err)
	return ok && e.Code == 10 && e.Subcode == 2018278
}
