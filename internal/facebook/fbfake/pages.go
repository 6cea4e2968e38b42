package fbfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CodeInvalidApp is the Graph code of a token exchange with a wrong app ID
// or secret.
const CodeInvalidApp = 101

// UserPage is a page a Facebook user has a role on, as /me/accounts lists it.
type UserPage struct {
	ID, Name string
	// Token is the page token /me/accounts hands out; the fake accepts it
	// for sends and subscribed_apps.
	Token string
	// Tasks are the user's tasks on the page; an admin has "MANAGE".
	Tasks []string
}

// AdminTasks are the tasks of a page's admin.
var AdminTasks = []string{"ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"}

// SetApp makes appID and appSecret the app the token exchange accepts.
func (f *Fake) SetApp(appID, appSecret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appID, f.appSecret = appID, appSecret
}

// AddUser makes shortToken a short-lived user token of someone with a role
// on pages; the exchange turns it into LongLivedToken(shortToken), and
// each page's token becomes valid for the page.
func (f *Fake) AddUser(shortToken string, pages ...UserPage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[shortToken] = slices.Clone(pages)
	for _, p := range pages {
		f.pageTokens[p.ID] = p.Token
	}
}

// LongLivedToken is the long-lived token the fake exchanges shortToken for.
func LongLivedToken(shortToken string) string { return "EAA-long-lived-" + shortToken }

// SetPageSize makes /me/accounts answer at most n pages per request
// whatever the limit asked, so tests see the paging; 0 restores the limit.
func (f *Fake) SetPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSize = n
}

// FailSubscribe makes every subscribed_apps POST for pageID fail with
// failure (a GraphError), until ClearSubscribeFailure.
func (f *Fake) FailSubscribe(pageID string, failure Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribeFailures[pageID] = failure
}

// ClearSubscribeFailure lets subscribed_apps POSTs for pageID succeed again.
func (f *Fake) ClearSubscribeFailure(pageID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subscribeFailures, pageID)
}

// RevokePage makes the page's token invalid (code 190) everywhere.
func (f *Fake) RevokePage(pageID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pageTokens, pageID)
}

// Unsubscribe removes the app's subscription of the page, as an admin
// removing the app in the page's settings does.
func (f *Fake) Unsubscribe(pageID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subscriptions, pageID)
}

// Subscription returns the fields the app is subscribed to on the page,
// nil when it is not subscribed.
func (f *Fake) Subscription(pageID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.subscriptions[pageID])
}

// handleExchange serves GET /oauth/access_token?grant_type=fb_exchange_token.
func (f *Fake) handleExchange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	appOK := f.appID != "" && q.Get("client_id") == f.appID && q.Get("client_secret") == f.appSecret
	_, userOK := f.users[q.Get("fb_exchange_token")]
	f.mu.Unlock()
	switch {
	case q.Get("grant_type") != "fb_exchange_token":
		f.invalidParameter(w, "(#100) grant_type must be fb_exchange_token")
	case !appOK:
		f.writeError(w, http.StatusBadRequest, CodeInvalidApp, 0, "Error validating application. Invalid application ID or secret.")
	case !userOK:
		f.writeError(w, http.StatusBadRequest, CodeInvalidToken, 0, "Malformed access token "+q.Get("fb_exchange_token"))
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": LongLivedToken(q.Get("fb_exchange_token")), "token_type": "bearer", "expires_in": 5183944,
		})
	}
}

// handleAccounts serves GET /me/accounts, paged with limit and after.
func (f *Fake) handleAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	var pages []UserPage
	known := false
	for short, ps := range f.users {
		if LongLivedToken(short) == q.Get("access_token") {
			pages, known = ps, true
		}
	}
	size := f.pageSize
	f.mu.Unlock()
	if !known {
		f.writeError(w, http.StatusBadRequest, CodeInvalidToken, 0, graphMessage(CodeInvalidToken, 0))
		return
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 25
	}
	if size > 0 && size < limit {
		limit = size
	}
	start := 0
	if a := q.Get("after"); a != "" {
		if start, err = strconv.Atoi(strings.TrimPrefix(a, "cursor-")); err != nil || start < 0 || start > len(pages) {
			f.invalidParameter(w, "(#100) Invalid after cursor")
			return
		}
	}
	end := min(start+limit, len(pages))
	data := []map[string]any{}
	for _, p := range pages[start:end] {
		data = append(data, map[string]any{"id": p.ID, "name": p.Name, "access_token": p.Token, "tasks": p.Tasks, "category": "Shopping & retail"})
	}
	paging := map[string]any{"cursors": map[string]string{"before": "cursor-" + strconv.Itoa(start), "after": "cursor-" + strconv.Itoa(end)}}
	if end < len(pages) {
		paging["next"] = f.URL() + r.URL.Path + "?after=cursor-" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "paging": paging})
}

// handleSubscribedApps serves GET and POST /{page}/subscribed_apps.
func (f *Fake) handleSubscribedApps(w http.ResponseWriter, r *http.Request) {
	pageID := r.PathValue("page")
	token := r.URL.Query().Get("access_token")
	f.mu.Lock()
	pageToken, pageKnown, tokenKnown := f.pageTokenLocked(pageID, token)
	failure, failing := f.subscribeFailures[pageID]
	f.mu.Unlock()
	switch {
	case !tokenKnown:
		f.writeError(w, http.StatusBadRequest, CodeInvalidToken, 0, graphMessage(CodeInvalidToken, 0))
		return
	case !pageKnown || pageToken != token:
		f.writeError(w, http.StatusBadRequest, CodeInvalidParameter, SubcodeNoObject, "Unsupported request. Object with ID '"+pageID+"' does not exist.")
		return
	}
	if r.Method == http.MethodGet {
		f.mu.Lock()
		fields := slices.Clone(f.subscriptions[pageID])
		appID := f.appID
		f.mu.Unlock()
		data := []map[string]any{}
		if fields != nil {
			data = append(data, map[string]any{"id": appID, "name": "dakenh", "subscribed_fields": fields})
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data})
		return
	}
	if failing {
		f.writeError(w, failure.status, failure.code, failure.subcode, graphMessage(failure.code, failure.subcode))
		return
	}
	fields := strings.Split(r.URL.Query().Get("subscribed_fields"), ",")
	if !slices.Contains(fields, "messages") {
		f.invalidParameter(w, "(#100) Param subscribed_fields must include messages")
		return
	}
	f.mu.Lock()
	f.subscriptions[pageID] = fields
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// pageTokenLocked is page pageID's token and whether the page is known,
// and whether token is any known page's token.
func (f *Fake) pageTokenLocked(pageID, token string) (pageToken string, pageKnown, tokenKnown bool) {
	pageToken, pageKnown = f.pageTokens[pageID]
	for _, t := range f.pageTokens {
		tokenKnown = tokenKnown || (token != "" && t == token)
	}
	return pageToken, pageKnown, tokenKnown
}
