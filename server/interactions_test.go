package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

const interactionsQuery = `query($id: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor) {
	node(id: $id) { ... on Customer { interactions(first: $first, after: $after, last: $last, before: $before) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { __typename ... on Message { id text } ... on Call { id providerCallId } } } } } } }`

// interactionsPage is a page of a customer's interactions, each as "m:text"
// or "c:providerCallId".
type interactionsPage struct {
	items                  string
	total                  int
	next, previous         bool
	startCursor, endCursor string
}

func (c *callEnv) interactions(token string, vars map[string]any) interactionsPage {
	c.t.Helper()
	var out struct {
		Node struct {
			Interactions struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage, HasPreviousPage bool
					StartCursor, EndCursor       *string
				}
				Edges []struct {
					Cursor string
					Node   struct {
						Typename       string `json:"__typename"`
						ID             gid.ID
						Text           string
						ProviderCallID string
					}
				}
			}
		}
	}
	vars["id"] = c.customer
	c.must(token, interactionsQuery, vars, &out)
	in := out.Node.Interactions
	var items []string
	for _, e := range in.Edges {
		switch e.Node.Typename {
		case "Message":
			items = append(items, "m:"+e.Node.Text)
		case "Call":
			items = append(items, "c:"+e.Node.ProviderCallID)
		default:
			c.t.Fatalf("an interaction of type %q", e.Node.Typename)
		}
	}
	p := interactionsPage{items: fmt.Sprint(items), total: in.TotalCount, next: in.PageInfo.HasNextPage, previous: in.PageInfo.HasPreviousPage}
	if in.PageInfo.StartCursor != nil {
		p.startCursor, p.endCursor = *in.PageInfo.StartCursor, *in.PageInfo.EndCursor
	}
	return p
}

