package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestMessageTemplates(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Template Org")
	other := e.newTenant("Other Org")
	create := `mutation($n: String!, $c: String!) { createMessageTemplate(input: {name: $n, content: $c}) { id name content } }`
	var ids []string
	for _, name := range []string{"Chào hỏi", "Cảm ơn", "Báo giá"} {
		var out struct{ CreateMessageTemplate struct{ ID string } }
		e.must(tn.adminToken, create, map[string]any{"n": name, "c": "Nội dung " + name}, &out)
		ids = append(ids, out.CreateMessageTemplate.ID)
	}
	var foreign struct{ CreateMessageTemplate struct{ ID string } }
	e.must(other.ownerToken, create, map[string]any{"n": "Chào hỏi", "c": "same name, other org"}, &foreign)

	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		code               string
	}{
		{"ErrNameTaken", tn.ownerToken, create, map[string]any{"n": "Chào hỏi", "c": "x"}, "CONFLICT"},
		{"ErrEmptyContent", tn.ownerToken, create, map[string]any{"n": "Trống", "c": ""}, "BAD_USER_INPUT"},
		{"AgentCannotCreate", tn.agentToken, create, map[string]any{"n": "Agent", "c": "x"}, "FORBIDDEN"},
		{"ErrRenameToTaken", tn.ownerToken, `mutation($id: ID!) { updateMessageTemplate(id: $id, input: {name: "Cảm ơn"}) { id } }`, map[string]any{"id": ids[0]}, "CONFLICT"},
		{"ErrForeignInBatch", tn.ownerToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": []string{ids[0], foreign.CreateMessageTemplate.ID}}, "NOT_FOUND"},
		{"ErrUnknownInBatch", tn.ownerToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": []string{ids[0], "tpl_01JD3Q2V5Z8N4M7K1P6R9T0W2X"}}, "NOT_FOUND"},
		{"AgentCannotDelete", tn.agentToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": ids[:1]}, "FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.gql(tc.token, tc.query, tc.vars); r.code() != tc.code {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.code)
			}
		})
	}
	count := func(token string) int {
		var out struct{ MessageTemplates struct{ TotalCount int } }
		e.must(token, `{ messageTemplates { totalCount } }`, nil, &out)
		return out.MessageTemplates.TotalCount
	}
	if n := count(tn.agentToken); n != 3 {
		t.Fatalf("after refused deletes the agent sees %d templates, want 3", n)
	}
	var del struct{ DeleteMessageTemplates int }
	e.must(tn.adminToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": []string{ids[0], ids[1], ids[0]}}, &del)
	if del.DeleteMessageTemplates != 2 || count(tn.agentToken) != 1 || count(other.ownerToken) != 1 {
		t.Fatalf("deleted %d; left %d here and %d in the other org", del.DeleteMessageTemplates, count(tn.agentToken), count(other.ownerToken))
	}
}

// seedConversation creates, as the system, a channel with the given chat
// permission connected by a user, a customer and a conversation with one
// inbound message; it returns the conversation's ID.
func seedConversation(t testing.TB, e *env, orgID, connectedBy gid.ID, perm channel.ChatPermission, name string) gid.ID {
	t.Helper()
	ctx := viewer.SystemContext(context.Background(), orgID)
	c := e.db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID(fmt.Sprint("oa-", name, time.Now().UnixNano())).
		SetName(name).SetChatPermission(perm).SetConnectedByID(connectedBy).SetLastConnectedAt(time.Now()).SaveX(ctx)
	cust := c.Customer.Create().SetName("Khách " + name).SaveX(ctx)
	conv := c.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetLastMessageAt(time.Now()).SaveX(ctx)
	c.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).SetDirection(message.DirectionINBOUND).
		SetText("Xin chào từ " + name).SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).SaveX(ctx)
	return conv.ID
}

