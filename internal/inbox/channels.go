package inbox

import (
	"context"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Service runs the inbox for every organization.
type Service struct {
	client *ent.Client
	box    *secret.Box
	now    func() time.Time
	// out is the sending side: provider clients, the delivery worker's
	// nudge and the token locks (outbound.go).
	out outbound
	// router distributes new conversations; nil leaves them open.
	router *distribute.Engine
	// automation reacts to conversations in the inbox's transactions
	// (automation.go).
	automation Automation
	// calls applies the call webhooks (calls.go); nil ignores them.
	calls Calls
	// zns applies the ZNS webhooks (calls.go); nil ignores them.
	zns ZNS
}

// New returns the inbox over the ent client, sealing channel credentials
// with box. Options, when given, replace the production providers and
// clock (see Options); the last one wins.
func New(client *ent.Client, box *secret.Box, opts ...Options) *Service {
	s := &Service{client: client, box: box, now: time.Now, automation: noAutomation{}}
	s.configure(opts...)
	return s
}

// Credentials are a channel's secrets in clear, as a provider call needs
// them. They never leave the server.
type Credentials struct {
	AccessToken, RefreshToken, AppSecret, WebhookSecret string
}

// sealContext binds a sealed value to its channel and column, so copying a
// ciphertext into another row or column does not open it.
func sealContext(id gid.ID, column string) string { return "channel:" + string(id) + ":" + column }

// SealedColumns are the channel columns sealed under the server secret,
// for the key check and the re-seal of a secret rotation.
func SealedColumns() []keyring.Column {
	var cols []keyring.Column
	for _, column := range []string{channel.FieldAccessToken, channel.FieldRefreshToken, channel.FieldAppSecret, channel.FieldWebhookSecret} {
		cols = append(cols, keyring.Column{
			Table: channel.Table, Column: column,
			Context: func(id string) string { return sealContext(gid.ID(id), column) },
		})
	}
	return cols
}

// Open returns the clear credentials of a channel.
func (s *Service) Open(ch *ent.Channel) (*Credentials, error) {
	var c Credentials
	for _, f := range []struct {
		dst    *string
		sealed []byte
		column string
	}{
		{&c.AccessToken, ch.AccessToken, channel.FieldAccessToken},
		{&c.RefreshToken, ch.RefreshToken, channel.FieldRefreshToken},
		{&c.AppSecret, ch.AppSecret, channel.FieldAppSecret},
		{&c.WebhookSecret, ch.WebhookSecret, channel.FieldWebhookSecret},
	} {
		v, err := s.box.Open(f.sealed, sealContext(ch.ID, f.column))
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	return &c, nil
}

// ConnectZaloOA is what connecting a Zalo Official Account needs
// (docs/providers.md: OAuth v4 tokens, the app, and the webhook signing secret).
type ConnectZaloOA struct {
	OAID, Name, AppID, AppSecret string
	AccessToken, RefreshToken    string
	AccessTokenExpiresAt         time.Time
	WebhookSecret, Description   string
	Published, IsTesting         bool
	// KeepSettings makes a reconnect leave the channel's description,
	// published and testing flags as they are: a consent carries none.
	KeepSettings bool
	// Via, when set, says in the activity entry how the channel was
	// connected (e.g. "oauth").
	Via string
}

// ConnectFacebookPage is what connecting a Facebook page needs.
type ConnectFacebookPage struct {
	PageID, Name, PageAccessToken, AppSecret, VerifyToken string
	// AppID is the server's Facebook app, for pages connected through it;
	// the periodic subscription check asks Facebook about that app.
	AppID string
	// ChatPermission is a new channel's; empty means ONLY_ME. A reconnect
	// keeps the channel's own.
	ChatPermission channel.ChatPermission
	// Via, when set, says in the activity entry how the page was connected.
	Via string
}

// channelSpec is what both kinds of connection store.
type channelSpec struct {
	kind                    channel.Kind
	externalID, name, appID string
	creds                   Credentials
	expiresAt               *time.Time
	description             string
	published, isTesting    bool
	keepSettings            bool
	via                     string
	chatPermission          channel.ChatPermission
}

// ConnectZaloOA connects an OA to the viewer's organization, or refreshes
// the credentials of one it already has. A new channel is ONLY_ME: its
// conversations belong to the user who connected it.
func (s *Service) ConnectZaloOA(ctx context.Context, in ConnectZaloOA) (*ent.Channel, error) {
	if err := required(
		"oaId", in.OAID, "name", in.Name, "appId", in.AppID, "accessToken", in.AccessToken,
		"refreshToken", in.RefreshToken, "webhookSecret", in.WebhookSecret,
	); err != nil {
		return nil, err
	}
	if in.AccessTokenExpiresAt.IsZero() {
		return nil, apierr.BadInput("accessTokenExpiresAt", "accessTokenExpiresAt is required")
	}
	exp := in.AccessTokenExpiresAt
	return s.connect(ctx, channelSpec{
		kind: channel.KindZALO_OA, externalID: in.OAID, name: in.Name, appID: in.AppID,
		creds:     Credentials{AccessToken: in.AccessToken, RefreshToken: in.RefreshToken, AppSecret: in.AppSecret, WebhookSecret: in.WebhookSecret},
		expiresAt: &exp, description: in.Description, published: in.Published, isTesting: in.IsTesting,
		keepSettings: in.KeepSettings, via: in.Via,
	})
}

// ConnectFacebookPage connects a page to the viewer's organization, or
// refreshes the credentials of one it already has.
func (s *Service) ConnectFacebookPage(ctx context.Context, in ConnectFacebookPage) (*ent.Channel, error) {
	if err := required(
		"pageId", in.PageID, "name", in.Name, "pageAccessToken", in.PageAccessToken,
		"appSecret", in.AppSecret, "verifyToken", in.VerifyToken,
	); err != nil {
		return nil, err
	}
	if perm := in.ChatPermission; perm != "" {
		if err := channel.ChatPermissionValidator(perm); err != nil {
			return nil, apierr.BadInput("chatPermission", "chatPermission must be ONLY_ME or SHARED")
		}
	}
	return s.connect(ctx, channelSpec{
		kind: channel.KindFACEBOOK_PAGE, externalID: in.PageID, name: in.Name, appID: in.AppID,
		creds:          Credentials{AccessToken: in.PageAccessToken, AppSecret: in.AppSecret, WebhookSecret: in.VerifyToken},
		chatPermission: in.ChatPermission, via: in.Via,
	})
}

// required reports the first blank value of name/value pairs, in the
// order given, naming its GraphQL field.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return apierr.BadInput(pairs[i], "%s is required", pairs[i])
		}
	}
	return nil
}

