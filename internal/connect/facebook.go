package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
)

// FacebookApp is the server's Facebook app (FACEBOOK_APP_ID,
// FACEBOOK_APP_SECRET) and the verify token of its webhook subscription
// (FACEBOOK_VERIFY_TOKEN). Its secret signs the webhooks of every page
// connected through it.
type FacebookApp struct {
	AppID, AppSecret, VerifyToken string
}

// configured reports whether the app can connect pages.
func (a FacebookApp) configured() bool {
	return a.AppID != "" && a.AppSecret != "" && a.VerifyToken != ""
}

// FacebookConfigured reports whether pages can be connected by Facebook
// Login.
func (s *Service) FacebookConfigured() bool { return s.cfg.FacebookApp.configured() }

// maxPageIDs bounds how many pages one connectFacebookPages call takes.
const maxPageIDs = 100

// The reasons of a page that could not be connected.
const (
	// ReasonNotPageAdmin: the Facebook user is not an admin of the page,
	// or has no role on it at all.
	ReasonNotPageAdmin = "NOT_PAGE_ADMIN"
	// ReasonProviderRefused: Facebook refused to subscribe the app to the
	// page.
	ReasonProviderRefused = "PROVIDER_REFUSED"
	// ReasonProviderUnavailable: Facebook could not be reached.
	ReasonProviderUnavailable = "PROVIDER_UNAVAILABLE"
)

// FacebookPage is a page the Facebook user administers.
type FacebookPage struct {
	PageID, Name string
	// Channel is the organization's channel of the page, nil if none.
	Channel *ent.Channel
}

// Connected reports whether the organization has the page working.
func (p FacebookPage) Connected() bool { return Status(p.Channel) == StatusConnected }

// ConnectFacebookPages is what connectFacebookPages takes.
type ConnectFacebookPages struct {
	UserAccessToken string
	PageIDs         []string
	// ChatPermission is new channels'; empty means ONLY_ME.
	ChatPermission channel.ChatPermission
}

// FacebookPages lists the pages the Facebook user administers, each with
// the organization's channel of it, if any.
func (s *Service) FacebookPages(ctx context.Context, userToken string) ([]FacebookPage, error) {
	pages, err := s.adminPages(ctx, userToken)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(pages))
	for _, p := range pages {
		ids = append(ids, p.ID)
	}
	// Tenant isolation: the viewer's query sees only their organization's.
	chans, err := s.cfg.Client.Channel.Query().
		Where(channel.KindEQ(channel.KindFACEBOOK_PAGE), channel.ExternalIDIn(ids...)).
		All(ctx)
	if err != nil {
		return nil, err
	}
	byPage := make(map[string]*ent.Channel, len(chans))
	for _, ch := range chans {
		byPage[ch.ExternalID] = ch
	}
	out := make([]FacebookPage, 0, len(pages))
	for _, p := range pages {
		out = append(out, FacebookPage{PageID: p.ID, Name: pageName(p), Channel: byPage[p.ID]})
	}
	return out, nil
}

