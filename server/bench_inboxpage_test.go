package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
)

// BenchmarkInboxPageAllocs asks the harness's inbox page (bench/inbox.go:
// 50 conversations with customer, assignee, channel and, in the full page,
// the last message) as the OWNER through HTTP, one request per iteration,
// and reports allocations and bytes per request, the client's included.
// Under a loaded machine the time per request swings; the allocations do
// not, so they compare two commits' work per page:
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench InboxPageAllocs -benchtime 300x
func BenchmarkInboxPageAllocs(b *testing.B) {
	db := dbtest.Open(b)
	e := newEnvOn(b, db)
	tn := e.newTenant("Inbox Page Org")
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(tn.ownerToken, `{ me { organization { id } } }`, nil, &me)
	sys := viewer.SystemContext(context.Background(), me.Me.Organization.ID)
	c := db.Client
	ch := c.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-inbox-page").SetName("Inbox OA").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(tn.ownerID)).SetLastConnectedAt(time.Now()).SaveX(sys)
	base := time.Now().Add(-24 * time.Hour)
	assignees := []gid.ID{gid.ID(tn.agentID), gid.ID(tn.adminID), ""}
	for i := range 60 {
		cust := c.Customer.Create().SetName(fmt.Sprint("Khách hộp thư ", i)).SaveX(sys)
		cc := c.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(cust.ID).SetLastMessageAt(base.Add(time.Duration(i) * time.Minute))
		if a := assignees[i%3]; a != "" {
			cc.SetAssigneeID(a)
		}
		conv := cc.SaveX(sys)
		msgs := make([]*ent.MessageCreate, 3)
		for j := range msgs {
			msgs[j] = c.Message.Create().SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(message.DirectionINBOUND).SetText(fmt.Sprintf("tin %d của cuộc %d", j, i)).
				SetStatus(message.StatusRECEIVED).SetSenderType(message.SenderTypeCUSTOMER).
				SetCreatedAt(base.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Second))
		}
		c.Message.CreateBulk(msgs...).ExecX(sys)
	}
	if err := inbox.BackfillLastMessages(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	const page = `query Inbox { conversations(first: 50) { edges { node {
  id status unreadCount lastMessageAt
  customer { id name } assignee { id name } channel { id name }
  %s } } } }`
	for _, p := range []struct{ name, last string }{
		{"full", `lastMessage { id text direction createdAt }`},
		{"no-last-message", ""},
	} {
		query := fmt.Sprintf(page, p.last)
		var out struct {
			Conversations struct {
				Edges []struct{ Node struct{ ID gid.ID } }
			}
		}
		e.must(tn.ownerToken, query, nil, &out) // and the session is remembered
		if len(out.Conversations.Edges) != 50 {
			b.Fatalf("%s: %d conversations", p.name, len(out.Conversations.Edges))
		}
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := e.gql(tn.ownerToken, query, nil); len(r.Errors) > 0 {
					b.Fatalf("%+v", r.Errors)
				}
			}
		})
	}
}