func (s *Service) connect(ctx context.Context, spec channelSpec) (*ent.Channel, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can connect channels")
	}
	// The OA or page may belong to another organization: look it up
	// across tenants, since webhooks must name exactly one channel.
	existing, err := s.client.Channel.Query().
		Where(channel.KindEQ(spec.kind), channel.ExternalID(strings.TrimSpace(spec.externalID))).
		Only(viewer.SystemContext(ctx, ""))
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if existing != nil && existing.OrganizationID != v.OrgID {
		return nil, apierr.New(apierr.Conflict, "this channel is connected to another organization")
	}
	now := s.now()
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		if existing != nil {
			upd := tx.Channel.UpdateOneID(existing.ID).
				SetName(strings.TrimSpace(spec.name)).
				SetStatus(channel.StatusCONNECTED).
				ClearStatusReason().
				ClearConnectionLostAt().
				SetLastConnectedAt(now).
				SetAppID(spec.appID).
				SetNillableAccessTokenExpiresAt(spec.expiresAt)
			if !spec.keepSettings {
				upd.SetDescription(spec.description).SetPublished(spec.published).SetIsTesting(spec.isTesting)
			}
			s.seal(existing.ID, spec.creds, upd.Mutation())
			ch, err := upd.Save(ctx)
			if err != nil {
				return nil, err
			}
			// The credentials are sealed and not in Changes; that they
			// were replaced is all the entry says of them.
			return ch, activity.Record(ctx, tx, activity.Entry{
				Action: activity.ChannelConnected, ChannelID: ch.ID, SubjectID: ch.ID,
				Details: spec.details(map[string]any{
					"kind": ch.Kind, "externalId": ch.ExternalID, "name": ch.Name, "reconnected": true,
					"changes": activity.Changes(existing, ch),
				}),
			})
		}
		id := gid.New("Channel")
		create := tx.Channel.Create().
			SetID(id).
			SetKind(spec.kind).
			SetExternalID(strings.TrimSpace(spec.externalID)).
			SetName(strings.TrimSpace(spec.name)).
			SetChatPermission(spec.newChatPermission()).
			SetConnectedByID(v.UserID).
			SetLastConnectedAt(now).
			SetDescription(spec.description).
			SetPublished(spec.published).
			SetIsTesting(spec.isTesting).
			SetAppID(spec.appID).
			SetNillableAccessTokenExpiresAt(spec.expiresAt)
		s.seal(id, spec.creds, create.Mutation())
		ch, err := create.Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, apierr.New(apierr.Conflict, "this channel is already connected")
		}
		if err != nil {
			return nil, err
		}
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: activity.ChannelConnected, ChannelID: ch.ID, SubjectID: ch.ID,
			Details: spec.details(map[string]any{
				"kind": ch.Kind, "externalId": ch.ExternalID, "name": ch.Name, "reconnected": false,
				"chatPermission": ch.ChatPermission,
			}),
		})
	})
}

