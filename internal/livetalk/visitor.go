package livetalk

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/ent/visitorsession"
	"github.com/dakenh/dakenh/internal/apierr"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// DefaultTokenTTL is how long a visitor token opens its chat.
const DefaultTokenTTL = 7 * 24 * time.Hour

// visitorTokenPrefix starts every visitor token.
const visitorTokenPrefix = "dkv_"

// Options configures a Service; the zero value is production.
type Options struct {
	// Now is the clock of tokens, messages and rate limits; nil is
	// time.Now.
	Now func() time.Time
	// TokenTTL is how long a visitor token lasts; 0 is DefaultTokenTTL.
	TokenTTL time.Duration
	// VisitorRate and VisitorBurst limit one visitor's messages,
	// AddressRate and AddressBurst one network address's requests; zero
	// values are the Default* constants.
	VisitorRate  float64
	VisitorBurst int
	AddressRate  float64
	AddressBurst int
}

// Service is the LiveTalk channels (channel.go) and the visitor API behind
// /livetalk/graphql.
type Service struct {
	client     *ent.Client
	inbox      *inbox.Service
	bus        event.Bus
	now        func() time.Time
	ttl        time.Duration
	perVisitor *limiters
	perAddress *limiters
	// handlers load the visitor events of other features' topics.
	handlers handlers
}

// New returns the LiveTalk service over client, opening chats through in
// and following them on bus.
func New(client *ent.Client, in *inbox.Service, bus event.Bus, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.VisitorRate <= 0 {
		o.VisitorRate = DefaultVisitorRate
	}
	if o.VisitorBurst <= 0 {
		o.VisitorBurst = DefaultVisitorBurst
	}
	if o.AddressRate <= 0 {
		o.AddressRate = DefaultAddressRate
	}
	if o.AddressBurst <= 0 {
		o.AddressBurst = DefaultAddressBurst
	}
	return &Service{
		client: client, inbox: in, bus: bus, now: o.Now, ttl: o.TokenTTL,
		perVisitor: newLimiters(o.VisitorRate, o.VisitorBurst, o.Now),
		perAddress: newLimiters(o.AddressRate, o.AddressBurst, o.Now),
	}
}

// AllowAddress takes one request of the network address addr from its
// rate limit, or returns the RATE_LIMITED error.
func (s *Service) AllowAddress(addr string) error { return s.perAddress.allow(addr) }

// errUnknownKey answers a widget key no connected LIVETALK channel has.
var errUnknownKey = apierr.New(apierr.NotFound, "unknown widget key")

// ChannelByKey returns the connected LIVETALK channel whose widget key is
// key, in any organization (the key is what names it); any other key is
// NOT_FOUND.
func (s *Service) ChannelByKey(ctx context.Context, key string) (*ent.Channel, error) {
	key = strings.TrimSpace(key)
	if key == "" || len(key) > 64 {
		return nil, errUnknownKey
	}
	ch, err := s.client.Channel.Query().
		Where(channel.WidgetKey(key), channel.KindEQ(channel.KindLIVETALK), channel.StatusEQ(channel.StatusCONNECTED)).
		Only(viewer.SystemContext(ctx, ""))
	if ent.IsNotFound(err) {
		return nil, errUnknownKey
	}
	return ch, err
}

// Choice is a department or an agent a visitor may start a chat with.
type Choice struct {
	ID     gid.ID
	Name   string
	Online bool
}

// Widget is what widget(key, path) tells a visitor: the look, and whom
// they may talk to. Nothing else about the organization.
type Widget struct {
	Look
	Departments []Choice
	Agents      []Choice
	// Channel is the widget's channel, for what other packages add to the
	// widget (the calls' availability).
	Channel *ent.Channel
}

// Widget returns ch's widget as shown on the page path.
func (s *Service) Widget(ctx context.Context, ch *ent.Channel, path string) (*Widget, error) {
	sys := systemOf(ctx, ch.OrganizationID)
	look, err := lookOf(sys, s.client, ch, path)
	if err != nil {
		return nil, err
	}
	// The visitor chooses among the departments or the agents the
	// settings list (none listed: no choice), those still there.
	w := &Widget{Look: look, Departments: []Choice{}, Agents: []Choice{}, Channel: ch}
	switch look.Settings.StartBy {
	case "AGENT":
		if len(look.Settings.AgentIDs) > 0 {
			all, err := s.agents(sys, ch)
			if err != nil {
				return nil, err
			}
			w.Agents = chosen(all, look.Settings.AgentIDs)
		}
	default:
		if len(look.Settings.DepartmentIDs) > 0 {
			all, err := s.departments(sys, ch)
			if err != nil {
				return nil, err
			}
			w.Departments = chosen(all, look.Settings.DepartmentIDs)
		}
	}
	return w, nil
}

