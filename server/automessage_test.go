package main

import (
	"context"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

const createAutoMessageMutation = `mutation($in: CreateAutoMessageInput!) { createAutoMessage(input: $in) {
	id kind title path contents delaySeconds intervalSeconds resendAsMessage enabled showsPopup channel { id } } }`

// autoMessageOut is an AutoMessage as the tests read it.
type autoMessageOut struct {
	ID, Kind, Title               string
	Path                          *string
	Contents                      []string
	DelaySeconds, IntervalSeconds int
	ResendAsMessage, Enabled      bool
	ShowsPopup                    bool
	Channel                       struct{ ID gid.ID }
}

// TestAutoMessageConfig configures each kind of auto-message over the API,
// reads them back, and checks who may change them and what is refused.
func TestAutoMessageConfig(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Auto Org")
	org := orgOf(t, e, tn)
	ch := e.db.Client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-auto").SetName("Shop OA").
		SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).
		SaveX(viewer.SystemContext(context.Background(), org)).ID
	create := func(token string, in map[string]any) (*autoMessageOut, *gqlResponse) {
		t.Helper()
		in["channelId"] = ch
		r := e.gql(token, createAutoMessageMutation, map[string]any{"in": in})
		if r.code() != "" {
			return nil, r
		}
		var out struct{ CreateAutoMessage autoMessageOut }
		r.decode(t, &out)
		return &out.CreateAutoMessage, r
	}
	count := func() int {
		var out struct{ AutoMessages struct{ TotalCount int } }
		e.must(tn.agentToken, `{ autoMessages { totalCount } }`, nil, &out)
		return out.AutoMessages.TotalCount
	}

	greeting, _ := create(tn.adminToken, map[string]any{"kind": "GREETING", "title": "Chào mừng", "path": "/khuyen-mai",
		"contents": []string{"Đang giảm 20% ạ"}, "delaySeconds": 5, "resendAsMessage": true})
	hidden, _ := create(tn.ownerToken, map[string]any{"kind": "GREETING", "path": "/", "contents": []string{"Chào anh chị"}})
	start, _ := create(tn.adminToken, map[string]any{"kind": "START", "contents": []string{"Xin chào", "Shop có thể giúp gì ạ?"},
		"delaySeconds": 0, "intervalSeconds": 10})
	noReply, _ := create(tn.adminToken, map[string]any{"kind": "NO_REPLY", "contents": []string{"Anh chị chờ chút ạ"}, "delaySeconds": 60})
	offline, _ := create(tn.adminToken, map[string]any{"kind": "OFFLINE", "contents": []string{"Shop đang nghỉ ạ"}, "delaySeconds": 120})
	for _, a := range []*autoMessageOut{greeting, hidden, start, noReply, offline} {
		if a == nil || a.Channel.ID != ch || !a.Enabled {
			t.Fatalf("created %+v", a)
		}
	}
	if !greeting.ShowsPopup || *greeting.Path != "/khuyen-mai" || !greeting.ResendAsMessage || hidden.ShowsPopup || start.ShowsPopup {
		t.Fatalf("greeting %+v, hidden greeting %+v", greeting, hidden)
	}

	t.Run("ListedOnTheChannel", func(t *testing.T) {
		var out struct {
			Node struct{ AutoMessages []struct{ ID, Kind string } }
		}
		e.must(tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Channel { autoMessages { id kind } } } }`, map[string]any{"id": ch}, &out)
		if len(out.Node.AutoMessages) != 5 {
			t.Fatalf("channel lists %+v", out.Node.AutoMessages)
		}
		var byKind struct{ AutoMessages struct{ TotalCount int } }
		e.must(tn.agentToken, `query($c: ID!) { autoMessages(where: {kind: GREETING, hasChannelWith: {id: $c}}) { totalCount } }`,
			map[string]any{"c": ch}, &byKind)
		if byKind.AutoMessages.TotalCount != 2 {
			t.Fatalf("%d greetings listed, want 2", byKind.AutoMessages.TotalCount)
		}
		var node struct{ Node struct{ Kind string } }
		e.must(tn.agentToken, `query($id: ID!) { node(id: $id) { ... on AutoMessage { kind } } }`, map[string]any{"id": offline.ID}, &node)
		if node.Node.Kind != "OFFLINE" {
			t.Fatalf("node = %+v", node)
		}
	})

	for _, tc := range []struct {
		name, token string
		in          map[string]any
		code, field string
	}{
		{"ErrNoReplyUnder60", tn.adminToken, map[string]any{"kind": "NO_REPLY", "contents": []string{"x"}, "delaySeconds": 59}, "BAD_USER_INPUT", "delaySeconds"},
		{"ErrOfflineUnder60", tn.adminToken, map[string]any{"kind": "OFFLINE", "contents": []string{"x"}, "delaySeconds": 0}, "BAD_USER_INPUT", "delaySeconds"},
		{"ErrGreetingWithoutPath", tn.adminToken, map[string]any{"kind": "GREETING", "contents": []string{"x"}}, "BAD_USER_INPUT", "path"},
		{"ErrGreetingPathTaken", tn.adminToken, map[string]any{"kind": "GREETING", "path": "/khuyen-mai", "contents": []string{"x"}}, "CONFLICT", "path"},
		{"ErrSecondStart", tn.adminToken, map[string]any{"kind": "START", "contents": []string{"x"}}, "CONFLICT", ""},
		{"ErrStartWithoutContents", tn.adminToken, map[string]any{"kind": "START", "contents": []string{}}, "BAD_USER_INPUT", "contents"},
		{"ErrAgent", tn.agentToken, map[string]any{"kind": "GREETING", "path": "/agent", "contents": []string{"x"}}, "FORBIDDEN", ""},
		{"ErrAPIKey", tn.apiKey, map[string]any{"kind": "GREETING", "path": "/key", "contents": []string{"x"}}, "FORBIDDEN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := count()
			_, r := create(tc.token, tc.in)
			if r.code() != tc.code {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.code)
			}
			if f, _ := r.Errors[0].Extensions["field"].(string); tc.field != "" && f != tc.field {
				t.Errorf("field %q, want %q", f, tc.field)
			}
			if after := count(); after != before {
				t.Fatalf("%d auto-messages stored by a refused create", after-before)
			}
		})
	}

	t.Run("Update", func(t *testing.T) {
		update := `mutation($id: ID!, $in: UpdateAutoMessageInput!) { updateAutoMessage(id: $id, input: $in) { delaySeconds contents } }`
		if r := e.gql(tn.adminToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 30}}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("NO_REPLY to 30 s: %q %+v", r.code(), r.Errors)
		}
		if r := e.gql(tn.agentToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 300}}); r.code() != "FORBIDDEN" {
			t.Fatalf("agent update: %q %+v", r.code(), r.Errors)
		}
		var out struct{ UpdateAutoMessage autoMessageOut }
		e.must(tn.adminToken, update, map[string]any{"id": noReply.ID, "in": map[string]any{"delaySeconds": 90, "contents": []string{"Một", "Hai"}}}, &out)
		if out.UpdateAutoMessage.DelaySeconds != 90 || len(out.UpdateAutoMessage.Contents) != 2 {
			t.Fatalf("updated %+v", out.UpdateAutoMessage)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		del := `mutation($id: ID!) { deleteAutoMessage(id: $id) }`
		if r := e.gql(tn.agentToken, del, map[string]any{"id": hidden.ID}); r.code() != "FORBIDDEN" {
			t.Fatalf("agent delete: %q %+v", r.code(), r.Errors)
		}
		var out struct{ DeleteAutoMessage gid.ID }
		e.must(tn.adminToken, del, map[string]any{"id": hidden.ID}, &out)
		if out.DeleteAutoMessage != gid.ID(hidden.ID) || count() != 4 {
			t.Fatalf("deleted %q, %d left", out.DeleteAutoMessage, count())
		}
		if r := e.gql(tn.adminToken, del, map[string]any{"id": hidden.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("second delete: %q %+v", r.code(), r.Errors)
		}
	})
}
