package main

import (
	"strings"
	"testing"
)

// liveTalkChannel is a LIVETALK channel as the staff API returns it.
type liveTalkChannel struct {
	ID                 string
	Kind               string
	Name               string
	ChatPermission     string
	WidgetKey          *string
	AllowedOrigins     []string
	IntegrationSnippet *string
}

const liveTalkChannelFields = `id kind name chatPermission widgetKey allowedOrigins integrationSnippet`

// createLiveTalk creates a LIVETALK channel allowing origins and returns it.
func (e *env) createLiveTalk(token, name string, origins ...string) liveTalkChannel {
	e.t.Helper()
	var out struct{ CreateLiveTalkChannel liveTalkChannel }
	e.must(token, `mutation($in: CreateLiveTalkChannelInput!) { createLiveTalkChannel(input: $in) { `+liveTalkChannelFields+` } }`,
		map[string]any{"in": map[string]any{"name": name, "allowedOrigins": origins}}, &out)
	return out.CreateLiveTalkChannel
}

func TestLiveTalkChannelCreate(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *appOptions) { c.PublicURL = "https://crm.example.vn" })
	tn := e.newTenant("LiveTalk Org")

	ch := e.createLiveTalk(tn.adminToken, "  Website  ", "https://Shop.Example.vn", "https://shop.example.vn:443/", "http://localhost:8081")
	if ch.Kind != "LIVETALK" || ch.Name != "Website" || ch.ChatPermission != "SHARED" {
		t.Fatalf("channel %+v", ch)
	}
	if ch.WidgetKey == nil || !strings.HasPrefix(*ch.WidgetKey, "lt_") || len(*ch.WidgetKey) < 30 {
		t.Fatalf("widget key %v", ch.WidgetKey)
	}
	if got := strings.Join(ch.AllowedOrigins, " "); got != "https://shop.example.vn http://localhost:8081" {
		t.Fatalf("origins normalized to %q", got)
	}
	want := `<script src="https://crm.example.vn/livetalk/widget.js" data-key="` + *ch.WidgetKey + `" async></script>`
	if ch.IntegrationSnippet == nil || *ch.IntegrationSnippet != want {
		t.Fatalf("snippet %v, want %s", ch.IntegrationSnippet, want)
	}
	other := e.createLiveTalk(tn.adminToken, "Second site", "https://b.example.vn")
	if *other.WidgetKey == *ch.WidgetKey {
		t.Fatal("two channels share a widget key")
	}

	// The creation is in the activity log, by its admin.
	p := e.activityLog(tn.ownerToken, map[string]any{"action": "LIVETALK_CHANNEL_CREATED"}, 5, "")
	if p.total != 2 || p.rows[1].Actor == nil || p.rows[1].Actor.ID != tn.adminID || p.rows[1].Channel == nil || p.rows[1].Channel.ID != ch.ID {
		t.Fatalf("activity %s", p.raw)
	}

	// Other channels have no key, origins or snippet.
	var chans struct {
		Channels struct {
			Edges []struct{ Node liveTalkChannel }
		}
	}
	e.must(tn.agentToken, `{ channels { edges { node { `+liveTalkChannelFields+` } } } }`, nil, &chans)
	if len(chans.Channels.Edges) != 2 {
		t.Fatalf("agent sees %d channels", len(chans.Channels.Edges))
	}
}

func TestLiveTalkChannelValidation(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("LiveTalk Valid")
	const create = `mutation($in: CreateLiveTalkChannelInput!) { createLiveTalkChannel(input: $in) { id } }`
	long := "https://" + strings.Repeat("a", 250) + ".vn"
	for _, tc := range []struct {
		name    string
		in      map[string]any
		field   string
		message string
	}{
		{"NoName", map[string]any{"name": " ", "allowedOrigins": []string{"https://a.vn"}}, "input.name", "name is required"},
		{"NoOrigins", map[string]any{"name": "W", "allowedOrigins": []string{}}, "input.allowedOrigins", "at least one origin"},
		{"Path", map[string]any{"name": "W", "allowedOrigins": []string{"https://a.vn/shop"}}, "input.allowedOrigins", "no path"},
		{"Query", map[string]any{"name": "W", "allowedOrigins": []string{"https://a.vn?x=1"}}, "input.allowedOrigins", "no path"},
		{"Scheme", map[string]any{"name": "W", "allowedOrigins": []string{"ftp://a.vn"}}, "input.allowedOrigins", "http or https"},
		{"NoScheme", map[string]any{"name": "W", "allowedOrigins": []string{"a.vn"}}, "input.allowedOrigins", "http or https"},
		{"Wildcard", map[string]any{"name": "W", "allowedOrigins": []string{"https://*.a.vn"}}, "input.allowedOrigins", "host"},
		{"UserInfo", map[string]any{"name": "W", "allowedOrigins": []string{"https://u:p@a.vn"}}, "input.allowedOrigins", "scheme://host"},
		{"Port", map[string]any{"name": "W", "allowedOrigins": []string{"https://a.vn:99999"}}, "input.allowedOrigins", "port"},
		{"TooLong", map[string]any{"name": "W", "allowedOrigins": []string{long}}, "input.allowedOrigins", "characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.adminToken, create, map[string]any{"in": tc.in})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field || !strings.Contains(r.Errors[0].Message, tc.message) {
				t.Fatalf("got %+v", r.Errors)
			}
		})
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = "https://s" + strings.Repeat("x", i+1) + ".vn"
	}
	if r := e.gql(tn.adminToken, create, map[string]any{"in": map[string]any{"name": "W", "allowedOrigins": many}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("21 origins: %+v", r.Errors)
	}
	// An agent may not create one; nothing was created by any refusal.
	if r := e.gql(tn.agentToken, create, map[string]any{"in": map[string]any{"name": "W", "allowedOrigins": []string{"https://a.vn"}}}); r.code() != "FORBIDDEN" {
		t.Fatalf("agent: %+v", r.Errors)
	}
	var chans struct{ Channels struct{ TotalCount int } }
	e.must(tn.ownerToken, `{ channels { totalCount } }`, nil, &chans)
	if chans.Channels.TotalCount != 0 {
		t.Fatalf("refusals created %d channels", chans.Channels.TotalCount)
	}
}