// chosen keeps the choices of all listed in ids, in the order of ids.
func chosen(all []Choice, ids []gid.ID) []Choice {
	out := make([]Choice, 0, len(ids))
	for _, id := range ids {
		if i := slices.IndexFunc(all, func(c Choice) bool { return c.ID == id }); i >= 0 {
			out = append(out, all[i])
		}
	}
	return out
}

// departments are the organization's departments of a SHARED channel,
// each online when one of its active agents is ONLINE. An ONLY_ME
// channel's chats all go to its owner: it offers none.
func (s *Service) departments(ctx context.Context, ch *ent.Channel) ([]Choice, error) {
	if ch.ChatPermission != channel.ChatPermissionSHARED {
		return []Choice{}, nil
	}
	ds, err := s.client.Department.Query().
		WithMembers(func(q *ent.MemberQuery) {
			q.Where(member.HasUserWith(user.Active(true), user.PresenceEQ(user.PresenceONLINE)))
		}).
		Order(department.ByName(), department.ByID()).
		All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Choice, 0, len(ds))
	for _, d := range ds {
		out = append(out, Choice{ID: d.ID, Name: d.Name, Online: len(d.Edges.Members) > 0})
	}
	return out, nil
}

// agents are the active users who answer ch's conversations
// (distribute.Answerers), with their presence.
func (s *Service) agents(ctx context.Context, ch *ent.Channel) ([]Choice, error) {
	return database.InTx(ctx, s.client, func(tx *ent.Tx) ([]Choice, error) {
		answerers, err := distribute.Answerers(ctx, tx, ch)
		if err != nil {
			return nil, err
		}
		us, err := tx.User.Query().
			Where(answerers, user.Active(true)).
			Order(user.ByName(), user.ByID()).
			All(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Choice, 0, len(us))
		for _, u := range us {
			out = append(out, Choice{ID: u.ID, Name: u.Name, Online: u.Presence == user.PresenceONLINE})
		}
		return out, nil
	})
}

// StartChatInput is what startChat takes.
type StartChatInput struct {
	Key                string
	Name, Phone, Email string
	DepartmentID       *gid.ID
	AgentID            *gid.ID
	PageURL            string
}

// VisitorSession is startChat's answer: the visitor's token (shown once)
// and their conversation.
type VisitorSession struct {
	Token          string
	ConversationID gid.ID
	// Cursor is where the chat's visitorEvents start: following from it
	// misses nothing of the chat that the history did not show.
	Cursor event.Cursor
}

