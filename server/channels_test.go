package main

import (
	"strings"
	"testing"
	"time"
)

const channelFields = `id kind externalId name status statusReason chatPermission published isTesting lastConnectedAt connectedBy { id }`

type channelOut struct {
	ID, Kind, ExternalID, Name, Status, ChatPermission string
	StatusReason                                       string
	ConnectedBy                                        *struct{ ID string }
}

func zaloInput(oaID string) map[string]any {
	return map[string]any{
		"oaId": oaID, "name": "Shop Hoa Lan OA", "appId": "app-1", "appSecret": "APP-SECRET-zalo-1",
		"accessToken": "ACCESS-TOKEN-zalo-1", "refreshToken": "REFRESH-TOKEN-zalo-1",
		"accessTokenExpiresAt": time.Now().Add(25 * time.Hour).Format(time.RFC3339), "webhookSecret": "WEBHOOK-SECRET-zalo-1",
		"published": true,
	}
}

func TestChannels(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Channel Org")
	other := e.newTenant("Other Channel Org")
	connectZalo := `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { ` + channelFields + ` } }`
	connectFB := `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { ` + channelFields + ` } }`
	secrets := []string{"APP-SECRET-zalo-1", "ACCESS-TOKEN-zalo-1", "REFRESH-TOKEN-zalo-1", "WEBHOOK-SECRET-zalo-1", "PAGE-TOKEN-fb", "APP-SECRET-fb", "VERIFY-TOKEN-fb"}

	var zalo struct{ ConnectZaloOA channelOut }
	e.must(tn.adminToken, connectZalo, map[string]any{"in": zaloInput("oa-111")}, &zalo)
	z := zalo.ConnectZaloOA
	if z.Kind != "ZALO_OA" || z.ExternalID != "oa-111" || z.Status != "CONNECTED" || z.ChatPermission != "ONLY_ME" || z.ConnectedBy.ID != tn.adminID {
		t.Fatalf("connected %+v", z)
	}
	var fb struct{ ConnectFacebookPage channelOut }
	e.must(tn.ownerToken, connectFB, map[string]any{"in": map[string]any{
		"pageId": "page-222", "name": "Hoa Lan Fanpage", "pageAccessToken": "PAGE-TOKEN-fb", "appSecret": "APP-SECRET-fb", "verifyToken": "VERIFY-TOKEN-fb",
	}}, &fb)

	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		code, field        string
	}{
		{"AgentCannotConnect", tn.agentToken, connectZalo, map[string]any{"in": zaloInput("oa-333")}, "FORBIDDEN", ""},
		{"APIKeyCannotConnect", tn.apiKey, connectZalo, map[string]any{"in": zaloInput("oa-333")}, "FORBIDDEN", ""},
		{"ErrOAOfAnotherOrganization", other.ownerToken, connectZalo, map[string]any{"in": zaloInput("oa-111")}, "CONFLICT", ""},
		{"ErrMissingWebhookSecret", tn.ownerToken, connectZalo, map[string]any{"in": func() map[string]any { in := zaloInput("oa-444"); in["webhookSecret"] = " "; return in }()}, "BAD_USER_INPUT", "webhookSecret"},
		{"AgentCannotShare", tn.agentToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`, map[string]any{"id": z.ID}, "FORBIDDEN", ""},
		{"ForeignCannotDisconnect", other.ownerToken, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": z.ID}, "NOT_FOUND", ""},
		{"ForeignCannotShare", other.ownerToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`, map[string]any{"id": z.ID}, "NOT_FOUND", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tc.token, tc.query, tc.vars)
			if r.code() != tc.code || tc.field != "" && r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %q %+v", r.code(), r.Errors)
			}
		})
	}

	t.Run("ReconnectKeepsTheChannel", func(t *testing.T) {
		in := zaloInput("oa-111")
		in["name"] = "Tên mới"
		var again struct{ ConnectZaloOA channelOut }
		e.must(tn.ownerToken, connectZalo, map[string]any{"in": in}, &again)
		if again.ConnectZaloOA.ID != z.ID || again.ConnectZaloOA.Name != "Tên mới" || again.ConnectZaloOA.ConnectedBy.ID != tn.adminID {
			t.Fatalf("reconnected %+v", again.ConnectZaloOA)
		}
	})

	t.Run("SecretsNeverLeave", func(t *testing.T) {
		var typ struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		e.must(tn.ownerToken, `{ __type(name: "Channel") { fields { name } } }`, nil, &typ)
		for _, f := range typ.Type.Fields {
			if n := strings.ToLower(f.Name); strings.Contains(n, "token") || strings.Contains(n, "secret") {
				t.Errorf("Channel exposes field %s", f.Name)
			}
		}
		r := e.gql(tn.ownerToken, `{ channels { edges { node { `+channelFields+` } } } }`, nil)
		rows, err := e.db.SQL.Query(`SELECT * FROM channels`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var dump strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					dump.Write(x)
				case string:
					dump.WriteString(x)
				}
				dump.WriteByte('|')
			}
		}
		for _, s := range secrets {
			if strings.Contains(string(r.Data), s) {
				t.Errorf("the API returns %s", s)
			}
			if strings.Contains(dump.String(), s) {
				t.Errorf("the database holds %s in clear", s)
			}
			if strings.Contains(e.logText(), s) {
				t.Errorf("the log contains %s", s)
			}
		}
	})

	t.Run("Disconnect", func(t *testing.T) {
		var out struct{ DisconnectChannel channelOut }
		e.must(tn.ownerToken, `mutation($id: ID!) { disconnectChannel(id: $id) { `+channelFields+` } }`, map[string]any{"id": fb.ConnectFacebookPage.ID}, &out)
		if out.DisconnectChannel.Status != "DISCONNECTED" || out.DisconnectChannel.StatusReason == "" {
			t.Fatalf("disconnected %+v", out.DisconnectChannel)
		}
		var token []byte
		if err := e.db.SQL.QueryRow(`SELECT access_token FROM channels WHERE id = `+placeholder(e), fb.ConnectFacebookPage.ID).Scan(&token); err != nil || token != nil {
			t.Fatalf("access token after disconnect: %x, %v", token, err)
		}
	})

	t.Run("ShareMakesConversationsVisible", func(t *testing.T) {
		var out struct{ SetChannelChatPermission channelOut }
		e.must(tn.adminToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { `+channelFields+` } }`, map[string]any{"id": z.ID}, &out)
		if out.SetChannelChatPermission.ChatPermission != "SHARED" {
			t.Fatalf("got %+v", out.SetChannelChatPermission)
		}
	})
}

// placeholder is the first bind parameter of the test database's dialect.
func placeholder(e *env) string {
	if e.db.Dialect == "postgres" {
		return "$1"
	}
	return "?"
}
