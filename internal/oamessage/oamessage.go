// Package oamessage sends OA messages (README.md, "OA messages"): the five
// kinds a Zalo OA sends its followers by Zalo user ID, no phone number
// needed. TEXT, IMAGE and FORM (a request for the user's information,
// answered by the user_submit_info webhook) are consultation messages;
// PROMOTION and TRANSACTION are the OA's approved templates sent by user
// ID, which replaced Zalo's transaction and promotion endpoints on
// 2026-03-01.
//
// Each is a message of the customer's Zalo conversation, checked here and
// then queued through the inbox (inbox.Service.QueueMessage), so the
// durable delivery queue sends it with the retries and no-loss guarantees
// of replies.
package oamessage

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zns"
)

// Kind is the kind of an OA message (OAMessageKind).
type Kind string

// The kinds of sendOAMessage.
const (
	KindText        Kind = "TEXT"
	KindImage       Kind = "IMAGE"
	KindForm        Kind = "FORM"
	KindPromotion   Kind = "PROMOTION"
	KindTransaction Kind = "TRANSACTION"
)

// Reasons of sendOAMessage's FAILED_PRECONDITION errors, besides the
// channel's (zns.ReasonChannelDisconnected, zns.ReasonChannelUnsupported)
// and the template's (zns.ReasonTemplateNotEnabled,
// zns.ReasonQuotaExhausted, zns.ReasonDoNotContact, and for a PROMOTION
// zns.ReasonQuietHours).
const (
	// ReasonNotAFollower: the customer has no Zalo conversation on the
	// OA, or Zalo told us they no longer follow it.
	ReasonNotAFollower = "NOT_A_FOLLOWER"
	// ReasonOutsideWindow: the customer has not written to the OA in the
	// last 7 days, after which Zalo refuses consultation messages (-230).
	ReasonOutsideWindow = "OUTSIDE_MESSAGING_WINDOW"
)

// Window is how long after the user's last interaction Zalo takes
// consultation messages (docs/providers.md, "Zalo OA Open API"): free for
// the first 48 hours, billed against the OA's quota until 7 days, refused
// after (-230).
const Window = 7 * 24 * time.Hour

// Input is what sendOAMessage takes (schema.graphqls, SendOAMessageInput).
type Input struct {
	ChannelID    gid.ID
	CustomerID   gid.ID
	Kind         Kind
	Text         *string
	ImageURL     *string
	TemplateID   *string
	TemplateData map[string]any
}

// Service sends OA messages over one database.
type Service struct {
	client *ent.Client
	inbox  *inbox.Service
	now    func() time.Time
}

// New returns the service; now nil means time.Now.
func New(client *ent.Client, in *inbox.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, inbox: in, now: now}
}

// checked is an input that passed the rules that need no database.
type checked struct {
	kind     message.Kind
	text     string
	atts     []schematype.Attachment
	content  *schematype.OAContent
	template string
}

