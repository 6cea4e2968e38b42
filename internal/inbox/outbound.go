package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Options configures what New leaves at production defaults: the provider
// clients the delivery worker and the token refresher call, and the clock.
// The zero value is production: Zalo's and Facebook's real servers and the
// wall clock.
type Options struct {
	// Zalo sends OA messages and refreshes OA tokens. Nil means a client
	// for Zalo's production servers.
	Zalo *zalo.Client
	// Facebook sends Messenger messages. Nil means a client for the real
	// Graph API.
	Facebook *facebook.Client
	// DownloadClient fetches the files a Zalo file message uploads. Nil
	// means a client that refuses loopback, private and link-local
	// addresses, since the URLs come from API callers and must not reach
	// the server's own network; tests pass their own to reach httptest.
	DownloadClient *http.Client
	// Now is the clock of leases, retries, token expiry and the Messenger
	// window. Nil means time.Now; tests pass a clock they advance.
	Now func() time.Time
	// Logger receives delivery and refresh outcomes (IDs and error
	// classes, never message text or tokens). Nil discards them.
	Logger *slog.Logger
	// Router distributes the conversations inbound messages open, in
	// the transaction that opens them. Nil leaves them undistributed.
	Router *distribute.Engine
}

// outbound is the Service's sending side: provider clients, the delivery
// worker's wake-up channel and the in-process token locks.
type outbound struct {
	zalo     *zalo.Client
	facebook *facebook.Client
	download *http.Client
	logger   *slog.Logger
	// worker delivers the message table's QUEUED replies.
	worker *delivery.Worker[deliveryOutcome]
	// tokenLocks serialize the refreshes of one OA within this process
	// (see lockToken); the database lock does so across processes.
	tokenLocks [tokenLockStripes]chan struct{}
}

// configure applies opts (the last one given wins) over the defaults.
func (s *Service) configure(opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	if o.Now != nil {
		s.now = o.Now
	}
	s.out.zalo = o.Zalo
	if s.out.zalo == nil {
		s.out.zalo = zalo.New(zalo.Config{Now: s.now})
	}
	s.out.facebook = o.Facebook
	if s.out.facebook == nil {
		s.out.facebook = facebook.New(facebook.Config{})
	}
	s.out.download = o.DownloadClient
	if s.out.download == nil {
		s.out.download = publicOnlyClient()
	}
	s.router = o.Router
	s.out.logger = o.Logger
	if s.out.logger == nil {
		s.out.logger = slog.New(slog.DiscardHandler)
	}
	s.out.worker = delivery.New(messageQueue{s}, delivery.Config{
		Name: "message", LogKey: "message_id", Logger: s.out.logger,
		Now: func() time.Time { return s.now() },
	})
	for i := range s.out.tokenLocks {
		s.out.tokenLocks[i] = make(chan struct{}, 1)
	}
}

// MaxTextLength is the longest message text sendMessage accepts, in
// characters: Messenger's limit, and Zalo's for consultation messages.
// Refusing it up front tells the agent at once instead of failing later.
const MaxTextLength = 2000

// Attachment types sendMessage accepts (schematype.Attachment.Type).
const (
	AttachmentImage = "image"
	AttachmentFile  = "file"
	AttachmentAudio = "audio"
	AttachmentVideo = "video"
)

// Reasons of the FAILED_PRECONDITION errors of SendMessage.
const (
	// ReasonChannelDisconnected: the conversation's channel is
	// DISCONNECTED; reconnect it first.
	ReasonChannelDisconnected = "CHANNEL_DISCONNECTED"
	// ReasonChannelUnsupported: the channel kind has no outbound provider
	// here.
	ReasonChannelUnsupported = "CHANNEL_UNSUPPORTED"
)

// SendMessageInput is what sendMessage takes (schema.graphqls): the conversation to
// answer, and text, one attachment, or both where the provider sends them
// as one message (an image with a caption on Zalo).
type SendMessageInput struct {
	ConversationID gid.ID
	Text           string
	// Attachments is a list for the API's sake; one message row is one
	// provider message, so at most one attachment is accepted for now.
	Attachments []schematype.Attachment
}