// StartChat opens a visitor's chat on ch: it checks the fields the widget
// requires and their values (phone and email as for customers), finds or
// creates the customer by phone then email, gives them a new identity on
// the channel and opens (or finds) their conversation there, distributed
// to the department or agent they chose, with the channel's START
// auto-messages; then it issues the visitor's token.
func (s *Service) StartChat(ctx context.Context, ch *ent.Channel, in StartChatInput) (*VisitorSession, error) {
	sys := systemOf(ctx, ch.OrganizationID)
	look, err := lookOf(sys, s.client, ch, pathOf(in.PageURL))
	if err != nil {
		return nil, err
	}
	for _, f := range look.RequiredFields {
		var v string
		switch f {
		case FieldName:
			v = in.Name
		case FieldPhone:
			v = in.Phone
		case FieldEmail:
			v = in.Email
		}
		if strings.TrimSpace(v) == "" {
			return nil, apierr.BadInput("input."+strings.ToLower(string(f)), "%s is required", strings.ToLower(string(f)))
		}
	}
	if strings.TrimSpace(in.Name) != "" {
		if _, err := crm.NormalizeName(in.Name); err != nil {
			return nil, inputField(err)
		}
	}
	if _, err := crm.NormalizePhone(in.Phone); err != nil {
		return nil, inputField(err)
	}
	if _, err := crm.NormalizeEmail(in.Email); err != nil {
		return nil, inputField(err)
	}
	if len(in.PageURL) > 2000 {
		return nil, apierr.BadInput("input.pageUrl", "pageUrl is longer than 2000 characters")
	}
	var depID, agentID gid.ID
	if in.DepartmentID != nil && in.AgentID != nil {
		return nil, apierr.BadInput("input.agentId", "choose a department or an agent, not both")
	}
	if in.DepartmentID != nil || in.AgentID != nil {
		w, err := s.Widget(ctx, ch, "")
		if err != nil {
			return nil, err
		}
		if in.DepartmentID != nil {
			if depID = *in.DepartmentID; !slices.ContainsFunc(w.Departments, func(c Choice) bool { return c.ID == depID }) {
				return nil, apierr.BadInput("input.departmentId", "no such department")
			}
		}
		if in.AgentID != nil {
			if agentID = *in.AgentID; !slices.ContainsFunc(w.Agents, func(c Choice) bool { return c.ID == agentID }) {
				return nil, apierr.BadInput("input.agentId", "no such agent")
			}
		}
	}
	token := secret.Token(visitorTokenPrefix, 32)
	visitorID := secret.Token("v_", 16)
	now := s.now()
	return database.InTx(sys, s.client, func(tx *ent.Tx) (*VisitorSession, error) {
		conv, entries, err := s.inbox.OpenLiveTalk(sys, tx, ch, inbox.LiveTalkVisitor{
			VisitorID: visitorID, Name: in.Name, Phone: in.Phone, Email: in.Email,
			DepartmentID: depID, AgentID: agentID,
		}, now)
		if err != nil {
			return nil, inputField(err)
		}
		if err := tx.VisitorSession.Create().
			SetChannelID(ch.ID).
			SetConversationID(conv.ID).
			SetVisitorID(visitorID).
			SetTokenHash(secret.TokenHash(token)).
			SetExpiresAt(now.Add(s.ttl)).
			SetPageURL(in.PageURL).
			Exec(sys); err != nil {
			return nil, err
		}
		// The chat's events, this transaction's and later ones, come
		// after the cursor read before they are appended.
		from, err := event.Latest(sys, tx, ch.OrganizationID)
		if err != nil {
			return nil, err
		}
		if err := inbox.AppendLiveTalkEvents(sys, tx, ch.OrganizationID, entries); err != nil {
			return nil, err
		}
		return &VisitorSession{Token: token, ConversationID: conv.ID, Cursor: from}, nil
	})
}

// inputField moves a customer field's BAD_USER_INPUT under input.
func inputField(err error) error {
	if e, ok := apierr.As(err); ok && e.Code == apierr.BadUserInput && e.Field != "" && !strings.HasPrefix(e.Field, "input.") {
		c := *e
		c.Field = "input." + e.Field
		return &c
	}
	return err
}

// pathOf is the path of a page URL, "" when it has none.
func pathOf(pageURL string) string {
	s := pageURL
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			return s[j:]
		}
		return "/"
	}
	return s
}

// Visitor is an authenticated visitor: their viewer (viewer.Visitor) and
// channel.
type Visitor struct {
	Viewer  *viewer.Viewer
	Channel *ent.Channel
	// VisitorID is their identity on the channel.
	VisitorID string
}

// errBadToken answers a token that opens no chat.
var errBadToken = apierr.NeedCredentials("the visitor token is invalid or has expired; start a new chat")

// Authenticate returns the visitor whose token this is; an unknown or
// expired token, or one of a channel no longer connected, is
// UNAUTHENTICATED.
func (s *Service) Authenticate(ctx context.Context, token string) (*Visitor, error) {
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, visitorTokenPrefix) || len(token) > 100 {
		return nil, errBadToken
	}
	vs, err := s.client.VisitorSession.Query().
		Where(visitorsession.TokenHash(secret.TokenHash(token)), visitorsession.ExpiresAtGT(s.now())).
		WithChannel().
		Only(viewer.SystemContext(ctx, ""))
	if ent.IsNotFound(err) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	ch := vs.Edges.Channel
	if ch == nil || ch.Kind != channel.KindLIVETALK || ch.Status != channel.StatusCONNECTED {
		return nil, errBadToken
	}
	return &Visitor{
		Viewer: &viewer.Viewer{OrgID: vs.OrganizationID, Visitor: &viewer.Visitor{
			SessionID: vs.ID, ChannelID: vs.ChannelID, ConversationID: vs.ConversationID,
		}},
		Channel:   ch,
		VisitorID: vs.VisitorID,
	}, nil
}