// TestCustomerInteractions: a customer's messages and calls come as one
// list, newest first, paged forward and backward by cursors that hold
// across both kinds, each kind shown as its own rules say.
func TestCustomerInteractions(t *testing.T) {
	c := newCallEnv(t) // the customer wrote "Cho tôi hỏi" a second before T
	start := c.clock.Now()
	write := func(text string) {
		c.sendZalo(c.userEvent("user_send_text", c.zaloUser, map[string]any{"msg_id": c.msgID("zm"), "text": text}))
		c.process()
	}
	call := func(id string, init time.Time) {
		c.callEnded(zalofake.CallEnded{UserID: c.zaloUser, CallID: id, Init: init, Duration: 10 * time.Second, Talk: 5 * time.Second})
	}
	call("k1", start.Add(-5*time.Minute))
	c.clock.Advance(time.Minute)
	write("m2") // at T+59s
	call("k2", start.Add(30*time.Second))
	call("k3", start.Add(59*time.Second)) // the same instant as m2
	c.clock.Advance(time.Minute)
	write("m3")
	admin := c.tn.adminToken

	t.Run("NewestFirstAcrossKinds", func(t *testing.T) {
		p := c.interactions(admin, map[string]any{"first": 10})
		// At the same instant, the greater ID first: msg_ after cal_.
		if p.items != "[m:m3 m:m2 c:k3 c:k2 m:Cho tôi hỏi c:k1]" || p.total != 6 || p.next || p.previous {
			t.Fatalf("got %+v", p)
		}
	})
	t.Run("ForwardByCursor", func(t *testing.T) {
		var got []string
		vars := map[string]any{"first": 2}
		for i := 0; ; i++ {
			p := c.interactions(admin, vars)
			got = append(got, p.items)
			if p.previous != (i > 0) || p.total != 6 {
				t.Fatalf("page %d: %+v", i, p)
			}
			if !p.next {
				break
			}
			vars = map[string]any{"first": 2, "after": p.endCursor}
		}
		if fmt.Sprint(got) != "[[m:m3 m:m2] [c:k3 c:k2] [m:Cho tôi hỏi c:k1]]" {
			t.Fatalf("pages %v", got)
		}
	})
	t.Run("BackwardByCursor", func(t *testing.T) {
		p := c.interactions(admin, map[string]any{"last": 3})
		if p.items != "[c:k2 m:Cho tôi hỏi c:k1]" || !p.previous || p.next {
			t.Fatalf("last page %+v", p)
		}
		p = c.interactions(admin, map[string]any{"last": 3, "before": p.startCursor})
		if p.items != "[m:m3 m:m2 c:k3]" || p.previous || !p.next {
			t.Fatalf("page before it %+v", p)
		}
	})
	t.Run("CursorHoldsAsNewInteractionsArrive", func(t *testing.T) {
		first := c.interactions(admin, map[string]any{"first": 3})
		c.clock.Advance(time.Minute)
		write("m4")
		call("k4", c.clock.Now().Add(-30*time.Second))
		p := c.interactions(admin, map[string]any{"first": 3, "after": first.endCursor})
		if p.items != "[c:k2 m:Cho tôi hỏi c:k1]" || p.total != 8 {
			t.Fatalf("after the first page %+v", p)
		}
		if p := c.interactions(admin, map[string]any{"first": 2}); p.items != "[m:m4 c:k4]" {
			t.Fatalf("newest %+v", p)
		}
	})
	t.Run("TimelineUnchanged", func(t *testing.T) {
		var out struct {
			Node struct {
				Timeline struct {
					Edges []struct{ Node struct{ Text string } }
				}
			}
		}
		c.must(admin, `query($id: ID!) { node(id: $id) { ... on Customer { timeline(first: 10) { edges { node { text } } } } } }`,
			map[string]any{"id": c.customer}, &out)
		var texts []string
		for _, e := range out.Node.Timeline.Edges {
			texts = append(texts, e.Node.Text)
		}
		if strings.Join(texts, "|") != "m4|m3|m2|Cho tôi hỏi" {
			t.Fatalf("timeline %v", texts)
		}
	})
	t.Run("ErrNotACursor", func(t *testing.T) {
		r := c.gql(admin, interactionsQuery, map[string]any{"id": c.customer, "first": 2, "after": "bm90IGEgY3Vyc29y"})
		if r.code() != "BAD_USER_INPUT" {
			t.Fatalf("got %q %+v", r.code(), r.Errors)
		}
	})
	t.Run("EachKindItsOwnVisibility", func(t *testing.T) {
		agent := c.tn.agentToken
		// The OA is ONLY_ME, its admin's: the agent sees none of its
		// conversations, so neither their messages nor their calls.
		if p := c.interactions(agent, map[string]any{"first": 20}); p.items != "[]" || p.total != 0 {
			t.Fatalf("an agent sees %+v", p)
		}
		// An operator of the OA sees its calls, still not the messages.
		c.addOperator(admin, c.tn.agentID, "CUSTOMER_CARE").decode(t, nil)
		if p := c.interactions(agent, map[string]any{"first": 20}); p.items != "[c:k4 c:k3 c:k2 c:k1]" || p.total != 4 {
			t.Fatalf("an operator agent sees %+v", p)
		}
		c.must(admin, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`, map[string]any{"id": c.oa.ID}, nil)
		if p := c.interactions(agent, map[string]any{"first": 20}); p.items != "[m:m4 c:k4 m:m3 m:m2 c:k3 c:k2 m:Cho tôi hỏi c:k1]" || p.total != 8 {
			t.Fatalf("on a SHARED OA the agent sees %+v", p)
		}
	})
}

// TestInteractionsStatementCount: a page of interactions costs the same SQL
// statements whatever its size, with what its messages and calls link to.
func TestInteractionsStatementCount(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	e := newEnvOn(t, db)
	tn := e.newTenant("Interactions Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	sys := viewer.SystemContext(t.Context(), me.Me.Organization.ID)
	c := db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-interactions").SetName("OA").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys)
	cust := c.Customer.Create().SetName("Nguyễn Văn Nhiều").SaveX(sys)
	conv := c.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetStatus(conversation.StatusOPEN).SaveX(sys)
	base := time.Now().Add(-time.Hour)
	var msgs []*ent.MessageCreate
	var calls []*ent.CallCreate
	for i := range 40 {
		at := base.Add(time.Duration(i) * time.Minute)
		msgs = append(msgs, c.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).SetDirection(message.DirectionOUTBOUND).
			SetStatus(message.StatusSENT).SetSenderType(message.SenderTypeUSER).SetSenderUserID(gid.ID(tn.adminID)).
			SetText(fmt.Sprint("tin ", i)).SetCreatedAt(at))
		calls = append(calls, c.Call.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetOperatorID(gid.ID(tn.agentID)).
			SetDirection(entcall.DirectionOUTBOUND).SetStatus(entcall.StatusENDED).SetResult(entcall.ResultANSWERED).
			SetStartedAt(at.Add(30*time.Second)).SetDurationSeconds(i))
	}
	c.Message.CreateBulk(msgs...).ExecX(sys)
	c.Call.CreateBulk(calls...).ExecX(sys)

	query := `query($id: ID!, $n: Int) { node(id: $id) { ... on Customer { interactions(first: $n) { totalCount edges { node {
		... on Message { id text senderUser { id name } conversation { id status } }
		... on Call { id durationSeconds operator { id name } channel { id name } customer { id name } } } } } } } }`
	// The agent's first request reads their session, which later ones
	// find cached.
	e.must(tn.agentToken, `{ me { id } }`, nil, nil)
	counts := map[int]int{}
	for _, n := range []int{2, 10, 60} {
		var out struct {
			Node struct {
				Interactions struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							SenderUser   *struct{ Name string }
							Conversation *struct{ ID string }
							Operator     *struct{ Name string }
							Customer     *struct{ Name string }
						}
					}
				}
			}
		}
		counter.Reset()
		e.must(tn.agentToken, query, map[string]any{"id": cust.ID, "n": n}, &out)
		counts[n] = counter.Count()
		in := out.Node.Interactions
		if len(in.Edges) != n || in.TotalCount != 80 {
			t.Fatalf("page of %d: %d edges, total %d", n, len(in.Edges), in.TotalCount)
		}
		for i, edge := range in.Edges {
			if (edge.Node.SenderUser == nil || edge.Node.Conversation == nil) && (edge.Node.Operator == nil || edge.Node.Customer == nil) {
				t.Fatalf("edge %d of %d lacks its links: %+v", i, n, edge.Node)
			}
		}
	}
	t.Logf("statements per page: %v", counts)
	if counts[2] != counts[60] || counts[10] != counts[60] {
		t.Fatalf("statement count grows with page size: %v", counts)
	}
}