// newChatPermission is a new channel's chat permission: ONLY_ME unless the
// connection chose one.
func (spec channelSpec) newChatPermission() channel.ChatPermission {
	if spec.chatPermission == "" {
		return channel.ChatPermissionONLY_ME
	}
	return spec.chatPermission
}

// details adds how the channel was connected, when known, to an activity
// entry's details.
func (spec channelSpec) details(d map[string]any) map[string]any {
	if spec.via != "" {
		d["via"] = spec.via
	}
	return d
}

// seal stores the credentials sealed into the mutation.
func (s *Service) seal(id gid.ID, c Credentials, m *ent.ChannelMutation) {
	m.SetAccessToken(s.box.Seal(c.AccessToken, sealContext(id, channel.FieldAccessToken)))
	m.SetRefreshToken(s.box.Seal(c.RefreshToken, sealContext(id, channel.FieldRefreshToken)))
	m.SetAppSecret(s.box.Seal(c.AppSecret, sealContext(id, channel.FieldAppSecret)))
	m.SetWebhookSecret(s.box.Seal(c.WebhookSecret, sealContext(id, channel.FieldWebhookSecret)))
}

// DisconnectChannel stops a channel: its tokens and app secret are erased,
// its conversations and messages stay. The webhook secret stays so that
// late provider events still verify and are kept.
func (s *Service) DisconnectChannel(ctx context.Context, id gid.ID) (*ent.Channel, error) {
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		before, err := tx.Channel.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		ch, err := tx.Channel.UpdateOneID(id).
			SetStatus(channel.StatusDISCONNECTED).
			SetStatusReason("disconnected by a user").
			ClearAccessToken().
			ClearRefreshToken().
			ClearAppSecret().
			ClearAccessTokenExpiresAt().
			Save(ctx)
		if err != nil {
			return nil, err
		}
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: activity.ChannelDisconnected, ChannelID: id, SubjectID: id,
			Details: map[string]any{"kind": ch.Kind, "name": ch.Name, "changes": activity.Changes(before, ch)},
		})
	})
}

// SetChatPermission makes a channel's conversations private to the user who
// connected it (ONLY_ME) or shared with the organization (SHARED).
func (s *Service) SetChatPermission(ctx context.Context, id gid.ID, p channel.ChatPermission) (*ent.Channel, error) {
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		before, err := tx.Channel.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		ch, err := tx.Channel.UpdateOneID(id).SetChatPermission(p).Save(ctx)
		if err != nil {
			return nil, err
		}
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: activity.ChatPermissionChanged, ChannelID: id, SubjectID: id,
			Details: map[string]any{"name": ch.Name, "changes": activity.Changes(before, ch)},
		})
	})
}