// SendMessage stores the visitor's message in their conversation, as a
// customer's message of any channel is stored (inbox.ReceiveLiveTalk).
// It is rate limited per visitor.
func (s *Service) SendMessage(ctx context.Context, v *Visitor, text string, atts []schematype.Attachment) (*ent.Message, error) {
	if err := s.perVisitor.allow(string(v.Viewer.Visitor.SessionID)); err != nil {
		return nil, err
	}
	atts, err := inbox.CheckVisitorMessage(text, atts)
	if err != nil {
		return nil, err
	}
	sys := systemOf(ctx, v.Viewer.OrgID)
	return database.InTx(sys, s.client, func(tx *ent.Tx) (*ent.Message, error) {
		m, entries, err := s.inbox.ReceiveLiveTalk(sys, tx, v.Channel, v.VisitorID, v.Viewer.Visitor.ConversationID,
			strings.TrimSpace(text), atts, s.now())
		if err != nil {
			return nil, err
		}
		return m, inbox.AppendLiveTalkEvents(sys, tx, v.Viewer.OrgID, entries)
	})
}

// MaxHistory is the most messages messages(last:) returns.
const MaxHistory = 100

// shownStatuses are the statuses of the messages a visitor sees: what
// they sent, and what was sent to them (or is being sent).
var shownStatuses = []message.Status{
	message.StatusRECEIVED, message.StatusSENT, message.StatusDELIVERED, message.StatusSEEN,
}

// Messages returns the last messages of the visitor's conversation, oldest
// first, read as the visitor: the privacy policy narrows the query to
// their conversation (policy.FilterVisitor). Replies handed over are
// marked DELIVERED.
func (s *Service) Messages(ctx context.Context, v *Visitor, last int) ([]*ent.Message, error) {
	if last <= 0 || last > MaxHistory {
		return nil, apierr.BadInput("last", "last must be 1 to %d", MaxHistory)
	}
	ms, err := s.client.Message.Query().
		Where(message.StatusIn(shownStatuses...)).
		Order(ent.Desc(message.FieldCreatedAt), ent.Desc(message.FieldID)).
		Limit(last).
		All(viewer.NewContext(ctx, v.Viewer))
	if err != nil {
		return nil, err
	}
	slices.Reverse(ms)
	if err := s.delivered(ctx, v, ms...); err != nil {
		return nil, err
	}
	return ms, nil
}

// delivered marks the SENT replies among ms, which the visitor has just
// been handed, DELIVERED, each with its MESSAGE UPDATED event.
func (s *Service) delivered(ctx context.Context, v *Visitor, ms ...*ent.Message) error {
	var ids []gid.ID
	for _, m := range ms {
		if m.Direction == message.DirectionOUTBOUND && m.Status == message.StatusSENT {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sys := systemOf(ctx, v.Viewer.OrgID)
	now := s.now()
	_, err := database.InTx(sys, s.client, func(tx *ent.Tx) (struct{}, error) {
		var entries []event.Entry
		for _, id := range ids {
			n, err := tx.Message.Update().
				Where(message.ID(id), message.ConversationID(v.Viewer.Visitor.ConversationID), message.StatusEQ(message.StatusSENT)).
				SetStatus(message.StatusDELIVERED).SetDeliveredAt(now).
				Save(sys)
			if err != nil {
				return struct{}{}, err
			}
			if n > 0 {
				entries = append(entries, event.Entry{
					OrgID: v.Viewer.OrgID, Topic: event.TopicMessage, Type: event.TypeUpdated,
					ChannelID: v.Channel.ID, ConversationID: v.Viewer.Visitor.ConversationID, MessageID: id,
					AudienceUserID: audienceOf(v.Channel),
				})
			}
		}
		return struct{}{}, inbox.AppendLiveTalkEvents(sys, tx, v.Viewer.OrgID, entries)
	})
	for _, m := range ms {
		if err == nil && slices.Contains(ids, m.ID) {
			m.Status, m.DeliveredAt = message.StatusDELIVERED, &now
		}
	}
	return err
}

// audienceOf is the audience of an event about ch's conversations: the
// user who connected an ONLY_ME channel, or everyone who may see it.
func audienceOf(ch *ent.Channel) gid.ID {
	if ch.ChatPermission == channel.ChatPermissionONLY_ME {
		return ch.ConnectedByID
	}
	return ""
}
