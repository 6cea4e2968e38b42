package main

import (
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/gid"
)

// TestConversationReportOverGraphQL: the report's rows name their agent
// and channel, and a conversation resolved through the API counts as
// resolved, with its resolution time.
func TestConversationReportOverGraphQL(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Report Org")
	org := orgOf(t, e, tn)
	conv := seedConversation(t, e, org, gid.ID(tn.ownerID), channel.ChatPermissionSHARED, "Shop Hoa Lan OA")
	e.must(tn.ownerToken, `mutation($id: ID!, $u: ID) { assignConversation(id: $id, userId: $u) { id } }`, map[string]any{"id": conv, "u": tn.agentID}, nil)
	e.must(tn.ownerToken, `mutation($id: ID!) { setConversationStatus(id: $id, status: RESOLVED) { id } }`, map[string]any{"id": conv}, nil)
	vars := map[string]any{"from": time.Now().Add(-time.Hour).Format(time.RFC3339), "to": time.Now().Add(time.Hour).Format(time.RFC3339)}
	var out struct {
		ByChannel, ByAgent []struct {
			Key                     string
			Channel                 *struct{ Name string }
			Agent                   *struct{ ID string }
			Opened, Resolved        int
			MessagesIn, MessagesOut int
			ResolutionMedianSeconds *float64
		}
	}
	e.must(tn.apiKey, `query($from: Time!, $to: Time!) {
		byChannel: conversationReport(from: $from, to: $to, groupBy: CHANNEL) { key channel { name } agent { id } opened resolved messagesIn messagesOut resolutionMedianSeconds }
		byAgent: conversationReport(from: $from, to: $to, groupBy: AGENT) { key channel { name } agent { id } opened resolved messagesIn messagesOut resolutionMedianSeconds }
	}`, vars, &out)
	if len(out.ByChannel) != 1 || out.ByChannel[0].Channel == nil || out.ByChannel[0].Channel.Name != "Shop Hoa Lan OA" || out.ByChannel[0].Agent != nil ||
		out.ByChannel[0].Opened != 1 || out.ByChannel[0].Resolved != 1 || out.ByChannel[0].MessagesIn != 1 || out.ByChannel[0].ResolutionMedianSeconds == nil {
		t.Fatalf("by channel %+v", out.ByChannel)
	}
	if len(out.ByAgent) != 1 || out.ByAgent[0].Agent == nil || out.ByAgent[0].Agent.ID != tn.agentID || out.ByAgent[0].Key != tn.agentID {
		t.Fatalf("by agent %+v", out.ByAgent)
	}
	if r := e.gql(tn.agentToken, `query($from: Time!, $to: Time!) { conversationReport(from: $from, to: $to, groupBy: DAY) { key } }`, vars); r.code() != "FORBIDDEN" {
		t.Fatalf("an agent ran the report: %q", r.code())
	}
}