// Send checks an OA message and queues it in the customer's latest Zalo
// conversation on the OA; the delivery queue sends it. Users who may see
// the customer and the conversation, and API keys with WRITE, may send.
// Nothing is stored when a rule refuses it. A PROMOTION or TRANSACTION
// message takes one from its template's remaining quota when it is queued;
// the next template sync sets the quota to Zalo's figure again.
func (s *Service) Send(ctx context.Context, in Input) (*ent.Message, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.OrgID == "":
		return nil, apierr.NeedCredentials("authentication required")
	case v.IsAPIKey() && !v.Has(viewer.ScopeWrite):
		return nil, apierr.New(apierr.Forbidden, "sending OA messages needs an API key with the WRITE scope")
	}
	c, err := check(in)
	if err != nil {
		return nil, err
	}
	ch, err := s.client.Channel.Get(ctx, in.ChannelID)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "channel not found")
	}
	if err != nil {
		return nil, err
	}
	if err := zns.CheckChannel(ch); err != nil {
		return nil, err
	}
	cus, err := s.client.Customer.Get(ctx, in.CustomerID)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "customer not found")
	}
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx, ch.OrganizationID)
	idt, err := s.client.Identity.Query().
		Where(identity.ChannelID(ch.ID), identity.CustomerID(cus.ID)).
		Order(ent.Desc(identity.FieldUpdatedAt), ent.Desc(identity.FieldID)).
		First(sys)
	if ent.IsNotFound(err) {
		return nil, apierr.Precondition(ReasonNotAFollower, "the customer has no Zalo ID on this OA")
	}
	if err != nil {
		return nil, err
	}
	if idt.Follower != nil && !*idt.Follower {
		return nil, apierr.Precondition(ReasonNotAFollower, "the customer no longer follows the OA")
	}
	if cus.DoNotContact {
		return nil, apierr.Precondition(zns.ReasonDoNotContact, "the customer asked not to be contacted")
	}
	latest, err := s.client.Conversation.Query().
		Where(conversation.ChannelID(ch.ID), conversation.CustomerID(cus.ID)).
		Order(ent.Desc(conversation.FieldCreatedAt), ent.Desc(conversation.FieldID)).
		FirstID(sys)
	if ent.IsNotFound(err) {
		return nil, apierr.Precondition(ReasonNotAFollower, "the customer has no Zalo conversation on this OA")
	}
	if err != nil {
		return nil, err
	}
	// The message joins that conversation, so the viewer must see it,
	// as a reply's sender must.
	conv, err := s.client.Conversation.Query().Where(conversation.ID(latest)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "conversation not found")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	var tpl *ent.ZnsTemplate
	if c.template == "" {
		if err := s.checkWindow(sys, ch.ID, cus.ID, now); err != nil {
			return nil, err
		}
	} else {
		if tpl, err = s.template(sys, ch.ID, c, in, now); err != nil {
			return nil, err
		}
	}

	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if tpl != nil {
		// Taking one from the quota in the same statement that checks it
		// keeps concurrent sends from overdrawing it.
		n, err := tx.ZnsTemplate.Update().
			Where(znstemplate.ID(tpl.ID), znstemplate.RemainingQuotaGT(0)).
			AddRemainingQuota(-1).
			Save(sys)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, apierr.Precondition(zns.ReasonQuotaExhausted, "the template's daily quota is used up; it resets tomorrow")
		}
	}
	out := inbox.Outgoing{Kind: c.kind, Text: c.text, Attachments: c.atts, Content: c.content}
	if v.IsUser() {
		out.SenderUserID = v.UserID
	}
	msg, created, err := s.inbox.QueueMessage(ctx, tx, conv, out, now)
	if err != nil {
		return nil, err
	}
	if _, err := event.Append(ctx, tx, created); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return msg.Unwrap(), nil
}

// check applies the rules of each kind that need no database: what it
// requires, what it does not take, lengths and URLs.
func check(in Input) (checked, error) {
	text := strings.TrimSpace(deref(in.Text))
	image := strings.TrimSpace(deref(in.ImageURL))
	tplID := strings.TrimSpace(deref(in.TemplateID))
	refuse := func(field string, given bool) error {
		if given {
			return apierr.BadInput(field, "a %s message takes no %s", in.Kind, field)
		}
		return nil
	}
	var c checked
	switch in.Kind {
	case KindText, KindImage, KindForm:
		if err := refuse("templateId", tplID != ""); err != nil {
			return c, err
		}
		if err := refuse("templateData", in.TemplateData != nil); err != nil {
			return c, err
		}
	case KindPromotion, KindTransaction:
		if err := refuse("text", text != ""); err != nil {
			return c, err
		}
		if err := refuse("imageUrl", image != ""); err != nil {
			return c, err
		}
	default:
		return c, apierr.BadInput("kind", "kind must be TEXT, IMAGE, FORM, PROMOTION or TRANSACTION")
	}
	switch in.Kind {
	case KindText:
		if err := refuse("imageUrl", image != ""); err != nil {
			return c, err
		}
		if text == "" {
			return c, apierr.BadInput("text", "a TEXT message needs text")
		}
		c.kind = message.KindTEXT
	case KindImage:
		if err := checkURL(image); err != nil {
			return c, err
		}
		c.kind = message.KindIMAGE
		c.atts = []schematype.Attachment{{Type: inbox.AttachmentImage, URL: image}}
	case KindForm:
		if text == "" {
			return c, apierr.BadInput("text", "a FORM needs a title in text")
		}
		if n := utf8.RuneCountInString(text); n > zalo.MaxFormTitle {
			return c, apierr.BadInput("text", "a FORM's title is at most %d characters; it has %d", zalo.MaxFormTitle, n)
		}
		if err := checkURL(image); err != nil {
			return c, err
		}
		c.kind = message.KindFORM
		c.content = &schematype.OAContent{ImageURL: image}
	case KindPromotion, KindTransaction:
		if tplID == "" {
			return c, apierr.BadInput("templateId", "a %s message needs templateId", in.Kind)
		}
		if in.TemplateData == nil {
			return c, apierr.BadInput("templateData", "a %s message needs templateData", in.Kind)
		}
		c.kind = message.KindPROMOTION
		if in.Kind == KindTransaction {
			c.kind = message.KindTRANSACTION
		}
		c.template = tplID
		c.content = &schematype.OAContent{}
	}
	if n := utf8.RuneCountInString(text); n > inbox.MaxTextLength {
		return c, apierr.BadInput("text", "text is at most %d characters; it has %d", inbox.MaxTextLength, n)
	}
	c.text = text
	return c, nil
}