// ConnectFacebookPages connects the chosen pages: for each, the app is
// subscribed to its messaging webhooks and its token stored. It returns the
// channels connected and, apart, one error per page that was not (its
// extensions.field is pageIds.<id>), which changed nothing for that page.
// A failure of the whole call (configuration, input, the user's token) is
// err.
func (s *Service) ConnectFacebookPages(ctx context.Context, in ConnectFacebookPages) (chans []*ent.Channel, perPage []error, err error) {
	if len(in.PageIDs) == 0 {
		return nil, nil, apierr.BadInput("pageIds", "choose at least one page")
	}
	if len(in.PageIDs) > maxPageIDs {
		return nil, nil, apierr.BadInput("pageIds", "at most %d pages can be connected at once", maxPageIDs)
	}
	if in.ChatPermission != "" && channel.ChatPermissionValidator(in.ChatPermission) != nil {
		return nil, nil, apierr.BadInput("chatPermission", "chatPermission must be ONLY_ME or SHARED")
	}
	var ids []string
	for _, id := range in.PageIDs {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 100 {
			return nil, nil, apierr.BadInput("pageIds", "a page ID is blank or too long")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	pages, err := s.adminPages(ctx, in.UserAccessToken)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]facebook.Page, len(pages))
	for _, p := range pages {
		byID[p.ID] = p
	}
	app := s.cfg.FacebookApp
	log := s.cfg.Logger.With("provider", "facebook", "organization", viewer.FromContext(ctx).OrgID)
	for _, id := range ids {
		field := "pageIds." + id
		p, ok := byID[id]
		if !ok {
			perPage = append(perPage, &apierr.Error{Code: apierr.Forbidden, Field: field, Reason: ReasonNotPageAdmin,
				Message: "the Facebook user is not an admin of page " + id})
			continue
		}
		if err := s.cfg.Facebook.SubscribeApp(ctx, p.ID, p.AccessToken); err != nil {
			log.Warn("facebook page subscription failed", "page", p.ID, "error", err)
			perPage = append(perPage, subscribeError(field, p.ID, err))
			continue
		}
		ch, err := s.cfg.Inbox.ConnectFacebookPage(ctx, inbox.ConnectFacebookPage{
			PageID: p.ID, Name: pageName(p), PageAccessToken: p.AccessToken,
			AppID: app.AppID, AppSecret: app.AppSecret, VerifyToken: app.VerifyToken,
			ChatPermission: in.ChatPermission, Via: "facebook_login",
		})
		if err != nil {
			if ae, ok := apierr.As(err); ok && ae.Code != apierr.Internal {
				perPage = append(perPage, &apierr.Error{Code: ae.Code, Field: field, Reason: ae.Reason, Message: ae.Message, Err: err})
				continue
			}
			log.Error("facebook page connect failed", "page", p.ID, "error", err)
			perPage = append(perPage, &apierr.Error{Code: apierr.Internal, Field: field, Err: err})
			continue
		}
		if err := s.scheduleSubscriptionCheck(ctx, ch, SubscriptionCheckEvery); err != nil {
			// The page works; a start-up or periodic EnsureSubscriptionChecks
			// schedules its check again.
			log.Error("scheduling a page's subscription check failed", "channel", ch.ID, "error", err)
		}
		log.Info("facebook page connected", "channel", ch.ID, "page", p.ID)
		chans = append(chans, ch)
	}
	return chans, perPage, nil
}

// adminPages checks the viewer and the server, exchanges the user's token
// for a long-lived one (so that the page tokens it yields do not expire)
// and returns the pages the user administers.
func (s *Service) adminPages(ctx context.Context, userToken string) ([]facebook.Page, error) {
	if !s.FacebookConfigured() {
		return nil, notConfigured("Facebook")
	}
	if v := viewer.FromContext(ctx); !v.IsAdmin() {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can connect channels")
	}
	userToken = strings.TrimSpace(userToken)
	if userToken == "" || len(userToken) > 2000 {
		return nil, apierr.BadInput("userAccessToken", "userAccessToken is required")
	}
	app := s.cfg.FacebookApp
	long, err := s.cfg.Facebook.LongLivedToken(ctx, app.AppID, app.AppSecret, userToken)
	if err != nil {
		return nil, userTokenError(err)
	}
	all, err := s.cfg.Facebook.Pages(ctx, long.AccessToken)
	if err != nil {
		return nil, userTokenError(err)
	}
	var out []facebook.Page
	for _, p := range all {
		// Seed 004: only the pages the user administers can be connected.
		if p.Administers() && p.AccessToken != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// userTokenError turns a failed exchange or listing into the API's error.
func userTokenError(err error) error {
	switch {
	case facebook.IsTokenInvalid(err):
		return &apierr.Error{Code: apierr.BadUserInput, Field: "userAccessToken", Err: err,
			Message: "Facebook refused the user access token; sign in with Facebook again"}
	case facebook.IsTransient(err):
		out := apierr.Precondition(ReasonProviderUnavailable, "Facebook could not be reached; try again")
		out.Err = err
		return out
	}
	out := apierr.Precondition(ReasonProviderRefused, "Facebook refused to list the pages; check the server's Facebook app")
	out.Err = err
	return out
}

// subscribeError is the per-page error of a subscription Facebook refused.
func subscribeError(field, pageID string, err error) error {
	out := &apierr.Error{Code: apierr.FailedPrecondition, Field: field, Reason: ReasonProviderRefused, Err: err,
		Message: "Facebook refused to subscribe the app to page " + pageID}
	var api *facebook.APIError
	switch {
	case facebook.IsTransient(err):
		out.Reason = ReasonProviderUnavailable
		out.Message = "Facebook could not be reached to subscribe the app to page " + pageID + "; try again"
	case errors.As(err, &api) && api.Code != 0:
		out.Message += fmt.Sprintf(" (code %d)", api.Code)
	}
	return out
}

// pageName is a page's name, or a stand-in for a page Facebook gave none.
func pageName(p facebook.Page) string {
	if p.Name == "" {
		return "Facebook page " + p.ID
	}
	return p.Name
}