// SendMessage stores a reply as QUEUED, in the same transaction as its
// MESSAGE CREATED event and the conversation's new last_message_at, and
// wakes the delivery worker, which sends it afterwards with retries
// (delivery.go). The sender is the viewer, or SYSTEM for an API key. The
// reply also tells the inbox's Automation that the conversation was
// answered, in the same transaction.
//
// A conversation the viewer may not see (another organization's, or an
// ONLY_ME channel's of someone else) is NOT_FOUND; a DISCONNECTED channel
// is FAILED_PRECONDITION with reason CHANNEL_DISCONNECTED.
func (s *Service) SendMessage(ctx context.Context, in SendMessageInput) (*ent.Message, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	kind, atts, err := checkOutgoing(in)
	if err != nil {
		return nil, err
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()

	// The privacy policy decides visibility: a conversation the viewer may
	// not see is not found, exactly like one that does not exist.
	conv, err := tx.Conversation.Query().Where(conversation.ID(in.ConversationID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "conversation not found")
	}
	if err != nil {
		return nil, err
	}
	// Before the reply is written: a timer worker running one of the
	// conversation's timers holds the timer's row and then the
	// conversation's, so the timers must be touched first (see
	// Automation).
	if err := s.automation.Replied(ctx, tx, conv); err != nil {
		return nil, err
	}
	msg, created, err := s.QueueMessage(ctx, tx, conv, Outgoing{
		Kind: kind, Text: in.Text, Attachments: atts, SenderUserID: v.UserID,
	}, s.now())
	if err != nil {
		return nil, err
	}
	if _, err := event.Append(ctx, tx, created); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	// Unwrap detaches the row from the committed transaction, so the
	// resolvers can load its edges.
	return msg.Unwrap(), nil
}

// Outgoing is a message to queue in a conversation: text, one attachment,
// or both (as checkOutgoing and checkChannelCanSend allow), and who sends
// it.
type Outgoing struct {
	Kind        message.Kind
	Text        string
	Attachments []schematype.Attachment
	// SenderUserID is the user who wrote the message; empty means the
	// system (an API key, an auto-message).
	SenderUserID gid.ID
	// AutoMessageID names the auto-message the system sends it for.
	AutoMessageID gid.ID
	// Content is an OA message's form picture or template
	// (internal/oamessage); nil for replies.
	Content *schematype.OAContent
}

// QueueMessage stores out in conv as QUEUED and due at now, and moves the
// conversation's last_message_at; the delivery worker sends it once tx
// commits (the commit wakes this process's worker). conv's channel must be
// loaded; one that cannot send out is refused as SendMessage refuses it.
//
// It returns the message and its MESSAGE CREATED event, which the caller
// appends to the log as late in tx as it can, since Append holds the
// organization's event counter until the commit.
func (s *Service) QueueMessage(ctx context.Context, tx *ent.Tx, conv *ent.Conversation, out Outgoing, now time.Time) (*ent.Message, event.Entry, error) {
	if err := checkChannelCanSend(conv.Edges.Channel, out.Text, out.Attachments); err != nil {
		return nil, event.Entry{}, err
	}
	create := tx.Message.Create().
		SetConversationID(conv.ID).
		SetChannelID(conv.ChannelID).
		SetDirection(message.DirectionOUTBOUND).
		SetKind(out.Kind).
		SetStatus(message.StatusQUEUED).
		SetNextAttemptAt(now)
	if out.Text != "" {
		create.SetText(out.Text)
	}
	if len(out.Attachments) > 0 {
		create.SetAttachments(out.Attachments)
	}
	if out.SenderUserID != "" {
		create.SetSenderType(message.SenderTypeUSER).SetSenderUserID(out.SenderUserID)
	} else {
		create.SetSenderType(message.SenderTypeSYSTEM)
	}
	if out.AutoMessageID != "" {
		create.SetAutoMessageID(out.AutoMessageID)
	}
	if out.Content != nil {
		create.SetContent(out.Content)
	}
	msg, err := create.Save(ctx)
	if err != nil {
		return nil, event.Entry{}, err
	}
	if err := setLastMessage(tx.Conversation.UpdateOneID(conv.ID).SetLastMessageAt(now), msg).Exec(ctx); err != nil {
		return nil, event.Entry{}, err
	}
	s.out.worker.NudgeOnCommit(tx)
	return msg, event.Entry{
		OrgID: conv.OrganizationID, Topic: event.TopicMessage, Type: event.TypeCreated,
		ChannelID: conv.ChannelID, ConversationID: conv.ID, MessageID: msg.ID,
	}, nil
}

// checkOutgoing validates what does not depend on the channel and returns
// the message's kind and its normalized attachments.
func checkOutgoing(in SendMessageInput) (message.Kind, []schematype.Attachment, error) {
	text := strings.TrimSpace(in.Text)
	switch {
	case text == "" && len(in.Attachments) == 0:
		return "", nil, apierr.BadInput("text", "a message needs text or an attachment")
	case in.Text != "" && text == "":
		return "", nil, apierr.BadInput("text", "text cannot be only spaces")
	case utf8.RuneCountInString(in.Text) > MaxTextLength:
		return "", nil, apierr.BadInput("text", "text is longer than %d characters", MaxTextLength)
	case len(in.Attachments) > 1:
		return "", nil, apierr.BadInput("attachments", "send one attachment per message")
	case len(in.Attachments) == 0:
		return message.KindTEXT, nil, nil
	}
	a := in.Attachments[0]
	a.Type = strings.ToLower(strings.TrimSpace(a.Type))
	a.URL = strings.TrimSpace(a.URL)
	a.Name = strings.TrimSpace(a.Name)
	a.Latitude, a.Longitude = nil, nil
	var kind message.Kind
	switch a.Type {
	case AttachmentImage:
		kind = message.KindIMAGE
	case AttachmentFile:
		kind = message.KindFILE
	case AttachmentAudio:
		kind = message.KindAUDIO
	case AttachmentVideo:
		kind = message.KindVIDEO
	default:
		return "", nil, apierr.BadInput("attachments", "attachment type must be image, file, audio or video")
	}
	if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(a.URL) > 2048 {
		// The provider (or our downloader) fetches it, so only an absolute
		// http(s) URL can work.
		return "", nil, apierr.BadInput("attachments", "attachment url must be an absolute http or https URL of at most 2048 characters")
	}
	if utf8.RuneCountInString(a.Name) > 255 {
		return "", nil, apierr.BadInput("attachments", "attachment name is longer than 255 characters")
	}
	if a.Size < 0 {
		return "", nil, apierr.BadInput("attachments", "attachment size cannot be negative")
	}
	return kind, []schematype.Attachment{a}, nil
}

// checkChannelCanSend refuses what the conversation's channel cannot send as one
// provider message.
func checkChannelCanSend(ch *ent.Channel, text string, atts []schematype.Attachment) error {
	if ch.Status != channel.StatusCONNECTED {
		return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonChannelDisconnected,
			Message: "the conversation's channel is disconnected; reconnect it to send messages"}
	}
	if len(atts) == 0 || ch.Kind == channel.KindLIVETALK {
		// The website widget shows text and any attachment together.
		return nil
	}
	typ, hasText := atts[0].Type, strings.TrimSpace(text) != ""
	switch ch.Kind {
	case channel.KindZALO_OA:
		switch {
		case typ != AttachmentImage && typ != AttachmentFile:
			return apierr.BadInput("attachments", "Zalo OA messages carry an image or a file")
		case typ == AttachmentFile && hasText:
			return apierr.BadInput("attachments", "Zalo sends a file without text; send the text as its own message")
		}
	case channel.KindFACEBOOK_PAGE:
		if hasText {
			return apierr.BadInput("attachments", "Messenger sends text and an attachment as separate messages; send the text on its own")
		}
	default:
		return unsupportedChannel(ch.Kind)
	}
	return nil
}

func unsupportedChannel(k channel.Kind) error {
	return &apierr.Error{Code: apierr.FailedPrecondition, Reason: ReasonChannelUnsupported,
		Message: fmt.Sprintf("sending messages is not supported on %s channels", k)}
}

// ErrChannelDisconnected is wrapped by ZaloAccessToken's error for a
// channel that is DISCONNECTED, or that it just disconnected because Zalo
// rejected its refresh token.
var ErrChannelDisconnected = errors.New("inbox: the channel is disconnected")

// ErrConnectionLost wraps ErrChannelDisconnected for a channel whose
// provider refused its token (connectionStatus CONNECTION_LOST): what waits
// on it is kept for the reconnect.
var ErrConnectionLost = fmt.Errorf("%w: the connection was lost", ErrChannelDisconnected)