// TestOnlyMeConversationsAreHidden checks README.md, "Channels": the conversations
// of an ONLY_ME channel are seen by the user who connected it and nobody
// else, admins and API keys included, whether listed, fetched by node or
// reached through their messages.
func TestOnlyMeConversationsAreHidden(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Visibility Org")
	org := orgOf(t, e, tn)
	private := seedConversation(t, e, org, gid.ID(tn.agentID), channel.ChatPermissionONLY_ME, "riêng")
	seedConversation(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED, "chung")

	list := `{ conversations(orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) { edges { node { id channel { name } messages(first: 5) { edges { node { text } } } } } } }`
	for _, tc := range []struct {
		name, token string
		want        string
	}{
		{"ConnectingAgentSeesBoth", tn.agentToken, "chung,riêng"},
		{"OwnerSeesOnlyShared", tn.ownerToken, "chung"},
		{"AdminSeesOnlyShared", tn.adminToken, "chung"},
		{"APIKeySeesOnlyShared", tn.apiKey, "chung"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out struct {
				Conversations struct {
					Edges []struct {
						Node struct {
							Channel  struct{ Name string }
							Messages struct {
								Edges []struct{ Node struct{ Text string } }
							}
						}
					}
				}
			}
			e.must(tc.token, list, nil, &out)
			var got []string
			for _, edge := range out.Conversations.Edges {
				got = append(got, edge.Node.Channel.Name)
				if len(edge.Node.Messages.Edges) != 1 || !strings.Contains(edge.Node.Messages.Edges[0].Node.Text, edge.Node.Channel.Name) {
					t.Fatalf("messages of %s: %+v", edge.Node.Channel.Name, edge.Node.Messages)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("sees %v, want %s", got, tc.want)
			}
			r := e.gql(tc.token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": private})
			if visible := r.code() == ""; visible != strings.Contains(tc.want, "riêng") {
				t.Fatalf("node(private) visible=%v: %s %+v", visible, r.Data, r.Errors)
			}
		})
	}
}

// TestConversationSearchAndTimeline finds conversations by their
// customer's name without diacritics and lists a customer's messages
// newest first, hiding those of ONLY_ME channels of others.
func TestConversationSearchAndTimeline(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Timeline Org")
	org := orgOf(t, e, tn)
	shared := seedConversation(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED, "Đức Anh")
	seedConversation(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED, "Lan")

	var found struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       gid.ID
					Customer struct {
						ID       gid.ID
						Timeline struct {
							Edges []struct{ Node struct{ Text string } }
						}
					}
				}
			}
		}
	}
	e.must(tn.agentToken, `{ conversations(search: "khach duc anh") { edges { node { id customer { id timeline(first: 10) { edges { node { text } } } } } } } }`, nil, &found)
	if len(found.Conversations.Edges) != 1 || found.Conversations.Edges[0].Node.ID != shared {
		t.Fatalf("search found %+v", found.Conversations.Edges)
	}

	// A second conversation of the same customer on a private channel of
	// the ADMIN, with a later message: visible to the ADMIN only.
	ctx := viewer.SystemContext(context.Background(), org)
	cust := found.Conversations.Edges[0].Node.Customer.ID
	ch := e.db.Client.Channel.Create().SetKind(channel.KindFACEBOOK_PAGE).SetExternalID("page-riêng").SetName("riêng").
		SetChatPermission(channel.ChatPermissionONLY_ME).SetConnectedByID(gid.ID(tn.adminID)).SetLastConnectedAt(time.Now()).SaveX(ctx)
	conv := e.db.Client.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust).SaveX(ctx)
	e.db.Client.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).SetDirection(message.DirectionINBOUND).
		SetText("tin mới nhất, riêng tư").SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).SaveX(ctx)

	timeline := func(token string) []string {
		var out struct {
			Node struct {
				Timeline struct {
					Edges []struct{ Node struct{ Text string } }
				}
			}
		}
		e.must(token, `query($id: ID!) { node(id: $id) { ... on Customer { timeline(first: 10) { edges { node { text } } } } } }`, map[string]any{"id": cust}, &out)
		var texts []string
		for _, edge := range out.Node.Timeline.Edges {
			texts = append(texts, edge.Node.Text)
		}
		return texts
	}
	if got := strings.Join(timeline(tn.adminToken), "|"); got != "tin mới nhất, riêng tư|Xin chào từ Đức Anh" {
		t.Fatalf("the ADMIN's timeline: %s", got)
	}
	if got := strings.Join(timeline(tn.agentToken), "|"); got != "Xin chào từ Đức Anh" {
		t.Fatalf("the AGENT's timeline: %s", got)
	}
}