func TestLiveTalkChannelRotateAndOrigins(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("LiveTalk Rotate")
	ch := e.createLiveTalk(tn.adminToken, "Website", "https://shop.example.vn")
	origin := "https://shop.example.vn"
	const widget = `query($k: String!) { widget(key: $k) { title } }`
	if r := e.visitorGQL(origin, "", widget, map[string]any{"k": *ch.WidgetKey}); r.code() != "" {
		t.Fatalf("widget before rotation: %+v", r.Errors)
	}

	var rot struct{ RotateLiveTalkWidgetKey liveTalkChannel }
	e.must(tn.ownerToken, `mutation($id: ID!) { rotateLiveTalkWidgetKey(channelId: $id) { `+liveTalkChannelFields+` } }`, map[string]any{"id": ch.ID}, &rot)
	nk := rot.RotateLiveTalkWidgetKey.WidgetKey
	if nk == nil || *nk == *ch.WidgetKey || !strings.Contains(*rot.RotateLiveTalkWidgetKey.IntegrationSnippet, *nk) {
		t.Fatalf("rotated %+v", rot)
	}
	// The old key is gone, the new one works.
	if r := e.visitorGQL(origin, "", widget, map[string]any{"k": *ch.WidgetKey}); r.code() != "NOT_FOUND" {
		t.Fatalf("old key: %+v", r.Errors)
	}
	if r := e.visitorGQL(origin, "", widget, map[string]any{"k": *nk}); r.code() != "" {
		t.Fatalf("new key: %+v", r.Errors)
	}
	if p := e.activityLog(tn.ownerToken, map[string]any{"action": "LIVETALK_WIDGET_KEY_ROTATED"}, 5, ""); p.total != 1 || p.rows[0].Actor.ID != tn.ownerID {
		t.Fatalf("activity %s", p.raw)
	}
	if strings.Contains(e.activityLog(tn.ownerToken, nil, 10, "").raw, *nk) {
		t.Fatal("the activity log repeats the widget key")
	}

	const setOrigins = `mutation($id: ID!, $o: [String!]!) { updateLiveTalkAllowedOrigins(channelId: $id, allowedOrigins: $o) { allowedOrigins } }`
	if r := e.gql(tn.adminToken, setOrigins, map[string]any{"id": ch.ID, "o": []string{"https://a.vn/x"}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "allowedOrigins" {
		t.Fatalf("bad origin: %+v", r.Errors)
	}
	if r := e.gql(tn.agentToken, setOrigins, map[string]any{"id": ch.ID, "o": []string{"https://a.vn"}}); r.code() != "FORBIDDEN" {
		t.Fatalf("agent: %+v", r.Errors)
	}
	var upd struct {
		UpdateLiveTalkAllowedOrigins struct{ AllowedOrigins []string }
	}
	e.must(tn.adminToken, setOrigins, map[string]any{"id": ch.ID, "o": []string{"https://new.example.vn"}}, &upd)
	if strings.Join(upd.UpdateLiveTalkAllowedOrigins.AllowedOrigins, ",") != "https://new.example.vn" {
		t.Fatalf("origins %+v", upd)
	}
	// The old origin is now refused, the new one answered.
	if r := e.visitorGQL(origin, "", widget, map[string]any{"k": *nk}); r.Status != 403 {
		t.Fatalf("old origin: %d %+v", r.Status, r.Errors)
	}
	if r := e.visitorGQL("https://new.example.vn", "", widget, map[string]any{"k": *nk}); r.code() != "" {
		t.Fatalf("new origin: %+v", r.Errors)
	}
	// Not a LIVETALK channel, or another organization's: NOT_FOUND.
	other := e.newTenant("LiveTalk Other")
	if r := e.gql(other.ownerToken, `mutation($id: ID!) { rotateLiveTalkWidgetKey(channelId: $id) { id } }`, map[string]any{"id": ch.ID}); r.code() != "NOT_FOUND" {
		t.Fatalf("other org: %+v", r.Errors)
	}
}
