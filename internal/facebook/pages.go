package facebook

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MessagingFields are the page webhook fields the app subscribes a page to:
// what the inbox reads from Messenger (docs/providers.md).
var MessagingFields = []string{"messages", "messaging_postbacks", "message_deliveries", "message_reads", "message_echoes"}

// TaskManage is the page task only the page's admins hold.
const TaskManage = "MANAGE"

// maxPages bounds how many pages Pages reads, however many pages of
// results Facebook offers: far more than a person administers, and a
// bound on an answer that keeps offering a next page.
const maxPages = 1000

// pageLimit is how many pages one /me/accounts request asks for.
const pageLimit = 100

// UserToken is a user access token and how long it lives (zero when
// Facebook did not say).
type UserToken struct {
	AccessToken string
	ExpiresIn   time.Duration
}

// Page is one page the user has a role on, with the page token to act as it.
type Page struct {
	ID, Name string
	// AccessToken is the page token; from a long-lived user token it does
	// not expire.
	AccessToken string
	// Tasks are what the user may do on the page; TaskManage means admin.
	Tasks []string
}

// Administers reports whether the user is one of the page's admins.
func (p Page) Administers() bool { return slices.Contains(p.Tasks, TaskManage) }

// LongLivedToken exchanges the short-lived user token Facebook Login gave
// the browser for a long-lived one (about 60 days), with the app's ID and
// secret: GET /oauth/access_token?grant_type=fb_exchange_token.
func (c *Client) LongLivedToken(ctx context.Context, appID, appSecret, userToken string) (*UserToken, error) {
	switch {
	case appID == "" || appSecret == "":
		return nil, invalidRequest("The Facebook app ID and secret are required.")
	case userToken == "":
		return nil, invalidRequest("The Facebook user access token is missing.")
	}
	q := url.Values{
		"grant_type": {"fb_exchange_token"}, "client_id": {appID},
		"client_secret": {appSecret}, "fb_exchange_token": {userToken},
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.do(ctx, "GET", "/oauth/access_token", q, nil, &resp, userToken, appSecret); err != nil {
		return nil, fmt.Errorf("facebook: exchange the user token: %w", err)
	}
	if resp.AccessToken == "" {
		return nil, fmt.Errorf("facebook: exchange the user token: %w: no access_token", ErrUnexpectedAnswer)
	}
	return &UserToken{AccessToken: resp.AccessToken, ExpiresIn: time.Duration(max(resp.ExpiresIn, 0)) * time.Second}, nil
}

// Pages lists every page the user has a role on (GET /me/accounts),
// following the answer's paging cursors to the end.
func (c *Client) Pages(ctx context.Context, userToken string) ([]Page, error) {
	if userToken == "" {
		return nil, invalidRequest("The Facebook user access token is missing.")
	}
	var out []Page
	after := ""
	for {
		q := url.Values{
			"access_token": {userToken}, "fields": {"id,name,access_token,tasks"},
			"limit": {fmt.Sprint(pageLimit)},
		}
		if after != "" {
			q.Set("after", after)
		}
		var resp struct {
			Data []struct {
				ID          string   `json:"id"`
				Name        string   `json:"name"`
				AccessToken string   `json:"access_token"`
				Tasks       []string `json:"tasks"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.do(ctx, "GET", "/me/accounts", q, nil, &resp, userToken); err != nil {
			return nil, fmt.Errorf("facebook: list the user's pages: %w", err)
		}
		for _, p := range resp.Data {
			if p.ID == "" {
				return nil, fmt.Errorf("facebook: list the user's pages: %w: a page without an id", ErrUnexpectedAnswer)
			}
			out = append(out, Page{ID: p.ID, Name: strings.TrimSpace(p.Name), AccessToken: p.AccessToken, Tasks: p.Tasks})
		}
		// Facebook sends cursors on the last page too; only "next" says
		// there is more.
		if resp.Paging.Next == "" || resp.Paging.Cursors.After == "" || len(resp.Data) == 0 {
			return out, nil
		}
		if len(out) >= maxPages || resp.Paging.Cursors.After == after {
			return nil, fmt.Errorf("facebook: list the user's pages: %w: paging does not end", ErrUnexpectedAnswer)
		}
		after = resp.Paging.Cursors.After
	}
}

// SubscribeApp subscribes the app whose page token this is to the page's
// messaging webhooks: POST /{page-id}/subscribed_apps?subscribed_fields=….
func (c *Client) SubscribeApp(ctx context.Context, pageID, pageToken string) error {
	switch {
	case pageID == "":
		return invalidRequest("The Facebook page ID is missing.")
	case pageToken == "":
		return invalidRequest("The Facebook page has no access token.")
	}
	q := url.Values{"access_token": {pageToken}, "subscribed_fields": {strings.Join(MessagingFields, ",")}}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.do(ctx, "POST", "/"+url.PathEscape(pageID)+"/subscribed_apps", q, nil, &resp, pageToken); err != nil {
		return fmt.Errorf("facebook: subscribe the app to page %s: %w", pageID, err)
	}
	if !resp.Success {
		return fmt.Errorf("facebook: subscribe the app to page %s: %w: success is not true", pageID, ErrUnexpectedAnswer)
	}
	return nil
}

// Subscribed reports whether the app appID is subscribed to the page's
// "messages" webhooks: GET /{page-id}/subscribed_apps.
func (c *Client) Subscribed(ctx context.Context, pageID, pageToken, appID string) (bool, error) {
	switch {
	case pageID == "":
		return false, invalidRequest("The Facebook page ID is missing.")
	case pageToken == "":
		return false, invalidRequest("The Facebook page has no access token.")
	}
	var resp struct {
		Data []struct {
			ID               string   `json:"id"`
			SubscribedFields []string `json:"subscribed_fields"`
		} `json:"data"`
	}
	q := url.Values{"access_token": {pageToken}}
	if err := c.do(ctx, "GET", "/"+url.PathEscape(pageID)+"/subscribed_apps", q, nil, &resp, pageToken); err != nil {
		return false, fmt.Errorf("facebook: read page %s's subscribed apps: %w", pageID, err)
	}
	for _, a := range resp.Data {
		if (appID == "" || a.ID == appID) && slices.Contains(a.SubscribedFields, "messages") {
			return true, nil
		}
	}
	return false, nil
}
