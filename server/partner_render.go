package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The selections partner webhooks render each subject with: the fields of
// the subscriptions' payloads, with the objects they refer to by ID.
const (
	webhookMessage = `id createdAt direction kind text attachments { type url name size latitude longitude }
		status failureReason senderType sentAt deliveredAt seenAt conversation { id } senderUser { id name }`
	webhookConversation = `id createdAt updatedAt status resolvedAt unreadCount lastMessageAt distributionState
		channel { id kind name } customer { id name phone } assignee { id name }`
	webhookCall = `id direction kind status result startedAt answeredAt endedAt durationSeconds
		channel { id } customer { id name phone } operator { id name }`
	webhookPermission = `id status reason callType requestedAt answeredAt grantedAt expiresAt channel { id } customer { id name phone }`
	webhookZns        = `id createdAt updatedAt trackingId phone params status failureReason development cost
		providerMessageId sentAt deliveredAt channel { id } template { id templateId name } customer { id name phone }`
	webhookChannel = `id kind externalId name status statusReason chatPermission lastConnectedAt`
	webhookUser    = `id name role presence active`
)

// webhookRenderer renders events' subjects for partner webhooks through
// the GraphQL schema itself, so a delivery's subject has exactly the shape
// a subscription shows, and what an API key may not see (a conversation of
// an ONLY_ME channel) is not rendered.
type webhookRenderer struct{ exec *executor.Executor }

// render returns the subject fields of ev (see partner.Renderer).
func (r webhookRenderer) render(ctx context.Context, ev *ent.Event) (map[string]json.RawMessage, bool, error) {
	type part struct {
		name, fragment string
		id             gid.ID
	}
	var parts []part
	switch ev.Topic {
	case event.TopicMessage:
		parts = []part{{"message", "Message { " + webhookMessage + " }", ev.MessageID}}
	case event.TopicConversation:
		parts = []part{{"conversation", "Conversation { " + webhookConversation + " }", ev.ConversationID}}
	case event.TopicCall:
		if ev.CallID != "" {
			parts = append(parts, part{"call", "Call { " + webhookCall + " }", ev.CallID})
		}
		if ev.CallPermissionID != "" {
			parts = append(parts, part{"permission", "CallPermission { " + webhookPermission + " }", ev.CallPermissionID})
		}
	case event.TopicZNS:
		parts = []part{{"message", "ZnsMessage { " + webhookZns + " }", ev.ZnsMessageID}}
	case event.TopicChannel:
		parts = []part{{"channel", "Channel { " + webhookChannel + " }", ev.ChannelID}}
	case event.TopicUser:
		parts = []part{{"user", "User { " + webhookUser + " }", ev.UserID}}
	}
	if len(parts) == 0 {
		return nil, false, nil
	}
	query, vars := "query(", map[string]any{}
	for i, p := range parts {
		if i > 0 {
			query += ", "
		}
		query += fmt.Sprintf("$id%d: ID!", i)
		vars[fmt.Sprintf("id%d", i)] = p.id
	}
	query += ") {"
	for i, p := range parts {
		query += fmt.Sprintf(" %s: node(id: $id%d) { ... on %s }", p.name, i, p.fragment)
	}
	query += " }"
	// Deliveries see what an API key holding READ and EVENTS sees.
	ctx = viewer.NewContext(ctx, &viewer.Viewer{
		OrgID: ev.OrganizationID, APIKeyID: "webhooks",
		Scopes: []viewer.Scope{viewer.ScopeRead, viewer.ScopeEvents},
	})
	ctx = graphql.StartOperationTrace(ctx)
	rc, errs := r.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars})
	if errs != nil {
		return nil, false, fmt.Errorf("rendering %s %s: %w", ev.Topic, ev.Type, errs)
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	handle, ctx := r.exec.DispatchOperation(ctx, rc)
	resp := handle(ctx)
	var data map[string]json.RawMessage
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		return nil, false, fmt.Errorf("rendering %s %s: %w", ev.Topic, ev.Type, err)
	}
	for _, e := range resp.Errors {
		if code, _ := e.Extensions["code"].(string); code != "NOT_FOUND" && code != "FORBIDDEN" {
			return nil, false, fmt.Errorf("rendering %s %s: %w", ev.Topic, ev.Type, errors.New(e.Message))
		}
	}
	for _, p := range parts {
		if v, ok := data[p.name]; !ok || string(v) == "null" {
			return nil, false, nil // gone, or not for API keys' eyes
		}
	}
	return data, true, nil
}