// checkURL refuses an image URL Zalo could not fetch: Zalo downloads the
// picture itself, so it must be absolute http(s).
func checkURL(raw string) error {
	if raw == "" {
		return apierr.BadInput("imageUrl", "imageUrl is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apierr.BadInput("imageUrl", "imageUrl must be an absolute http(s) URL")
	}
	return nil
}

// checkWindow refuses a consultation message to a customer who has not
// written to the OA within Window.
func (s *Service) checkWindow(ctx context.Context, channelID, customerID gid.ID, now time.Time) error {
	last, err := s.client.Message.Query().
		Where(message.ChannelID(channelID), message.DirectionEQ(message.DirectionINBOUND),
			message.HasConversationWith(conversation.CustomerID(customerID))).
		Order(ent.Desc(message.FieldCreatedAt)).
		First(ctx)
	if ent.IsNotFound(err) {
		return apierr.Precondition(ReasonOutsideWindow, "the customer has never written to the OA; Zalo allows only template messages")
	}
	if err != nil {
		return err
	}
	if now.Sub(last.CreatedAt) > Window {
		return apierr.Precondition(ReasonOutsideWindow, "the customer last wrote to the OA on %s, more than 7 days ago; Zalo allows only template messages", last.CreatedAt.UTC().Format(time.DateOnly))
	}
	return nil
}

// template returns the ENABLE template of the OA a PROMOTION or
// TRANSACTION message sends, with its data checked and stored in c. A
// PROMOTION is refused at now within Zalo's quiet hours, which it would
// refuse (-133), instead of failing once queued.
func (s *Service) template(ctx context.Context, channelID gid.ID, c checked, in Input, now time.Time) (*ent.ZnsTemplate, error) {
	tpl, err := s.client.ZnsTemplate.Query().
		Where(znstemplate.ChannelID(channelID), znstemplate.TemplateID(c.template)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.BadInput("templateId", "the OA has no template %q; sync its templates first", c.template)
	}
	if err != nil {
		return nil, err
	}
	promotion := strings.EqualFold(tpl.Tag, "PROMOTION")
	switch {
	case in.Kind == KindPromotion && !promotion:
		return nil, apierr.BadInput("templateId", "a PROMOTION message needs a PROMOTION template; this one is %s", tpl.Tag)
	case in.Kind == KindTransaction && promotion:
		return nil, apierr.BadInput("templateId", "a TRANSACTION message cannot send a PROMOTION template")
	case tpl.Status != znstemplate.StatusENABLE:
		return nil, apierr.Precondition(zns.ReasonTemplateNotEnabled, "the template is %s; only an ENABLE template can be sent", tpl.Status)
	}
	if err := zns.CheckQuietHours(strings.ToUpper(tpl.Tag), now); err != nil {
		return nil, err
	}
	data, err := zns.CheckParamsAt("templateData", tpl.Params, in.TemplateData)
	if err != nil {
		return nil, err
	}
	if tpl.RemainingQuota <= 0 {
		return nil, apierr.Precondition(zns.ReasonQuotaExhausted, "the template's daily quota is used up; it resets tomorrow")
	}
	c.content.TemplateID, c.content.TemplateData = tpl.TemplateID, data
	return tpl, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
