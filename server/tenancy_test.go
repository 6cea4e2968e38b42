package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/livetalksettings"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// TestCrossTenantMatrix calls every query and mutation that takes an ID with
// another organization's IDs, as that organization's OWNER, AGENT and API
// key: each must answer NOT_FOUND (node: null) and change nothing.
func TestCrossTenantMatrix(t *testing.T) {
	e := newEnv(t)
	victim := e.newTenant("Victim Org")
	intruder := e.newTenant("Intruder Org")

	var tag struct{ CreateTag struct{ ID string } }
	e.must(victim.ownerToken, `mutation { createTag(input: {name: "vip"}) { id } }`, nil, &tag)
	var field struct{ CreateCustomField struct{ ID string } }
	e.must(victim.ownerToken, `mutation { createCustomField(input: {key: "zalo_name", label: "Zalo", type: TEXT}) { id } }`, nil, &field)
	custA := e.createCustomer(victim.ownerToken, map[string]any{"name": "Nguyễn Văn A", "phone": "0912345678", "tagIDs": []string{tag.CreateTag.ID}})
	custB := e.createCustomer(victim.ownerToken, map[string]any{"name": "Trần Thị B"})
	mine := e.createCustomer(intruder.ownerToken, map[string]any{"name": "Intruder's own"})
	var keys struct {
		APIKeys struct {
			Edges []struct{ Node struct{ ID string } }
		} `json:"apiKeys"`
	}
	e.must(victim.ownerToken, `{ apiKeys(first: 1) { edges { node { id } } } }`, nil, &keys)
	keyID := keys.APIKeys.Edges[0].Node.ID
	var me struct {
		Me struct{ Organization struct{ ID string } }
	}
	e.must(victim.ownerToken, `{ me { organization { id } } }`, nil, &me)
	orgID := me.Me.Organization.ID
	victimChannel := e.db.Client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID("oa-victim").SetName("Victim OA").
		SetConnectedByID(gid.ID(victim.ownerID)).SetLastConnectedAt(time.Now()).
		SaveX(viewer.SystemContext(context.Background(), gid.ID(orgID))).ID
	var auto struct{ CreateAutoMessage struct{ ID string } }
	e.must(victim.ownerToken, `mutation($c: ID!) { createAutoMessage(input: {channelId: $c, kind: START, contents: ["Xin chào"]}) { id } }`,
		map[string]any{"c": victimChannel}, &auto)

	// Distribution: the victim's rule over its OA, a department, and a
	// conversation; the intruder's own OA.
	var ownOA struct{ ConnectZaloOA struct{ ID string } }
	e.must(intruder.ownerToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput("oa-intruder")}, &ownOA)
	var rule struct{ CreateRule struct{ ID string } }
	e.must(victim.ownerToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Victim rule", "channelIds": []gid.ID{victimChannel}, "agentIds": []string{victim.agentID}, "method": "SELF_CLAIM",
	}}, &rule)
	ruleID := rule.CreateRule.ID
	var dep struct{ CreateDepartment struct{ ID string } }
	e.must(victim.ownerToken, `mutation($in: CreateDepartmentInput!) { createDepartment(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Victim department", "agentIds": []string{victim.agentID}, "method": "SEQUENTIAL",
	}}, &dep)
	depID := dep.CreateDepartment.ID
	conv := string(seedConversation(t, e, gid.ID(orgID), gid.ID(victim.ownerID), channel.ChatPermissionSHARED, "victim"))
	entry := e.activityLog(victim.ownerToken, nil, 1, "").rows[0].ID
	sys := viewer.SystemContext(context.Background(), gid.ID(orgID))
	convRow := e.db.Client.Conversation.GetX(sys, gid.ID(conv))
	failedReply := string(e.db.Client.Message.Create().SetConversationID(convRow.ID).SetChannelID(convRow.ChannelID).
		SetDirection(message.DirectionOUTBOUND).SetText("x").SetStatus(message.StatusFAILED).
		SetSenderType(message.SenderTypeSYSTEM).SaveX(sys).ID)
	queuedReply := string(e.db.Client.Message.Create().SetConversationID(convRow.ID).SetChannelID(convRow.ChannelID).
		SetDirection(message.DirectionOUTBOUND).SetText("y").SetStatus(message.StatusQUEUED).
		SetSenderType(message.SenderTypeSYSTEM).SaveX(sys).ID)

	deadEvent := string(e.db.Client.WebhookEvent.Create().SetProvider(webhookevent.ProviderZALO).
		SetDedupeKey("oa-victim:dead").SetEventName("user_send_text").SetOrganizationID(gid.ID(orgID)).
		SetChannelID(victimChannel).SetPayload([]byte(`{}`)).SetAttempts(10).SetDeadAt(time.Now()).
		SaveX(viewer.SystemContext(context.Background(), "")).ID)

	// Voice calls: the victim's operator on its OA, a granted permission
	// of its customer and a call.
	var op struct{ AddCallOperator struct{ ID string } }
	e.must(victim.ownerToken, `mutation($c: ID!, $u: ID!) { addCallOperator(input: {channelId: $c, userId: $u, role: CUSTOMER_CARE}) { id } }`,
		map[string]any{"c": victimChannel, "u": victim.agentID}, &op)
	opID := op.AddCallOperator.ID
	victimSys := sys
	perm := e.db.Client.CallPermission.Create().SetChannelID(victimChannel).SetCustomerID(gid.ID(custA)).SetPhone("84912345678").
		SetReason("CONSULTATION").SetCallType("AUDIO").SetRequestedAt(time.Now()).SetStatus("GRANTED").
		SetGrantedAt(time.Now()).SetExpiresAt(time.Now().Add(time.Hour)).SaveX(victimSys)
	victimCall := e.db.Client.Call.Create().SetChannelID(victimChannel).SetCustomerID(gid.ID(custA)).SetDirection("INBOUND").
		SetStartedAt(time.Now()).SaveX(victimSys)
	// LiveTalk: a call ringing the victim's agent from a visitor's
	// conversation.
	liveChannel := e.db.Client.Channel.Create().SetKind(channel.KindLIVETALK).SetExternalID("lt-victim").SetName("Victim site").
		SetChatPermission(channel.ChatPermissionSHARED).SetConnectedByID(gid.ID(victim.ownerID)).SetLastConnectedAt(time.Now()).SaveX(victimSys)
	liveConv := e.db.Client.Conversation.Create().SetChannelID(liveChannel.ID).SetCustomerID(gid.ID(custB)).SaveX(victimSys)
	e.db.Client.User.UpdateOneID(gid.ID(victim.agentID)).SetPresence("ONLINE").ExecX(victimSys)
	if _, err := e.app.minutes.Grant(victimSys, gid.ID(orgID), 60, "matrix"); err != nil {
		t.Fatal(err)
	}
	e.must(victim.adminToken, updateLiveTalkMutation, map[string]any{"c": liveChannel.ID, "in": map[string]any{"functions": []string{"VIDEO"}}}, nil)
	liveCall, err := e.app.liveCalls.Start(victimSys, liveConv.ID, "VIDEO")
	if err != nil || len(liveCall.RingingUserIds) == 0 {
		t.Fatalf("victim's LiveTalk call: %+v %v", liveCall, err)
	}
	vc, own := string(victimChannel), ownOA.ConnectZaloOA.ID
	var hook struct {
		CreateWebhookEndpoint struct{ Endpoint struct{ ID string } }
	}
	e.must(victim.ownerToken, `mutation { createWebhookEndpoint(input: {url: "https://partner.example.vn/hook", events: ["*"]}) { endpoint { id } } }`, nil, &hook)
	hookID := hook.CreateWebhookEndpoint.Endpoint.ID
	// ZNS: a template of the victim's OA.
	victimTemplate := e.db.Client.ZnsTemplate.Create().SetChannelID(victimChannel).SetTemplateID("231456").SetName("Victim template").
		SetStatus("ENABLE").SetParams(nil).SetSyncedAt(time.Now()).SetRemainingQuota(100).SaveX(victimSys)
	victimZns := e.db.Client.ZnsMessage.Create().SetChannelID(victimChannel).SetTemplateID(victimTemplate.ID).SetPhone("+84912345678").
		SetParams(map[string]string{}).SetTrackingID("victim-1").SetCustomerID(gid.ID(custA)).SaveX(victimSys)
	victimCampaign := e.db.Client.ZnsCampaign.Create().SetName("Victim campaign").SetChannelID(victimChannel).
		SetTemplateID(victimTemplate.ID).SetParams(map[string]any{}).SetStatus("PAUSED").SaveX(victimSys)
	// The intruder's own OA has the same template, so only the customer is foreign.
	ownOARow := e.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), gid.ID(ownOA.ConnectZaloOA.ID))
	e.db.Client.ZnsTemplate.Create().SetChannelID(ownOARow.ID).SetTemplateID("231456").SetName("Own template").
		SetStatus("ENABLE").SetParams(nil).SetSyncedAt(time.Now()).SetRemainingQuota(100).
		SaveX(viewer.SystemContext(context.Background(), ownOARow.OrganizationID))

	victimLiveTalk := e.createLiveTalk(victim.adminToken, "Victim website", "https://victim.example.vn")
	// LiveTalk: the victim's widget channel and an uploaded image and
	// sound; the intruder's own widget channel.
	victimLT := victimLiveTalk.ID
	ownLT := e.createLiveTalk(intruder.adminToken, "Intruder widget", "https://intruder.example.vn").ID
	victimImage := e.upload(victim.ownerToken, pngBytes(t, 7), "", false).ID
	victimSound := e.upload(victim.ownerToken, oggBytes, "", false).ID
	const updateLT = `mutation($c: ID!, $in: LiveTalkSettingsInput!) { updateLiveTalkSettings(channelId: $c, input: $in) { title } }`

	cases := []struct {
		name, query string
		vars        map[string]any
	}{
		{"updateUser", `mutation($id: ID!) { updateUser(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": victim.agentID}},
		{"deactivateUser", `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": victim.agentID}},
		{"revokeApiKey", `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": keyID}},
		{"updateCustomer", `mutation($id: ID!) { updateCustomer(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": custA}},
		{"updateCustomerTags", `mutation($id: ID!, $t: ID!) { updateCustomer(id: $id, input: {addTagIDs: [$t]}) { id } }`, map[string]any{"id": mine, "t": tag.CreateTag.ID}},
		{"deleteCustomer", `mutation($id: ID!) { deleteCustomer(id: $id) }`, map[string]any{"id": custA}},
		{"mergeCustomersBothForeign", `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { id } }`, map[string]any{"s": custB, "t": custA}},
		{"mergeCustomersIntoOwn", `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { id } }`, map[string]any{"s": custA, "t": mine}},
		{"updateTag", `mutation($id: ID!) { updateTag(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": tag.CreateTag.ID}},
		{"deleteTag", `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag.CreateTag.ID}},
		{"updateCustomField", `mutation($id: ID!) { updateCustomField(id: $id, input: {label: "pwned"}) { id } }`, map[string]any{"id": field.CreateCustomField.ID}},
		{"deleteCustomField", `mutation($id: ID!) { deleteCustomField(id: $id) }`, map[string]any{"id": field.CreateCustomField.ID}},
		{"createAutoMessageOnForeignChannel", `mutation($c: ID!) { createAutoMessage(input: {channelId: $c, kind: OFFLINE, delaySeconds: 60, contents: ["x"]}) { id } }`, map[string]any{"c": victimChannel}},
		{"updateAutoMessage", `mutation($id: ID!) { updateAutoMessage(id: $id, input: {contents: ["pwned"]}) { id } }`, map[string]any{"id": auto.CreateAutoMessage.ID}},
		{"deleteAutoMessage", `mutation($id: ID!) { deleteAutoMessage(id: $id) }`, map[string]any{"id": auto.CreateAutoMessage.ID}},
		{"createCustomerWithForeignOwner", `mutation($o: ID!) { createCustomer(input: {name: "x", ownerID: $o}) { id } }`, map[string]any{"o": victim.agentID}},
		{"updateRule", `mutation($id: ID!) { updateRule(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": ruleID}},
		{"deleteRule", `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": ruleID}},
		{"createRuleWithForeignChannel", `mutation($c: ID!, $a: ID!) { createRule(input: {name: "x", channelIds: [$c], agentIds: [$a], method: ROUND_ROBIN}) { id } }`,
			map[string]any{"c": victimChannel, "a": intruder.agentID}},
		{"createRuleWithForeignAgent", `mutation($c: ID!, $a: ID!) { createRule(input: {name: "x", channelIds: [$c], agentIds: [$a], method: ROUND_ROBIN}) { id } }`,
			map[string]any{"c": ownOA.ConnectZaloOA.ID, "a": victim.agentID}},
		{"updateDepartment", `mutation($id: ID!) { updateDepartment(id: $id, input: {name: "pwned"}) { id } }`, map[string]any{"id": depID}},
		{"deleteDepartment", `mutation($id: ID!) { deleteDepartment(id: $id) }`, map[string]any{"id": depID}},
		{"createDepartmentWithForeignAgent", `mutation($a: ID!) { createDepartment(input: {name: "x", agentIds: [$a], method: BROADCAST}) { id } }`,
			map[string]any{"a": victim.agentID}},
		{"claimConversation", `mutation($id: ID!) { claimConversation(id: $id) { id } }`, map[string]any{"id": conv}},
		{"acceptConversationOffer", `mutation($id: ID!) { acceptConversationOffer(id: $id) { id } }`, map[string]any{"id": conv}},
		{"declineConversationOffer", `mutation($id: ID!) { declineConversationOffer(id: $id) { id } }`, map[string]any{"id": conv}},
		{"activityLogByChannel", `query($c: ID!) { activityLog(where: {channelID: $c}) { totalCount } }`, map[string]any{"c": victimChannel}},
		{"activityLogByActor", `query($a: ID!) { activityLog(where: {actorID: $a}) { totalCount } }`, map[string]any{"a": victim.ownerID}},
		{"activityLogByAPIKey", `query($k: ID!) { activityLog(where: {apiKeyIDIn: [$k]}) { totalCount } }`, map[string]any{"k": keyID}},
		{"assignConversation", `mutation($id: ID!) { assignConversation(id: $id, userId: null) { id } }`, map[string]any{"id": conv}},
		{"replayWebhookEvent", `mutation($id: ID!) { replayWebhookEvent(id: $id) { id } }`, map[string]any{"id": deadEvent}},
		{"retryMessage", `mutation($id: ID!) { retryMessage(id: $id) { id } }`, map[string]any{"id": failedReply}},
		{"cancelMessage", `mutation($id: ID!) { cancelMessage(id: $id) { id } }`, map[string]any{"id": queuedReply}},
		{"callSettings", `query($c: ID!) { callSettings(channelId: $c) { enabled } }`, map[string]any{"c": vc}},
		{"updateCallSettings", `mutation($c: ID!) { updateCallSettings(channelId: $c, input: {enabled: true}) { enabled } }`, map[string]any{"c": vc}},
		{"callOperators", `query($c: ID!) { callOperators(channelId: $c) { id } }`, map[string]any{"c": vc}},
		{"addCallOperatorOnForeignChannel", `mutation($c: ID!, $u: ID!) { addCallOperator(input: {channelId: $c, userId: $u, role: ADMIN}) { id } }`,
			map[string]any{"c": vc, "u": intruder.agentID}},
		{"addCallOperatorForeignUser", `mutation($c: ID!, $u: ID!) { addCallOperator(input: {channelId: $c, userId: $u, role: ADMIN}) { id } }`,
			map[string]any{"c": own, "u": victim.ownerID}},
		{"removeCallOperator", `mutation($id: ID!) { removeCallOperator(id: $id) }`, map[string]any{"id": opID}},
		{"requestCallPermissionOnForeignChannel", `mutation($c: ID!, $u: ID!) { requestCallPermission(input: {channelId: $c, customerId: $u, reason: DELIVERY, callType: AUDIO}) { id } }`,
			map[string]any{"c": vc, "u": mine}},
		{"requestCallPermissionForeignCustomer", `mutation($c: ID!, $u: ID!) { requestCallPermission(input: {channelId: $c, customerId: $u, reason: DELIVERY, callType: AUDIO}) { id } }`,
			map[string]any{"c": own, "u": custA}},
		{"callPermission", `query($c: ID!, $u: ID!) { callPermission(channelId: $c, customerId: $u) { id } }`, map[string]any{"c": vc, "u": custA}},
		{"callPermissionForeignCustomer", `query($c: ID!, $u: ID!) { callPermission(channelId: $c, customerId: $u) { id } }`, map[string]any{"c": own, "u": custA}},
		{"callReport", `query($c: ID!) { callReport(from: "2026-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z", channelId: $c, groupBy: DAY) { key } }`,
			map[string]any{"c": vc}},
		{"updateWebhookEndpoint", `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "https://intruder.example.vn/"}) { id } }`, map[string]any{"id": hookID}},
		{"disableWebhookEndpoint", `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: false}) { id } }`, map[string]any{"id": hookID}},
		{"deleteWebhookEndpoint", `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, map[string]any{"id": hookID}},
		{"rotateWebhookSecret", `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": hookID}},
		{"conversationReportOnForeignChannel", `query($c: ID!) { conversationReport(from: "2026-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z", channelId: $c, groupBy: DAY) { key } }`,
			map[string]any{"c": vc}},
		{"answerLiveTalkCall", `mutation($id: ID!) { answerLiveTalkCall(id: $id) { id } }`, map[string]any{"id": liveCall.ID}},
		{"rejectLiveTalkCall", `mutation($id: ID!) { rejectLiveTalkCall(id: $id) { id } }`, map[string]any{"id": liveCall.ID}},
		{"hangUpLiveTalkCall", `mutation($id: ID!) { hangUpLiveTalkCall(id: $id) { id } }`, map[string]any{"id": liveCall.ID}},
		{"sendCallSignal", `mutation($id: ID!) { sendCallSignal(input: {callId: $id, kind: OFFER, data: "v=0"}) { kind } }`, map[string]any{"id": liveCall.ID}},
		{"startCallOnForeignChannel", `mutation($c: ID!, $u: ID!) { startCall(input: {channelId: $c, customerId: $u, kind: AUDIO}) { link } }`,
			map[string]any{"c": vc, "u": mine}},
		{"syncZnsTemplates", `mutation($c: ID!) { syncZnsTemplates(channelId: $c) { id } }`, map[string]any{"c": vc}},
		{"sendZnsOnForeignChannel", `mutation($c: ID!) { sendZns(input: {channelId: $c, templateId: "231456", phone: "0912345678", params: {}, trackingId: "victim-1"}) { id } }`,
			map[string]any{"c": vc}},
		{"createZnsCampaignOnForeignChannel", `mutation($c: ID!) { createZnsCampaign(input: {name: "x", channelId: $c, templateId: "231456", params: {}}) { id } }`,
			map[string]any{"c": vc}},
		{"pauseZnsCampaign", `mutation($k: ID!) { pauseZnsCampaign(id: $k) { id } }`, map[string]any{"k": victimCampaign.ID}},
		{"resumeZnsCampaign", `mutation($k: ID!) { resumeZnsCampaign(id: $k) { id } }`, map[string]any{"k": victimCampaign.ID}},
		{"cancelZnsCampaign", `mutation($k: ID!) { cancelZnsCampaign(id: $k) { id } }`, map[string]any{"k": victimCampaign.ID}},
		{"sendZnsForeignCustomer", `mutation($c: ID!, $u: ID!) { sendZns(input: {channelId: $c, templateId: "231456", customerId: $u, params: {}, trackingId: "x"}) { id } }`,
			map[string]any{"c": own, "u": custA}},
		{"znsReportOnForeignChannel", `query($c: ID!) { znsReport(from: "2026-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z", channelId: $c, groupBy: TEMPLATE) { key } }`,
			map[string]any{"c": vc}},
		{"sendOAMessageOnForeignChannel", `mutation($c: ID!, $u: ID!) { sendOAMessage(input: {channelId: $c, customerId: $u, kind: TEXT, text: "x"}) { id } }`,
			map[string]any{"c": vc, "u": mine}},
		{"sendOAMessageForeignCustomer", `mutation($c: ID!, $u: ID!) { sendOAMessage(input: {channelId: $c, customerId: $u, kind: TRANSACTION, templateId: "231456", templateData: {}}) { id } }`,
			map[string]any{"c": ownOA.ConnectZaloOA.ID, "u": custA}},
		{"updateLiveTalkSettings", updateLT, map[string]any{"c": victimLT, "in": map[string]any{"title": "pwned"}}},
		{"liveTalkSettingsOfForeignChannel", `query($c: ID!) { node(id: $c) { ... on Channel { liveTalkSettings { title } } } }`, map[string]any{"c": victimLT}},
		{"updateLiveTalkSettingsForeignDepartment", updateLT, map[string]any{"c": ownLT, "in": map[string]any{"departmentIds": []string{depID}}}},
		{"updateLiveTalkSettingsForeignAgent", updateLT, map[string]any{"c": ownLT, "in": map[string]any{"agentIds": []string{victim.agentID}}}},
		{"updateLiveTalkSettingsForeignImage", updateLT, map[string]any{"c": ownLT, "in": map[string]any{"popup": map[string]any{"avatarId": victimImage}}}},
		{"updateLiveTalkSettingsForeignButtonImage", updateLT, map[string]any{"c": ownLT, "in": map[string]any{"buttonStyle": map[string]any{"kind": "IMAGE", "imageId": victimImage}}}},
		{"updateLiveTalkSettingsForeignSound", updateLT, map[string]any{"c": ownLT, "in": map[string]any{"sounds": map[string]any{"holdMusic": map[string]any{"mediaId": victimSound}}}}},
		{"startCallForeignCustomer", `mutation($c: ID!, $u: ID!) { startCall(input: {channelId: $c, customerId: $u, kind: AUDIO}) { link } }`,
			map[string]any{"c": own, "u": custA}},
		{"sendTypingIndicator", `mutation($c: ID!) { sendTypingIndicator(conversationId: $c) }`, map[string]any{"c": conv}},
		{"rotateLiveTalkWidgetKey", `mutation($c: ID!) { rotateLiveTalkWidgetKey(channelId: $c) { widgetKey } }`, map[string]any{"c": victimLiveTalk.ID}},
		{"updateLiveTalkAllowedOrigins", `mutation($c: ID!) { updateLiveTalkAllowedOrigins(channelId: $c, allowedOrigins: ["https://intruder.example.vn"]) { id } }`,
			map[string]any{"c": victimLiveTalk.ID}},
	}
	callers := map[string]string{"OWNER": intruder.ownerToken, "AGENT": intruder.agentToken, "APIKey": intruder.apiKey}

	for callerName, token := range callers {
		for _, id := range []string{custA, victim.agentID, keyID, tag.CreateTag.ID, field.CreateCustomField.ID, orgID, auto.CreateAutoMessage.ID, ruleID, depID, conv,
			opID, string(perm.ID), string(victimCall.ID), string(liveCall.ID), entry, hookID, string(victimTemplate.ID), string(victimZns.ID)} {
			t.Run(callerName+"/node/"+id[:3], func(t *testing.T) {
				r := e.gql(token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
				var out struct{ Node *struct{ ID string } }
				_ = json.Unmarshal(r.Data, &out)
				if out.Node != nil || r.code() != "NOT_FOUND" && !(r.code() == "FORBIDDEN" && sameAsMissing(e, token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})) {
					t.Fatalf("node(%s) = %s %+v", id, r.Data, r.Errors)
				}
			})
		}
		t.Run(callerName+"/nodes", func(t *testing.T) {
			r := e.gql(token, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{custA, custB}})
			var out struct{ Nodes []*struct{ ID string } }
			_ = json.Unmarshal(r.Data, &out)
			for _, n := range out.Nodes {
				if n != nil {
					t.Fatalf("nodes leaked %s", r.Data)
				}
			}
		})
		for _, tc := range cases {
			t.Run(callerName+"/"+tc.name, func(t *testing.T) {
				r := e.gql(token, tc.query, tc.vars)
				// AGENTs lack the role for some operations; a role check
				// may never reveal existence, so it must also say
				// NOT_FOUND or FORBIDDEN exactly as for a missing ID.
				if r.code() != "NOT_FOUND" && !(r.code() == "FORBIDDEN" && sameAsMissing(e, token, tc.query, tc.vars)) {
					t.Fatalf("got %q %+v", r.code(), r.Errors)
				}
			})
		}
		t.Run(callerName+"/channelsConnectedByMe", func(t *testing.T) {
			// "My pages" and "shared with me" hold no other organization's
			// channel, and mine is never true of one.
			if callerName == "APIKey" {
				return // the filter needs a user
			}
			for _, m := range []bool{true, false} {
				var out struct {
					Channels struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
				e.must(token, `query($m: Boolean!) { channels(where: {connectedByMe: $m}) { edges { node { id } } } }`, map[string]any{"m": m}, &out)
				for _, edge := range out.Channels.Edges {
					if edge.Node.ID == string(victimChannel) {
						t.Fatalf("connectedByMe %v lists the victim's channel", m)
					}
				}
			}
		})
		t.Run(callerName+"/callsFilteredByForeignIDs", func(t *testing.T) {
			// The history's filters take IDs inside where-inputs: another
			// organization's channel, customer, operator or call matches
			// nothing, and the history shows none of its calls.
			var out struct {
				All, Filtered struct{ TotalCount int }
			}
			e.must(token, `query($c: ID!, $u: ID!, $o: ID!, $k: ID!) {
				all: calls { totalCount }
				filtered: calls(where: {or: [{hasChannelWith: [{id: $c}]}, {hasCustomerWith: [{id: $u}]},
					{hasOperatorWith: [{id: $o}]}, {id: $k}]}) { totalCount } }`,
				map[string]any{"c": vc, "u": custA, "o": victim.ownerID, "k": victimCall.ID}, &out)
			if out.All.TotalCount != 0 || out.Filtered.TotalCount != 0 {
				t.Fatalf("the intruder's history shows %+v", out)
			}
		})
		t.Run(callerName+"/znsTemplatesFilteredByForeignIDs", func(t *testing.T) {
			var out struct {
				All, Filtered struct{ TotalCount int }
			}
			e.must(token, `query($c: ID!, $k: ID!) {
				all: znsTemplates { totalCount }
				filtered: znsTemplates(where: {or: [{hasChannelWith: [{id: $c}]}, {id: $k}]}) { totalCount } }`,
				map[string]any{"c": vc, "k": victimTemplate.ID}, &out)
			if out.All.TotalCount != 1 || out.Filtered.TotalCount != 0 { // its own template only
				t.Fatalf("the intruder sees ZNS templates %+v", out)
			}
			e.must(token, `query($c: ID!, $k: ID!, $u: ID!) {
				all: znsMessages { totalCount }
				filtered: znsMessages(where: {or: [{hasChannelWith: [{id: $c}]}, {id: $k}, {hasCustomerWith: [{id: $u}]}]}) { totalCount } }`,
				map[string]any{"c": vc, "k": victimZns.ID, "u": custA}, &out)
			if out.All.TotalCount != 0 || out.Filtered.TotalCount != 0 {
				t.Fatalf("the intruder sees ZNS messages %+v", out)
			}
			e.must(token, `query($c: ID!, $k: ID!) {
				all: znsCampaigns { totalCount }
				filtered: znsCampaigns(where: {or: [{hasChannelWith: [{id: $c}]}, {id: $k}]}) { totalCount } }`,
				map[string]any{"c": vc, "k": victimCampaign.ID}, &out)
			if out.All.TotalCount != 0 || out.Filtered.TotalCount != 0 {
				t.Fatalf("the intruder sees ZNS campaigns %+v", out)
			}
		})
		t.Run(callerName+"/listsAreIsolated", func(t *testing.T) {
			var out struct {
				Customers    struct{ TotalCount int }
				Tags         struct{ TotalCount int }
				AutoMessages struct{ TotalCount int }
			}
			e.must(token, `{ customers { totalCount } tags { totalCount } autoMessages { totalCount } }`, nil, &out)
			if out.Customers.TotalCount != 1 || out.Tags.TotalCount != 0 || out.AutoMessages.TotalCount != 0 {
				t.Fatalf("intruder sees %+v", out)
			}
		})
		t.Run(callerName+"/webhookEndpointsAreIsolated", func(t *testing.T) {
			r := e.gql(token, `{ webhookEndpoints { id } }`, nil)
			if callerName == "AGENT" {
				if r.code() != "FORBIDDEN" {
					t.Fatalf("an agent listed endpoints: %s %+v", r.Data, r.Errors)
				}
				return
			}
			var out struct{ WebhookEndpoints []struct{ ID string } }
			r.decode(t, &out)
			if len(out.WebhookEndpoints) != 0 {
				t.Fatalf("intruder sees endpoints %+v", out)
			}
		})
	}

	// Nothing of the victim changed.
	var after struct {
		Customers struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name string
					Tags []struct{ Name string }
				}
			}
		}
		Users struct {
			Edges []struct {
				Node struct {
					Name   string
					Active bool
				}
			}
		}
		Tags struct {
			Edges []struct{ Node struct{ Name string } }
		}
		APIKeys struct {
			Edges []struct{ Node struct{ RevokedAt *string } }
		} `json:"apiKeys"`
		Rules struct {
			Edges []struct{ Node struct{ Name string } }
		}
		Departments struct {
			Edges []struct{ Node struct{ Name string } }
		}
		AutoMessages struct {
			Edges []struct{ Node struct{ Contents []string } }
		}
	}
	e.must(victim.ownerToken, `{
		customers(orderBy: [{field: NAME}]) { totalCount edges { node { name tags { name } } } }
		users { edges { node { name active } } }
		tags { edges { node { name } } }
		apiKeys { edges { node { revokedAt } } }
		rules { edges { node { name } } }
		departments { edges { node { name } } }
		autoMessages { edges { node { contents } } }
	}`, nil, &after)
	// The seeded conversation's customer ("Khách victim") sorts first.
	if after.Customers.TotalCount != 3 || after.Customers.Edges[1].Node.Name != "Nguyễn Văn A" || len(after.Customers.Edges[1].Node.Tags) != 1 {
		t.Fatalf("victim's customers changed: %+v", after.Customers)
	}
	for _, u := range after.Users.Edges {
		if u.Node.Name == "pwned" || !u.Node.Active {
			t.Fatalf("victim's users changed: %+v", after.Users)
		}
	}
	if after.Tags.Edges[0].Node.Name != "vip" || after.APIKeys.Edges[0].Node.RevokedAt != nil {
		t.Fatalf("victim's tags or keys changed: %+v %+v", after.Tags, after.APIKeys)
	}
	if len(after.Rules.Edges) != 1 || after.Rules.Edges[0].Node.Name != "Victim rule" ||
		len(after.Departments.Edges) != 1 || after.Departments.Edges[0].Node.Name != "Victim department" {
		t.Fatalf("victim's distribution changed: %+v %+v", after.Rules, after.Departments)
	}
	if len(after.AutoMessages.Edges) != 1 || after.AutoMessages.Edges[0].Node.Contents[0] != "Xin chào" {
		t.Fatalf("victim's auto-messages changed: %+v", after.AutoMessages)
	}
	var hooks struct {
		WebhookEndpoints []struct {
			URL     string
			Enabled bool
		}
	}
	e.must(victim.ownerToken, `{ webhookEndpoints { url enabled } }`, nil, &hooks)
	if len(hooks.WebhookEndpoints) != 1 || hooks.WebhookEndpoints[0].URL != "https://partner.example.vn/hook" || !hooks.WebhookEndpoints[0].Enabled {
		t.Fatalf("victim's webhook endpoints changed: %+v", hooks)
	}
	var calls struct {
		CallSettings  struct{ Enabled bool }
		CallOperators []struct{ ID string }
	}
	e.must(victim.ownerToken, `query($c: ID!) { callSettings(channelId: $c) { enabled } callOperators(channelId: $c) { id } }`,
		map[string]any{"c": vc}, &calls)
	if calls.CallSettings.Enabled || len(calls.CallOperators) != 1 || calls.CallOperators[0].ID != opID {
		t.Fatalf("victim's calls changed: %+v", calls)
	}
	var lt struct {
		Node struct{ LiveTalkSettings struct{ Title string } }
	}
	e.must(victim.ownerToken, `query($c: ID!) { node(id: $c) { ... on Channel { liveTalkSettings { title } } } }`, map[string]any{"c": victimLT}, &lt)
	if lt.Node.LiveTalkSettings.Title != "Victim website" {
		t.Fatalf("victim's LiveTalk settings changed: %+v", lt)
	}
	// The only settings are the victim's own, of the channel that calls.
	if n := e.db.Client.LiveTalkSettings.Query().Where(livetalksettings.ChannelIDNEQ(liveChannel.ID)).CountX(viewer.SystemContext(context.Background(), "")); n != 0 {
		t.Fatalf("%d LiveTalk settings saved by the intruder", n)
	}
	if n := e.db.Client.CallPermission.Query().CountX(victimSys); n != 1 {
		t.Fatalf("victim has %d call permissions", n)
	}
	ltc := e.db.Client.Channel.GetX(victimSys, gid.ID(victimLiveTalk.ID))
	if *ltc.WidgetKey != *victimLiveTalk.WidgetKey || len(ltc.AllowedOrigins) != 1 || ltc.AllowedOrigins[0] != "https://victim.example.vn" {
		t.Fatalf("victim's LiveTalk channel changed: %v %v", *ltc.WidgetKey, ltc.AllowedOrigins)
	}
	// The visitor API: a visitor of the intruder's widget reaches nothing
	// of the victim's call (checked unchanged below).
	intruderWidget := e.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), gid.ID(ownLT))
	iv := e.startChat("https://intruder.example.vn", *intruderWidget.WidgetKey, map[string]any{"name": "Kẻ lạ"})
	for name, q := range map[string]string{
		"visitor/sendCallSignal": `mutation($c: ID!) { sendCallSignal(callId: $c, kind: OFFER, data: "v=0") { kind } }`,
		"visitor/sendCallHangUp": `mutation($c: ID!) { sendCallSignal(callId: $c, kind: HANGUP) { kind } }`,
		"visitor/hangUpCall":     `mutation($c: ID!) { hangUpCall(callId: $c) { id } }`,
		"visitor/call":           `query($c: ID!) { call(id: $c) { id } }`,
	} {
		if r := e.visitorGQL("https://intruder.example.vn", iv.Token, q, map[string]any{"c": liveCall.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("%s: %s %+v", name, r.Data, r.Errors)
		}
	}
	if lc := e.db.Client.Call.GetX(victimSys, liveCall.ID); lc.Status != "RINGING" || lc.OperatorID != nil ||
		len(lc.RingingUserIds) != len(liveCall.RingingUserIds) {
		t.Fatalf("victim's LiveTalk call changed: %+v", lc)
	}
}

// sameAsMissing reports whether the caller gets the same answer for an ID
// that does not exist: then a FORBIDDEN reveals nothing about the real one.
func sameAsMissing(e *env, token, query string, vars map[string]any) bool {
	missing := map[string]any{}
	for k, v := range vars {
		if s, ok := v.(string); ok && len(s) > 4 {
			v = s[:4] + "01JD3Q2V5Z8N4M7K1P6R9T0W2X"
		}
		missing[k] = v
	}
	return e.gql(token, query, missing).code() == "FORBIDDEN"
}
