package inbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/clocktest"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// outbox is one organization with a Zalo OA and a Facebook page, each with
// a customer conversation, over the providers' fakes.
type outbox struct {
	t     *testing.T
	db    *database.DB
	box   *secret.Box
	clock *clocktest.Clock
	zalo  *zalofake.Server
	fb    *fbfake.Fake
	svc   *Service

	org          *ent.Organization
	owner, agent *ent.User

	oa, page         *ent.Channel
	oaConv, pageConv *ent.Conversation
	// oaUser and psid are the customer's IDs on the OA and the page.
	oaUser, psid string
}

const outboxSecret = "outbox-test-secret-outbox-test-secret"

// newOutbox builds the fixture on a fresh database.
func newOutbox(t *testing.T) *outbox {
	t.Helper()
	o := &outbox{t: t, db: dbtest.Open(t), clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), zalo: zalofake.New(t), fb: fbfake.New(t)}
	var err error
	if o.box, err = secret.New([]byte(outboxSecret)); err != nil {
		t.Fatal(err)
	}
	o.svc = o.newService()

	ctx := viewer.SystemContext(context.Background(), "")
	o.org = o.db.Client.Organization.Create().SetName("Cà phê Sài Gòn").SaveX(ctx)
	sys := o.sys()
	user := func(role viewer.Role) *ent.User {
		return o.db.Client.User.Create().SetName(string(role)).
			SetEmail(strings.ToLower(string(role)) + "." + string(gid.New("User")) + "@example.vn").
			SetPasswordHash("not a hash").SetRole(role).SaveX(sys)
	}
	o.owner, o.agent = user(viewer.RoleOwner), user(viewer.RoleAgent)

	oaID := "oa-" + string(gid.New("Channel"))
	fakeOA := o.zalo.AddOA(zalofake.OA{ID: oaID})
	o.oa = o.addChannel(channel.KindZALO_OA, oaID, Credentials{
		AccessToken: fakeOA.AccessToken, RefreshToken: fakeOA.RefreshToken,
		AppSecret: o.zalo.AppSecret(), WebhookSecret: "zalo-webhook-secret",
	}, o.zalo.AppID(), o.clock.Now().Add(25*time.Hour))
	pageID := "page-" + string(gid.New("Channel"))
	o.fb.AddPage(pageID, "page-token-"+pageID)
	o.page = o.addChannel(channel.KindFACEBOOK_PAGE, pageID, Credentials{
		AccessToken: "page-token-" + pageID, AppSecret: "fb-app-secret", WebhookSecret: "verify",
	}, "", time.Time{})

	o.oaUser, o.psid = "zalo-user-1", "psid-1"
	o.oaConv = o.addConversation(o.oa, o.oaUser, "Nguyễn Văn A")
	o.pageConv = o.addConversation(o.page, o.psid, "Trần Thị B")
	return o
}

// newService returns another inbox over the same database, fakes and
// clock, as a second replica would have.
func (o *outbox) newService() *Service {
	return New(o.db.Client, o.box, Options{
		Zalo:           zalo.New(zalo.Config{OpenAPIURL: o.zalo.URL(), OAuthURL: o.zalo.URL(), Now: o.clock.Now}),
		Facebook:       facebook.New(facebook.Config{GraphURL: o.fb.URL()}),
		DownloadClient: http.DefaultClient,
		Now:            o.clock.Now,
	})
}

func (o *outbox) sys() context.Context {
	return viewer.SystemContext(context.Background(), o.org.ID)
}

// as returns a context acting as u.
func (o *outbox) as(u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: o.org.ID, UserID: u.ID, Role: u.Role})
}

// asAPIKey returns a context acting as an API key with every scope.
func (o *outbox) asAPIKey() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{
		OrgID: o.org.ID, APIKeyID: gid.New("APIKey"),
		Scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeWrite, viewer.ScopeEvents},
	})
}

// addChannel creates a SHARED channel with sealed credentials.
func (o *outbox) addChannel(kind channel.Kind, externalID string, c Credentials, appID string, expires time.Time) *ent.Channel {
	o.t.Helper()
	id := gid.New("Channel")
	create := o.db.Client.Channel.Create().SetID(id).SetKind(kind).SetExternalID(externalID).
		SetName(string(kind) + " " + externalID).SetChatPermission(channel.ChatPermissionSHARED).
		SetConnectedByID(o.owner.ID).SetLastConnectedAt(o.clock.Now()).SetAppID(appID)
	if !expires.IsZero() {
		create.SetAccessTokenExpiresAt(expires)
	}
	o.svc.seal(id, c, create.Mutation())
	return create.SaveX(o.sys())
}

// addConversation creates a customer with an identity on ch and an open
// conversation whose customer last wrote just now.
func (o *outbox) addConversation(ch *ent.Channel, externalID, name string) *ent.Conversation {
	o.t.Helper()
	sys := o.sys()
	cus := o.db.Client.Customer.Create().SetName(name).SaveX(sys)
	o.db.Client.Identity.Create().SetChannelID(ch.ID).SetCustomerID(cus.ID).SetExternalID(externalID).SaveX(sys)
	now := o.clock.Now()
	return o.db.Client.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cus.ID).
		SetLastMessageAt(now).SetLastInboundAt(now).SaveX(sys)
}

// send queues text in conv as the agent.
func (o *outbox) send(conv *ent.Conversation, text string, atts ...schematype.Attachment) *ent.Message {
	o.t.Helper()
	m, err := o.svc.SendMessage(o.as(o.agent), SendMessageInput{ConversationID: conv.ID, Text: text, Attachments: atts})
	if err != nil {
		o.t.Fatalf("SendMessage: %v", err)
	}
	if m.Status != message.StatusQUEUED {
		o.t.Fatalf("SendMessage returned status %s, want QUEUED", m.Status)
	}
	return m
}

// deliverAll runs the worker until nothing is due.
func (o *outbox) deliverAll(svc *Service) {
	o.t.Helper()
	for range 100 {
		n, err := svc.DeliverDue(context.Background())
		if err != nil {
			o.t.Fatalf("DeliverDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	o.t.Fatal("DeliverDue kept finding work")
}

// message re-reads a message.
func (o *outbox) message(id gid.ID) *ent.Message {
	o.t.Helper()
	return o.db.Client.Message.GetX(o.sys(), id)
}

// channel re-reads a channel.
func (o *outbox) channel(id gid.ID) *ent.Channel {
	o.t.Helper()
	return o.db.Client.Channel.GetX(o.sys(), id)
}

// events returns the organization's events as "TOPIC TYPE subject", in
// order; subject is the message ID, else the conversation's, else the
// channel's.
func (o *outbox) events() []string {
	o.t.Helper()
	evs := o.db.Client.Event.Query().Order(entevent.BySeq()).AllX(o.sys())
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		subject := e.MessageID
		if subject == "" {
			subject = e.ConversationID
		}
		if subject == "" {
			subject = e.ChannelID
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.Topic, e.Type, subject))
	}
	return out
}

// outboxErrCode is the API code of err, "" for nil and "-" for an error
// without one.
func outboxErrCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*apierr.Error](err); ok {
		return string(e.Code)
	}
	return "-"
}
