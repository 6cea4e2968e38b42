package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
)

// TestLastMessage follows a conversation's lastMessage through inbound
// messages, a reply and a late inbound message that is older than the
// reply: lastMessage stays the newest by time while messages(last: 1)
// shows the last one stored, in the inbox page and by node.
func TestLastMessage(t *testing.T) {
	w := newWebhookEnv(t)
	const user = "8130000000002001"
	type last struct {
		Text, Direction string
		Conversation    struct {
			ID       gid.ID
			Messages struct{ TotalCount int }
		}
	}
	var conv gid.ID
	check := func(t *testing.T, wantMessages int, wantLast, wantStored string) {
		t.Helper()
		var page struct {
			Conversations struct {
				Edges []struct {
					Node struct {
						ID          gid.ID
						LastMessage *last
						Messages    struct{ Edges []struct{ Node last } }
					}
				}
			}
		}
		w.must(w.tn.adminToken, `{ conversations(first: 10) { edges { node { id
			lastMessage { text direction conversation { id messages(first: 1) { totalCount } } }
			messages(last: 1) { edges { node { text direction } } } } } } }`, nil, &page)
		if len(page.Conversations.Edges) != 1 {
			t.Fatalf("%d conversations, want 1", len(page.Conversations.Edges))
		}
		n := page.Conversations.Edges[0].Node
		conv = n.ID
		if n.LastMessage == nil || n.LastMessage.Text != wantLast || len(n.Messages.Edges) != 1 || n.Messages.Edges[0].Node.Text != wantStored {
			t.Fatalf("page: lastMessage %+v, messages(last: 1) %+v; want %q and %q", n.LastMessage, n.Messages.Edges, wantLast, wantStored)
		}
		// Edges under the last message are loaded with it, under the
		// viewer's rules.
		if c := n.LastMessage.Conversation; c.ID != n.ID || c.Messages.TotalCount != wantMessages {
			t.Fatalf("lastMessage.conversation %+v, want %s with %d messages", c, n.ID, wantMessages)
		}
		var node struct {
			Node struct{ LastMessage *last }
		}
		w.must(w.tn.adminToken, `query($id: ID!) { node(id: $id) { ... on Conversation { lastMessage { text direction } } } }`,
			map[string]any{"id": conv}, &node)
		if node.Node.LastMessage == nil || node.Node.LastMessage.Text != wantLast {
			t.Fatalf("node: lastMessage %+v, want %q", node.Node.LastMessage, wantLast)
		}
	}

	w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": w.msgID("lm"), "text": "Shop ơi"}))
	w.process()
	check(t, 1, "Shop ơi", "Shop ơi")

	var sent struct{ SendMessage struct{ ID gid.ID } }
	w.must(w.tn.adminToken, sendMessageMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": "Dạ shop nghe"}}, &sent)
	check(t, 2, "Dạ shop nghe", "Dạ shop nghe")

	// The provider delivers, after the reply, a message the customer sent
	// before it.
	late := w.userEvent("user_send_text", user, map[string]any{"msg_id": w.msgID("lm"), "text": "Còn hàng không?"})
	w.sendZalo(late)
	w.process()
	check(t, 3, "Dạ shop nghe", "Còn hàng không?")

	// An agent, who cannot see the ONLY_ME channel, finds no conversation.
	r := w.gql(w.tn.agentToken, `query($id: ID!) { node(id: $id) { ... on Conversation { lastMessage { text } } } }`, map[string]any{"id": conv})
	if r.code() != "NOT_FOUND" {
		t.Fatalf("the agent got %+v", r)
	}
}

// TestInboxPageStatementCount pins the SQL statements of the inbox page
// (customer, assignee, channel and last message of each conversation) for
// an OWNER and an AGENT, with the session remembered: the page with its
// visibility filter, then the customers, the assignees, the channels and
// the last messages of the whole page, one statement each, whatever the
// page size. messages(last: 1) costs the same number (one window query).
func TestInboxPageStatementCount(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	e := newEnvOn(t, db)
	tn := e.newTenant("Inbox Count Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	sys := viewer.SystemContext(context.Background(), me.Me.Organization.ID)
	c := db.Client
	var channels []*ent.Channel
	for i := range 3 {
		channels = append(channels, c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID(fmt.Sprint("oa-count-", i)).
			SetName(fmt.Sprint("OA ", i)).SetChatPermission(channel.ChatPermissionSHARED).
			SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys))
	}
	base := time.Now().Add(-time.Hour)
	for i := range 60 {
		ch := channels[i%3]
		cust := c.Customer.Create().SetName(fmt.Sprint("Khách ", i)).SaveX(sys)
		cc := c.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetLastMessageAt(base.Add(time.Duration(i) * time.Minute))
		if i%2 == 0 {
			cc.SetAssigneeID(gid.ID([]string{tn.agentID, tn.adminID}[i/2%2]))
		}
		conv := cc.SaveX(sys)
		for j := range 3 {
			c.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).SetDirection(message.DirectionINBOUND).
				SetText(fmt.Sprintf("tin %d", j)).SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).
				SetCreatedAt(base.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Second)).ExecX(sys)
		}
	}
	if err := inbox.BackfillLastMessages(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	const (
		fields  = `id customer { id name } assignee { id name } channel { id name }`
		lastMsg = `lastMessage { text createdAt }`
		window  = `messages(last: 1) { edges { node { text createdAt } } }`
	)
	for _, who := range []struct{ name, token string }{{"OWNER", tn.ownerToken}, {"AGENT", tn.agentToken}} {
		// Remember the session, as a client's every request after its first.
		for range 2 {
			e.must(who.token, `{ me { id } }`, nil, nil)
		}
		for _, last := range []struct{ name, sel string }{{"lastMessage", lastMsg}, {"messages(last: 1)", window}} {
			for _, n := range []int{5, 50} {
				query := fmt.Sprintf(`query($n: Int) { conversations(first: $n) { edges { node { %s %s } } } }`, fields, last.sel)
				var page struct {
					Conversations struct {
						Edges []struct {
							Node struct {
								Customer    *struct{ Name string }
								LastMessage *struct{ Text string }
								Messages    *struct {
									Edges []struct{ Node struct{ Text string } }
								}
							}
						}
					}
				}
				counter.Reset()
				e.must(who.token, query, map[string]any{"n": n}, &page)
				got := counter.Count()
				if len(page.Conversations.Edges) == 0 {
					t.Fatalf("%s sees no conversations", who.name)
				}
				for _, edge := range page.Conversations.Edges {
					nd := edge.Node
					text := ""
					if nd.LastMessage != nil {
						text = nd.LastMessage.Text
					} else if nd.Messages != nil && len(nd.Messages.Edges) == 1 {
						text = nd.Messages.Edges[0].Node.Text
					}
					if nd.Customer == nil || text != "tin 2" {
						t.Fatalf("%s, first %d: conversation %+v", who.name, n, nd)
					}
				}
				// lastMessage: one statement, the page with its customers,
				// assignees, channels and last messages joined;
				// messages(last: 1) a second, entgql's window query.
				if want := map[string]int{"lastMessage": 1, "messages(last: 1)": 2}[last.name]; got != want {
					t.Errorf("%s, first %d, %s: %d statements, want %d: %q", who.name, n, last.name, got, want, counter.Queries())
				}
				// The page reads the columns its fields map to, and
				// last_message_id for lastMessage; not every column.
				if page := pageStatement(counter.Queries()); last.name == "lastMessage" &&
					(!strings.Contains(page, "last_message_id") || strings.Contains(page, "last_inbound_at")) {
					t.Errorf("%s, first %d: the page reads %s", who.name, n, page)
				}
			}
		}
	}

	// Joined columns that are NULL in one row and not in the next (every
	// row is scanned into the same slots): each customer's email as stored.
	for i, cu := range c.Customer.Query().AllX(sys) {
		if i%2 == 0 {
			cu.Update().SetEmail(fmt.Sprintf("khach%d@example.com", i)).ExecX(sys)
		}
	}
	var emails struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       gid.ID
					Customer struct{ Email *string }
				}
			}
		}
	}
	e.must(tn.agentToken, `{ conversations(first: 50) { edges { node { id customer { name email } } } } }`, nil, &emails)
	for _, edge := range emails.Conversations.Edges {
		want := c.Conversation.Query().Where(conversation.ID(edge.Node.ID)).QueryCustomer().OnlyX(sys)
		if got := edge.Node.Customer.Email; (got == nil) != (want.Email == nil) || got != nil && *got != *want.Email {
			t.Fatalf("conversation %s: customer email %v, stored %v", edge.Node.ID, got, want.Email)
		}
	}

	// An edge whose query loads edges of its own is not joined: the
	// customers and their tags come in their own statements, the rest of
	// the page in one; an unassigned conversation's assignee stays null.
	c.Customer.Update().AddTagIDs(c.Tag.Create().SetName("VIP").SaveX(sys).ID).ExecX(sys)
	var nested struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       gid.ID
					Assignee *struct{ ID gid.ID }
					Customer struct {
						Name string
						Tags []struct{ Name string }
					}
					LastMessage struct{ Text string }
				}
			}
		}
	}
	counter.Reset()
	e.must(tn.ownerToken, `{ conversations(first: 50) { edges { node { id assignee { id } customer { name tags { name } } lastMessage { text } } } } }`, nil, &nested)
	if got := counter.Count(); got != 3 {
		t.Errorf("customers with their tags: %d statements, want 3: %q", got, counter.Queries())
	}
	for _, edge := range nested.Conversations.Edges {
		nd := edge.Node
		want := c.Conversation.GetX(sys, nd.ID)
		if nd.Customer.Name == "" || len(nd.Customer.Tags) != 1 || nd.LastMessage.Text != "tin 2" ||
			(nd.Assignee == nil) != (want.AssigneeID == nil) || nd.Assignee != nil && nd.Assignee.ID != *want.AssigneeID {
			t.Fatalf("conversation %+v, stored %+v", nd, want)
		}
	}
}

// pageStatement returns the statement that read a page of conversations.
func pageStatement(queries []string) string {
	for _, q := range queries {
		if i := strings.Index(q, " FROM "); i >= 0 && strings.Contains(q[i:i+len(" FROM ")+len("conversations")+2], "conversations") {
			return q
		}
	}
	return ""
}
