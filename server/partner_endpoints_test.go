package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/partner"
	"github.com/dakenh/dakenh/internal/viewer"
)

// endpointRow is a WebhookEndpoint as the API returns it.
type endpointRow struct {
	ID             string
	URL            string
	Events         []string
	Description    string
	Enabled        bool
	DisabledReason *string
}

const endpointFields = `id url events description enabled disabledReason`

// createEndpoint registers an endpoint and returns it with its secret.
func (e *env) createEndpoint(token string, in map[string]any) (endpointRow, string) {
	e.t.Helper()
	var out struct {
		CreateWebhookEndpoint struct {
			Endpoint endpointRow
			Secret   string
		}
	}
	e.must(token, `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { endpoint { `+endpointFields+` } secret } }`,
		map[string]any{"in": in}, &out)
	return out.CreateWebhookEndpoint.Endpoint, out.CreateWebhookEndpoint.Secret
}

// TestWebhookEndpoints walks an endpoint through its life as an owner and
// as API keys: created with its secret shown once, listed, updated,
// disabled and enabled, its secret rotated with the old one signing
// beside the new for a day, deleted; each change one activity entry
// without a secret; agents and keys without WRITE refused.
func TestWebhookEndpoints(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Partner Org")
	readKey := e.createAPIKey(tn.ownerToken, "READ")
	writeKey := e.createAPIKey(tn.ownerToken, "WRITE")
	count := e.activityLog(tn.ownerToken, nil, 1, "").total
	var secrets []string
	lastEntry := func(t *testing.T, want wantActivity) {
		t.Helper()
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		if p.total != count+1 {
			t.Fatalf("%d new entries, want 1", p.total-count)
		}
		count++
		assertEntry(t, p.rows[0], want)
		for _, s := range secrets {
			if strings.Contains(p.raw, s) {
				t.Fatalf("the activity log holds a secret: %s", p.raw)
			}
		}
	}

	ep, secret := e.createEndpoint(tn.ownerToken, map[string]any{
		"url": " https://partner.example.vn/dakenh?src=crm ", "events": []string{"message.created", "conversation.assigned", "message.created"},
		"description": "  ERP đơn hàng ",
	})
	secrets = append(secrets, secret)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("secret %q", secret)
	}
	want := endpointRow{ID: ep.ID, URL: "https://partner.example.vn/dakenh?src=crm", Events: []string{"message.created", "conversation.assigned"},
		Description: "ERP đơn hàng", Enabled: true}
	if jsonOf(t, ep) != jsonOf(t, want) {
		t.Fatalf("created %+v, want %+v", ep, want)
	}
	lastEntry(t, wantActivity{action: "WEBHOOK_ENDPOINT_CREATED", actor: tn.ownerID, subject: ep.ID, details: map[string]any{
		"url": want.URL, "events": want.Events, "description": want.Description, "enabled": true,
	}})

	t.Run("SecretIsSealed", func(t *testing.T) {
		row := e.db.Client.WebhookEndpoint.GetX(viewer.SystemContext(context.Background(), ""), gid.ID(ep.ID))
		if strings.Contains(string(row.Secret), secret) || strings.Contains(string(row.Secret), strings.TrimPrefix(secret, "whsec_")) {
			t.Fatal("the secret is stored in clear")
		}
		got, err := e.app.partners.Secrets(row)
		if err != nil || len(got) != 1 || got[0] != secret {
			t.Fatalf("Secrets = %q, %v", got, err)
		}
	})

	t.Run("Access", func(t *testing.T) {
		list := `{ webhookEndpoints { id } }`
		create := `mutation { createWebhookEndpoint(input: {url: "https://b.example.vn/", events: ["*"]}) { secret } }`
		for _, tc := range []struct {
			name, token, query, code string
		}{
			{"AgentCannotList", tn.agentToken, list, "FORBIDDEN"},
			{"AgentCannotCreate", tn.agentToken, create, "FORBIDDEN"},
			{"ReadKeyCannotList", readKey, list, "FORBIDDEN"},
			{"ReadKeyCannotCreate", readKey, create, "FORBIDDEN"},
			{"NobodyCannotList", "", list, "UNAUTHENTICATED"},
			{"AdminLists", tn.adminToken, list, ""},
			{"FullKeyLists", tn.apiKey, list, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.gql(tc.token, tc.query, nil); r.code() != tc.code {
					t.Fatalf("got %q %+v", r.code(), r.Errors)
				}
			})
		}
		// A key holding WRITE registers one, its entry naming the key.
		byKey, s := e.createEndpoint(writeKey, map[string]any{"url": "https://b.example.vn/", "events": []string{"*"}})
		secrets = append(secrets, s)
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		count++
		if p.rows[0].Action != "WEBHOOK_ENDPOINT_CREATED" || p.rows[0].APIKey == nil || p.rows[0].Actor != nil {
			t.Fatalf("entry %+v", p.rows[0])
		}
		e.must(writeKey, `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, map[string]any{"id": byKey.ID}, nil)
		count++
	})

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"HTTP", map[string]any{"url": "http://partner.example.vn/", "events": []string{"*"}}, "input.url"},
			{"HTTPToLoopbackWithoutTheSetting", map[string]any{"url": "http://127.0.0.1:8080/", "events": []string{"*"}}, "input.url"},
			{"Loopback", map[string]any{"url": "https://127.0.0.1/", "events": []string{"*"}}, "input.url"},
			{"LoopbackIPv6", map[string]any{"url": "https://[::1]:8443/", "events": []string{"*"}}, "input.url"},
			{"Metadata", map[string]any{"url": "https://169.254.169.254/latest/meta-data/", "events": []string{"*"}}, "input.url"},
			{"Private", map[string]any{"url": "https://10.0.0.1/hook", "events": []string{"*"}}, "input.url"},
			{"PrivateMapped", map[string]any{"url": "https://[::ffff:192.168.1.1]/", "events": []string{"*"}}, "input.url"},
			{"Unspecified", map[string]any{"url": "https://0.0.0.0/", "events": []string{"*"}}, "input.url"},
			{"OtherScheme", map[string]any{"url": "ftp://partner.example.vn/", "events": []string{"*"}}, "input.url"},
			{"Relative", map[string]any{"url": "/hook", "events": []string{"*"}}, "input.url"},
			{"UserInfo", map[string]any{"url": "https://user:pass@partner.example.vn/", "events": []string{"*"}}, "input.url"},
			{"Fragment", map[string]any{"url": "https://partner.example.vn/#x", "events": []string{"*"}}, "input.url"},
			{"TooLong", map[string]any{"url": "https://partner.example.vn/" + strings.Repeat("a", 2048), "events": []string{"*"}}, "input.url"},
			{"NoEvents", map[string]any{"url": "https://partner.example.vn/", "events": []string{}}, "input.events"},
			{"UnknownEvent", map[string]any{"url": "https://partner.example.vn/", "events": []string{"message.deleted"}}, "input.events"},
			{"AllAndMore", map[string]any{"url": "https://partner.example.vn/", "events": []string{"*", "message.created"}}, "input.events"},
			{"LongDescription", map[string]any{"url": "https://partner.example.vn/", "events": []string{"*"}, "description": strings.Repeat("đ", 501)}, "input.description"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.gql(tn.ownerToken, `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret } }`, map[string]any{"in": tc.in})
				if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
					t.Fatalf("got %q %+v", r.code(), r.Errors)
				}
			})
		}
		r := e.gql(tn.ownerToken, `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "https://10.1.2.3/"}) { id } }`, map[string]any{"id": ep.ID})
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("update to a private address: %q %+v", r.code(), r.Errors)
		}
		var out struct{ WebhookEndpoints []endpointRow }
		e.must(tn.ownerToken, `{ webhookEndpoints { `+endpointFields+` } }`, nil, &out)
		if len(out.WebhookEndpoints) != 1 || jsonOf(t, out.WebhookEndpoints[0]) != jsonOf(t, want) {
			t.Fatalf("endpoints after bad input: %+v", out.WebhookEndpoints)
		}
		if p := e.activityLog(tn.ownerToken, nil, 1, ""); p.total != count {
			t.Fatalf("bad input left %d entries", p.total-count)
		}
	})

	t.Run("UpdateDisableEnable", func(t *testing.T) {
		var out struct{ UpdateWebhookEndpoint endpointRow }
		e.must(tn.ownerToken, `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "https://erp.example.vn/in", events: ["*"], enabled: false}) { `+endpointFields+` } }`,
			map[string]any{"id": ep.ID}, &out)
		if g := out.UpdateWebhookEndpoint; g.URL != "https://erp.example.vn/in" || g.Enabled || len(g.Events) != 1 || g.Events[0] != "*" || g.Description != want.Description {
			t.Fatalf("updated %+v", g)
		}
		lastEntry(t, wantActivity{action: "WEBHOOK_ENDPOINT_UPDATED", actor: tn.ownerID, subject: ep.ID, details: map[string]any{
			"url": "https://erp.example.vn/in",
			"changes": map[string]any{
				"url":     map[string]any{"from": want.URL, "to": "https://erp.example.vn/in"},
				"events":  map[string]any{"from": want.Events, "to": []string{"*"}},
				"enabled": map[string]any{"from": true, "to": false},
			},
		}})
		e.must(tn.apiKey, `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: true}) { id } }`, map[string]any{"id": ep.ID}, nil)
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		count++
		if p.rows[0].Action != "WEBHOOK_ENDPOINT_UPDATED" || idOf(p.rows[0].APIKey) == "" {
			t.Fatalf("entry %+v", p.rows[0])
		}
		// An update that changes nothing records nothing.
		e.must(tn.ownerToken, `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: true}) { id } }`, map[string]any{"id": ep.ID}, nil)
		if p := e.activityLog(tn.ownerToken, nil, 1, ""); p.total != count {
			t.Fatalf("a no-op update left an entry: %+v", p.rows[0])
		}
	})

	t.Run("Rotate", func(t *testing.T) {
		var out struct {
			RotateWebhookSecret struct {
				Endpoint struct{ ID string }
				Secret   string
			}
		}
		e.must(tn.ownerToken, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { id } secret } }`, map[string]any{"id": ep.ID}, &out)
		fresh := out.RotateWebhookSecret.Secret
		secrets = append(secrets, fresh)
		if fresh == secret || !strings.HasPrefix(fresh, "whsec_") || out.RotateWebhookSecret.Endpoint.ID != ep.ID {
			t.Fatalf("rotated %+v", out)
		}
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		count++
		if p.rows[0].Action != "WEBHOOK_SECRET_ROTATED" || idOf(p.rows[0].Actor) != tn.ownerID {
			t.Fatalf("entry %+v", p.rows[0])
		}
		for _, s := range secrets {
			if strings.Contains(p.raw, s) {
				t.Fatal("the rotation's entry holds a secret")
			}
		}
		row := e.db.Client.WebhookEndpoint.GetX(viewer.SystemContext(context.Background(), ""), gid.ID(ep.ID))
		got, err := e.app.partners.Secrets(row)
		if err != nil || len(got) != 2 || got[0] != fresh || got[1] != secret {
			t.Fatalf("during the overlap Secrets = %q, %v", got, err)
		}
		later := partner.New(e.db.Client, e.app.box, partner.Options{Now: func() time.Time { return time.Now().Add(partner.RotationOverlap + time.Minute) }})
		if got, err := later.Secrets(row); err != nil || len(got) != 1 || got[0] != fresh {
			t.Fatalf("after the overlap Secrets = %q, %v", got, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		var out struct{ DeleteWebhookEndpoint string }
		e.must(tn.ownerToken, `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, map[string]any{"id": ep.ID}, &out)
		if out.DeleteWebhookEndpoint != ep.ID {
			t.Fatalf("deleted %q", out.DeleteWebhookEndpoint)
		}
		lastEntry(t, wantActivity{action: "WEBHOOK_ENDPOINT_DELETED", actor: tn.ownerID, subject: ep.ID, details: map[string]any{
			"url": "https://erp.example.vn/in", "events": []string{"*"}, "description": want.Description,
		}})
		r := e.gql(tn.ownerToken, `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, map[string]any{"id": ep.ID})
		if r.code() != "NOT_FOUND" {
			t.Fatalf("deleting again: %q", r.code())
		}
	})

	t.Run("EventTypes", func(t *testing.T) {
		var out struct{ WebhookEventTypes []string }
		e.must(tn.ownerToken, `{ webhookEventTypes }`, nil, &out)
		if jsonOf(t, out.WebhookEventTypes) != jsonOf(t, partner.EventTypes()) {
			t.Fatalf("webhookEventTypes = %q", out.WebhookEventTypes)
		}
	})
}

// TestWebhookEndpointsInsecureSetting: with DAKENH_ALLOW_INSECURE_WEBHOOKS
// an endpoint may use http to loopback, and only to loopback.
func TestWebhookEndpointsInsecureSetting(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *appOptions) { c.AllowInsecureWebhooks = true })
	tn := e.newTenant("Dev Org")
	for _, u := range []string{"http://127.0.0.1:9000/hook", "http://localhost:9000/hook", "http://[::1]:9000/hook", "https://127.0.0.1:9443/"} {
		if ep, _ := e.createEndpoint(tn.ownerToken, map[string]any{"url": u, "events": []string{"*"}}); ep.URL != u {
			t.Fatalf("created %q for %q", ep.URL, u)
		}
	}
	for _, u := range []string{"http://partner.example.vn/", "http://10.0.0.1/", "https://169.254.169.254/"} {
		r := e.gql(tn.ownerToken, `mutation($u: String!) { createWebhookEndpoint(input: {url: $u, events: ["*"]}) { secret } }`, map[string]any{"u": u})
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("%s: %q %+v", u, r.code(), r.Errors)
		}
	}
	var out json.RawMessage
	e.must(tn.ownerToken, `{ webhookEndpoints { id } }`, nil, &out)
}
