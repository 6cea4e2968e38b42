package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// activityRow is an Activity as activityLog returns it.
type activityRow struct {
	ID        string
	Action    string
	Actor     *struct{ ID string }
	APIKey    *struct{ ID string } `json:"apiKey"`
	Channel   *struct{ ID string }
	SubjectID *string `json:"subjectId"`
	Details   map[string]any
	CreatedAt time.Time
}

const activityQuery = `query($w: ActivityWhereInput, $first: Int, $after: Cursor) {
	activityLog(first: $first, after: $after, where: $w) {
		totalCount
		pageInfo { endCursor hasNextPage }
		edges { node { id action actor { id } apiKey { id } channel { id } subjectId details createdAt } }
	}
}`

// activityPage is one page of the log and its raw JSON.
type activityPage struct {
	rows      []activityRow
	total     int
	endCursor string
	raw       string
}

func (e *env) activityLog(token string, where map[string]any, first int, after string) *activityPage {
	e.t.Helper()
	vars := map[string]any{"first": first}
	if where != nil {
		vars["w"] = where
	}
	if after != "" {
		vars["after"] = after
	}
	r := e.gql(token, activityQuery, vars)
	var out struct {
		ActivityLog struct {
			TotalCount int
			PageInfo   struct{ EndCursor string }
			Edges      []struct{ Node activityRow }
		}
	}
	r.decode(e.t, &out)
	p := &activityPage{total: out.ActivityLog.TotalCount, endCursor: out.ActivityLog.PageInfo.EndCursor, raw: string(r.Data)}
	for _, ed := range out.ActivityLog.Edges {
		p.rows = append(p.rows, ed.Node)
	}
	return p
}

// wantActivity is the exact entry a change must leave.
type wantActivity struct {
	action, actor, apiKey, channel, subject string
	details                                 map[string]any
}

// jsonOf renders v as canonical JSON (encoding/json sorts map keys).
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}

func idOf(x *struct{ ID string }) string {
	if x == nil {
		return ""
	}
	return x.ID
}

// assertEntry compares an entry with what was wanted, field by field.
func assertEntry(t *testing.T, got activityRow, want wantActivity) {
	t.Helper()
	subject := ""
	if got.SubjectID != nil {
		subject = *got.SubjectID
	}
	if got.Action != want.action || idOf(got.Actor) != want.actor || idOf(got.APIKey) != want.apiKey ||
		idOf(got.Channel) != want.channel || subject != want.subject {
		t.Fatalf("entry %s actor=%q apiKey=%q channel=%q subject=%q, want %+v",
			got.Action, idOf(got.Actor), idOf(got.APIKey), idOf(got.Channel), subject, want)
	}
	if g, w := jsonOf(t, got.Details), jsonOf(t, want.details); g != w {
		t.Fatalf("%s details\n got %s\nwant %s", got.Action, g, w)
	}
}

// TestActivityLog walks through every configuration mutation and checks
// the one Activity each leaves, then the log's filters, order, pagination
// and access, that a failed mutation leaves nothing, and that no secret
// ever reaches the log.
func TestActivityLog(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Activity Org")
	var keys struct {
		APIKeys struct {
			Edges []struct{ Node struct{ ID, Name string } }
		} `json:"apiKeys"`
	}
	e.must(tn.ownerToken, `{ apiKeys(first: 10) { edges { node { id name } } } }`, nil, &keys)
	partnerKey := keys.APIKeys.Edges[0].Node.ID

	// Every secret the walk hands the server; none may reach the log.
	secrets := []string{
		"APP-SECRET-zalo-1", "ACCESS-TOKEN-zalo-1", "REFRESH-TOKEN-zalo-1", "WEBHOOK-SECRET-zalo-1",
		"ACCESS-TOKEN-zalo-2", "REFRESH-TOKEN-zalo-2", "WEBHOOK-SECRET-zalo-2",
		"PAGE-TOKEN-fb", "APP-SECRET-fb", "VERIFY-TOKEN-fb", "new password 1", "password ADMIN", "password AGENT", "correct horse",
	}
	count := e.activityLog(tn.ownerToken, nil, 1, "").total

	// step runs a mutation that must succeed and checks that it left
	// exactly one entry, the newest, equal to want(data).
	step := func(name, token, query string, vars map[string]any, want func(data json.RawMessage) wantActivity) {
		t.Helper()
		r := e.gql(token, query, vars)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", name, r.Errors)
		}
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		if p.total != count+1 {
			t.Fatalf("%s left %d entries, want 1", name, p.total-count)
		}
		count = p.total
		assertEntry(t, p.rows[0], want(r.Data))
	}
	field := func(data json.RawMessage, path ...string) string {
		var v any
		_ = json.Unmarshal(data, &v)
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		return v.(string)
	}
	change := func(from, to any) map[string]any { return map[string]any{"from": from, "to": to} }

	// Channels.
	connectZalo := `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`
	var zalo string
	step("connectZaloOA", tn.adminToken, connectZalo, map[string]any{"in": zaloInput("oa-activity")}, func(d json.RawMessage) wantActivity {
		zalo = field(d, "connectZaloOA", "id")
		return wantActivity{action: "CHANNEL_CONNECTED", actor: tn.adminID, channel: zalo, subject: zalo, details: map[string]any{
			"kind": "ZALO_OA", "externalId": "oa-activity", "name": "Shop Hoa Lan OA", "reconnected": false, "chatPermission": "ONLY_ME",
		}}
	})
	again := zaloInput("oa-activity")
	for k, v := range map[string]any{"name": "Shop Hoa Lan OA 2", "accessToken": "ACCESS-TOKEN-zalo-2", "refreshToken": "REFRESH-TOKEN-zalo-2", "webhookSecret": "WEBHOOK-SECRET-zalo-2"} {
		again[k] = v
	}
	r := e.gql(tn.ownerToken, connectZalo, map[string]any{"in": again})
	if len(r.Errors) > 0 {
		t.Fatalf("reconnect: %+v", r.Errors)
	}
	t.Run("Reconnect", func(t *testing.T) {
		p := e.activityLog(tn.ownerToken, nil, 1, "")
		count = p.total
		got := p.rows[0]
		changes, _ := got.Details["changes"].(map[string]any)
		var keys []string
		for k := range changes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// The new tokens are sealed and not fields of the change; that
		// the channel was connected again is what the entry says.
		if got.Action != "CHANNEL_CONNECTED" || idOf(got.Actor) != tn.ownerID || got.Details["reconnected"] != true ||
			got.Details["name"] != "Shop Hoa Lan OA 2" || strings.Join(keys, ",") != "lastConnectedAt,name" ||
			jsonOf(t, changes["name"]) != jsonOf(t, change("Shop Hoa Lan OA", "Shop Hoa Lan OA 2")) {
			t.Fatalf("reconnect entry %+v", got)
		}
	})
	step("setChannelChatPermission", tn.ownerToken, `mutation($id: ID!) { setChannelChatPermission(id: $id, permission: SHARED) { id } }`,
		map[string]any{"id": zalo}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "CHAT_PERMISSION_CHANGED", actor: tn.ownerID, channel: zalo, subject: zalo, details: map[string]any{
				"name": "Shop Hoa Lan OA 2", "changes": map[string]any{"chatPermission": change("ONLY_ME", "SHARED")},
			}}
		})
	var fb string
	step("connectFacebookPage", tn.ownerToken, `mutation($in: ConnectFacebookPageInput!) { connectFacebookPage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"pageId": "page-activity", "name": "Hoa Lan Page", "pageAccessToken": "PAGE-TOKEN-fb", "appSecret": "APP-SECRET-fb", "verifyToken": "VERIFY-TOKEN-fb"}},
		func(d json.RawMessage) wantActivity {
			fb = field(d, "connectFacebookPage", "id")
			return wantActivity{action: "CHANNEL_CONNECTED", actor: tn.ownerID, channel: fb, subject: fb, details: map[string]any{
				"kind": "FACEBOOK_PAGE", "externalId": "page-activity", "name": "Hoa Lan Page", "reconnected": false, "chatPermission": "ONLY_ME",
			}}
		})

	// Distribution.
	var rule string
	step("createRule", tn.ownerToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Rule A", "channelIds": []string{zalo}, "agentIds": []string{tn.agentID}, "method": "ROUND_ROBIN",
	}}, func(d json.RawMessage) wantActivity {
		rule = field(d, "createRule", "id")
		return wantActivity{action: "RULE_CREATED", actor: tn.ownerID, subject: rule, details: map[string]any{
			"name": "Rule A", "method": "ROUND_ROBIN", "offerTimeoutSeconds": 30, "oldConversations": "KEEP",
			"agentIds": []string{tn.agentID}, "channelIds": []string{zalo},
		}}
	})
	step("updateRule", tn.adminToken, `mutation($id: ID!, $in: UpdateRuleInput!) { updateRule(id: $id, input: $in) { id } }`, map[string]any{
		"id": rule, "in": map[string]any{"name": "Rule B", "agentIds": []string{tn.agentID, tn.adminID}},
	}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "RULE_UPDATED", actor: tn.adminID, subject: rule, details: map[string]any{
			"name": "Rule B", "changes": map[string]any{
				"name": change("Rule A", "Rule B"), "agentIds": change([]string{tn.agentID}, []string{tn.agentID, tn.adminID}),
			},
		}}
	})
	step("deleteRule", tn.ownerToken, `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": rule}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "RULE_DELETED", actor: tn.ownerID, subject: rule, details: map[string]any{
			"name": "Rule B", "method": "ROUND_ROBIN", "offerTimeoutSeconds": 30, "oldConversations": "KEEP",
			"agentIds": []string{tn.agentID, tn.adminID}, "channelIds": []string{zalo},
		}}
	})
	var dep string
	step("createDepartment", tn.ownerToken, `mutation($in: CreateDepartmentInput!) { createDepartment(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Sales", "agentIds": []string{tn.agentID}, "method": "SEQUENTIAL",
	}}, func(d json.RawMessage) wantActivity {
		dep = field(d, "createDepartment", "id")
		return wantActivity{action: "DEPARTMENT_CREATED", actor: tn.ownerID, subject: dep, details: map[string]any{
			"name": "Sales", "method": "SEQUENTIAL", "offerTimeoutSeconds": 30, "isDefault": false, "agentIds": []string{tn.agentID},
		}}
	})
	step("updateDepartment", tn.ownerToken, `mutation($id: ID!, $in: UpdateDepartmentInput!) { updateDepartment(id: $id, input: $in) { id } }`, map[string]any{
		"id": dep, "in": map[string]any{"agentIds": []string{tn.adminID}, "offerTimeoutSeconds": 60, "isDefault": true},
	}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "DEPARTMENT_UPDATED", actor: tn.ownerID, subject: dep, details: map[string]any{
			"name": "Sales", "changes": map[string]any{
				"agentIds": change([]string{tn.agentID}, []string{tn.adminID}), "offerTimeoutSeconds": change(30, 60), "isDefault": change(false, true),
			},
		}}
	})
	t.Run("DefaultMoves", func(t *testing.T) {
		// The department that loses the default role says so too.
		var out struct{ CreateDepartment struct{ ID string } }
		e.must(tn.ownerToken, `mutation($a: ID!) { createDepartment(input: {name: "Support", agentIds: [$a], method: BROADCAST, isDefault: true}) { id } }`,
			map[string]any{"a": tn.agentID}, &out)
		p := e.activityLog(tn.ownerToken, nil, 2, "")
		if p.total != count+2 {
			t.Fatalf("moving the default left %d entries, want 2", p.total-count)
		}
		count = p.total
		assertEntry(t, p.rows[1], wantActivity{action: "DEPARTMENT_UPDATED", actor: tn.ownerID, subject: dep, details: map[string]any{
			"name": "Sales", "changes": map[string]any{"isDefault": change(true, false)},
		}})
		assertEntry(t, p.rows[0], wantActivity{action: "DEPARTMENT_CREATED", actor: tn.ownerID, subject: out.CreateDepartment.ID, details: map[string]any{
			"name": "Support", "method": "BROADCAST", "offerTimeoutSeconds": 30, "isDefault": true, "agentIds": []string{tn.agentID},
		}})
	})
	step("deleteDepartment", tn.ownerToken, `mutation($id: ID!) { deleteDepartment(id: $id) }`, map[string]any{"id": dep}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "DEPARTMENT_DELETED", actor: tn.ownerID, subject: dep, details: map[string]any{
			"name": "Sales", "method": "SEQUENTIAL", "offerTimeoutSeconds": 60, "isDefault": false, "agentIds": []string{tn.adminID},
		}}
	})

	// Auto-messages.
	var auto string
	autoSummary := func(contents ...string) map[string]any {
		return map[string]any{
			"kind": "START", "title": "", "path": nil, "contents": contents, "delaySeconds": 0, "intervalSeconds": 0,
			"resendAsMessage": false, "enabled": true,
		}
	}
	step("createAutoMessage", tn.ownerToken, `mutation($c: ID!) { createAutoMessage(input: {channelId: $c, kind: START, contents: ["Xin chào"]}) { id } }`,
		map[string]any{"c": zalo}, func(d json.RawMessage) wantActivity {
			auto = field(d, "createAutoMessage", "id")
			return wantActivity{action: "AUTO_MESSAGE_CREATED", actor: tn.ownerID, channel: zalo, subject: auto, details: autoSummary("Xin chào")}
		})
	step("updateAutoMessage", tn.ownerToken, `mutation($id: ID!) { updateAutoMessage(id: $id, input: {contents: ["Chào bạn"]}) { id } }`,
		map[string]any{"id": auto}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "AUTO_MESSAGE_UPDATED", actor: tn.ownerID, channel: zalo, subject: auto, details: map[string]any{
				"kind": "START", "changes": map[string]any{"contents": change([]string{"Xin chào"}, []string{"Chào bạn"})},
			}}
		})
	step("deleteAutoMessage", tn.ownerToken, `mutation($id: ID!) { deleteAutoMessage(id: $id) }`, map[string]any{"id": auto}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "AUTO_MESSAGE_DELETED", actor: tn.ownerID, channel: zalo, subject: auto, details: autoSummary("Chào bạn")}
	})

	// Voice calls on the OA.
	step("updateCallSettings", tn.adminToken, `mutation($c: ID!, $in: CallSettingsInput!) { updateCallSettings(channelId: $c, input: $in) { enabled } }`,
		map[string]any{"c": zalo, "in": map[string]any{
			"enabled": true, "windows": []map[string]any{{"weekdays": []string{"MON", "TUE"}, "start": "08:00", "end": "12:00"}},
			"busyReply": "Các tư vấn viên đang bận.",
		}}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "CALL_SETTINGS_UPDATED", actor: tn.adminID, channel: zalo, subject: zalo, details: map[string]any{
				"name": "Shop Hoa Lan OA 2", "changes": map[string]any{
					"enabled":   change(false, true),
					"windows":   change([]string{}, []map[string]any{{"weekdays": []string{"MON", "TUE"}, "start": "08:00", "end": "12:00"}}),
					"busyReply": change("", "Các tư vấn viên đang bận."),
				},
			}}
		})
	var op string
	step("addCallOperator", tn.ownerToken, `mutation($c: ID!, $u: ID!) { addCallOperator(input: {channelId: $c, userId: $u, role: CUSTOMER_CARE}) { id } }`,
		map[string]any{"c": zalo, "u": tn.agentID}, func(d json.RawMessage) wantActivity {
			op = field(d, "addCallOperator", "id")
			return wantActivity{action: "CALL_OPERATOR_ADDED", actor: tn.ownerID, channel: zalo, subject: op, details: map[string]any{
				"userId": tn.agentID, "userName": "User AGENT", "role": "CUSTOMER_CARE",
			}}
		})
	step("removeCallOperator", tn.adminToken, `mutation($id: ID!) { removeCallOperator(id: $id) }`, map[string]any{"id": op}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "CALL_OPERATOR_REMOVED", actor: tn.adminID, channel: zalo, subject: op, details: map[string]any{
			"userId": tn.agentID, "userName": "User AGENT", "role": "CUSTOMER_CARE",
		}}
	})

	// API keys: the key itself never, its prefix to tell it apart.
	var newKey, newKeyID, newKeyPrefix string
	step("createApiKey", tn.ownerToken, `mutation { createApiKey(input: {name: "CRM sync", scopes: [READ]}) { key apiKey { id prefix } } }`, nil,
		func(d json.RawMessage) wantActivity {
			newKey, newKeyID, newKeyPrefix = field(d, "createApiKey", "key"), field(d, "createApiKey", "apiKey", "id"), field(d, "createApiKey", "apiKey", "prefix")
			secrets = append(secrets, newKey)
			return wantActivity{action: "API_KEY_CREATED", actor: tn.ownerID, subject: newKeyID, details: map[string]any{
				"name": "CRM sync", "prefix": newKeyPrefix, "scopes": []string{"READ"},
			}}
		})
	revoke := `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`
	step("revokeApiKey", tn.adminToken, revoke, map[string]any{"id": newKeyID}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "API_KEY_REVOKED", actor: tn.adminID, subject: newKeyID, details: map[string]any{
			"name": "CRM sync", "prefix": newKeyPrefix, "scopes": []string{"READ"},
		}}
	})
	e.must(tn.ownerToken, revoke, map[string]any{"id": newKeyID}, nil)
	if n := e.activityLog(tn.ownerToken, nil, 1, "").total; n != count {
		t.Fatalf("revoking a revoked key left %d entries", n-count)
	}

	// Users.
	var staff string
	step("createUser", tn.ownerToken, `mutation { createUser(input: {name: "Lan", email: "lan@activity.vn", password: "first password", role: AGENT}) { id } }`, nil,
		func(d json.RawMessage) wantActivity {
			staff = field(d, "createUser", "id")
			return wantActivity{action: "USER_CREATED", actor: tn.ownerID, subject: staff, details: map[string]any{
				"name": "Lan", "email": "lan@activity.vn", "role": "AGENT",
			}}
		})
	secrets = append(secrets, "first password")
	step("updateUser", tn.adminToken, `mutation($id: ID!) { updateUser(id: $id, input: {role: ADMIN, password: "new password 1"}) { id } }`,
		map[string]any{"id": staff}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "USER_UPDATED", actor: tn.adminID, subject: staff, details: map[string]any{
				"name": "Lan", "changes": map[string]any{"role": change("AGENT", "ADMIN")}, "alsoChanged": []string{"password"},
			}}
		})
	step("deactivateUser", tn.ownerToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": staff}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "USER_DEACTIVATED", actor: tn.ownerID, subject: staff, details: map[string]any{
			"name": "Lan", "email": "lan@activity.vn", "role": "ADMIN",
		}}
	})

	// Message templates and custom fields.
	var tpl string
	step("createMessageTemplate", tn.ownerToken, `mutation { createMessageTemplate(input: {name: "Chào", content: "Xin chào anh/chị"}) { id } }`, nil,
		func(d json.RawMessage) wantActivity {
			tpl = field(d, "createMessageTemplate", "id")
			return wantActivity{action: "MESSAGE_TEMPLATE_CREATED", actor: tn.ownerID, subject: tpl, details: map[string]any{"name": "Chào", "content": "Xin chào anh/chị"}}
		})
	step("updateMessageTemplate", tn.ownerToken, `mutation($id: ID!) { updateMessageTemplate(id: $id, input: {content: "Dạ em chào anh/chị"}) { id } }`,
		map[string]any{"id": tpl}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "MESSAGE_TEMPLATE_UPDATED", actor: tn.ownerID, subject: tpl, details: map[string]any{
				"name": "Chào", "changes": map[string]any{"content": change("Xin chào anh/chị", "Dạ em chào anh/chị")},
			}}
		})
	step("deleteMessageTemplates", tn.ownerToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`, map[string]any{"ids": []string{tpl}},
		func(json.RawMessage) wantActivity {
			return wantActivity{action: "MESSAGE_TEMPLATE_DELETED", actor: tn.ownerID, subject: tpl, details: map[string]any{"name": "Chào", "content": "Dạ em chào anh/chị"}}
		})
	var cf string
	step("createCustomField", tn.ownerToken, `mutation { createCustomField(input: {key: "cmnd", label: "CMND", type: TEXT}) { id } }`, nil,
		func(d json.RawMessage) wantActivity {
			cf = field(d, "createCustomField", "id")
			return wantActivity{action: "CUSTOM_FIELD_CREATED", actor: tn.ownerID, subject: cf, details: map[string]any{
				"fieldKey": "cmnd", "label": "CMND", "type": "TEXT", "options": nil,
			}}
		})
	step("updateCustomField", tn.ownerToken, `mutation($id: ID!) { updateCustomField(id: $id, input: {label: "Số CCCD"}) { id } }`,
		map[string]any{"id": cf}, func(json.RawMessage) wantActivity {
			return wantActivity{action: "CUSTOM_FIELD_UPDATED", actor: tn.ownerID, subject: cf, details: map[string]any{
				"fieldKey": "cmnd", "label": "Số CCCD", "changes": map[string]any{"label": change("CMND", "Số CCCD")},
			}}
		})
	step("deleteCustomField", tn.ownerToken, `mutation($id: ID!) { deleteCustomField(id: $id) }`, map[string]any{"id": cf}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "CUSTOM_FIELD_DELETED", actor: tn.ownerID, subject: cf, details: map[string]any{
			"fieldKey": "cmnd", "label": "Số CCCD", "type": "TEXT", "options": nil,
		}}
	})

	// Tags, by an API key: the key is the actor.
	var tag string
	step("createTag", tn.apiKey, `mutation { createTag(input: {name: "vip", color: "red"}) { id } }`, nil, func(d json.RawMessage) wantActivity {
		tag = field(d, "createTag", "id")
		return wantActivity{action: "TAG_CREATED", apiKey: partnerKey, subject: tag, details: map[string]any{"name": "vip", "color": "red"}}
	})
	step("updateTag", tn.apiKey, `mutation($id: ID!) { updateTag(id: $id, input: {name: "VIP"}) { id } }`, map[string]any{"id": tag}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "TAG_UPDATED", apiKey: partnerKey, subject: tag, details: map[string]any{
			"name": "VIP", "changes": map[string]any{"name": change("vip", "VIP")},
		}}
	})
	step("deleteTag", tn.apiKey, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "TAG_DELETED", apiKey: partnerKey, subject: tag, details: map[string]any{"name": "VIP", "color": "red"}}
	})

	step("disconnectChannel", tn.ownerToken, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": fb}, func(json.RawMessage) wantActivity {
		return wantActivity{action: "CHANNEL_DISCONNECTED", actor: tn.ownerID, channel: fb, subject: fb, details: map[string]any{
			"kind": "FACEBOOK_PAGE", "name": "Hoa Lan Page", "changes": map[string]any{
				"status": change("CONNECTED", "DISCONNECTED"), "statusReason": change("", "disconnected by a user"),
			},
		}}
	})

	full := e.activityLog(tn.ownerToken, nil, 100, "")
	if len(full.rows) != full.total {
		t.Fatalf("the log has %d entries and a page of 100 shows %d", full.total, len(full.rows))
	}

	t.Run("NoSecrets", func(t *testing.T) {
		for _, s := range secrets {
			if strings.Contains(full.raw, s) {
				t.Errorf("the log holds the secret %q", s)
			}
		}
		for _, k := range []string{`"accessToken"`, `"refreshToken"`, `"appSecret"`, `"webhookSecret"`, `"verifyToken"`, `"password":`, `"key":`, `"keyHash"`} {
			if strings.Contains(full.raw, k) {
				t.Errorf("the log has a %s field", k)
			}
		}
	})

	t.Run("NewestFirst", func(t *testing.T) {
		for i := 1; i < len(full.rows); i++ {
			if full.rows[i].CreatedAt.After(full.rows[i-1].CreatedAt) {
				t.Fatalf("entry %d (%s) is newer than entry %d", i, full.rows[i].Action, i-1)
			}
		}
		if full.rows[0].Action != "CHANNEL_DISCONNECTED" {
			t.Fatalf("newest entry is %s", full.rows[0].Action)
		}
		// Paging walks the same order.
		var walked []string
		after := ""
		for {
			p := e.activityLog(tn.ownerToken, nil, 4, after)
			for _, r := range p.rows {
				walked = append(walked, r.ID)
			}
			if len(p.rows) < 4 {
				break
			}
			after = p.endCursor
		}
		if jsonOf(t, walked) != jsonOf(t, ids(full.rows)) {
			t.Fatalf("pages walked %v, want %v", walked, ids(full.rows))
		}
	})

	t.Run("Filters", func(t *testing.T) {
		from, to := full.rows[len(full.rows)-6].CreatedAt, full.rows[3].CreatedAt
		for _, tc := range []struct {
			name  string
			where map[string]any
			keep  func(activityRow) bool
			least int
		}{
			{"Channel", map[string]any{"channelID": zalo}, func(r activityRow) bool { return idOf(r.Channel) == zalo }, 6},
			{"Action", map[string]any{"action": "RULE_UPDATED"}, func(r activityRow) bool { return r.Action == "RULE_UPDATED" }, 1},
			{"Actions", map[string]any{"actionIn": []string{"TAG_CREATED", "TAG_DELETED"}}, func(r activityRow) bool {
				return r.Action == "TAG_CREATED" || r.Action == "TAG_DELETED"
			}, 2},
			{"Actor", map[string]any{"actorID": tn.adminID}, func(r activityRow) bool { return idOf(r.Actor) == tn.adminID }, 4},
			{"APIKey", map[string]any{"apiKeyID": partnerKey}, func(r activityRow) bool { return idOf(r.APIKey) == partnerKey }, 3},
			{"TimeRange", map[string]any{"createdAtGTE": from, "createdAtLT": to}, func(r activityRow) bool {
				return !r.CreatedAt.Before(from) && r.CreatedAt.Before(to)
			}, 4},
			{"ChannelAndAction", map[string]any{"channelID": zalo, "action": "CHANNEL_CONNECTED"}, func(r activityRow) bool {
				return idOf(r.Channel) == zalo && r.Action == "CHANNEL_CONNECTED"
			}, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var want []activityRow
				for _, r := range full.rows {
					if tc.keep(r) {
						want = append(want, r)
					}
				}
				if len(want) < tc.least {
					t.Fatalf("the walk left %d matching entries, want at least %d", len(want), tc.least)
				}
				got := e.activityLog(tn.ownerToken, tc.where, 100, "")
				if jsonOf(t, ids(got.rows)) != jsonOf(t, ids(want)) || got.total != len(want) {
					t.Fatalf("got %d %v, want %v", got.total, actions(got.rows), actions(want))
				}
			})
		}
	})

	t.Run("AdminsOnly", func(t *testing.T) {
		if got := e.activityLog(tn.adminToken, nil, 1, ""); got.total != full.total {
			t.Fatalf("an ADMIN sees %d entries, want %d", got.total, full.total)
		}
		for name, token := range map[string]string{"AGENT": tn.agentToken, "APIKey": tn.apiKey} {
			if r := e.gql(token, activityQuery, map[string]any{"first": 10}); r.code() != "FORBIDDEN" {
				t.Errorf("%s: got %q %s", name, r.code(), r.Data)
			}
		}
	})

	t.Run("FailedMutationLeavesNothing", func(t *testing.T) {
		var tpl struct{ CreateMessageTemplate struct{ ID string } }
		e.must(tn.ownerToken, `mutation { createMessageTemplate(input: {name: "Kept", content: "x"}) { id } }`, nil, &tpl)
		before := e.activityLog(tn.ownerToken, nil, 1, "").total
		for _, tc := range []struct {
			name, token, query string
			vars               map[string]any
			code               string
		}{
			// Deleting and recording come before the missing ID is
			// noticed: both roll back.
			{"DeleteTemplatesOneMissing", tn.ownerToken, `mutation($ids: [ID!]!) { deleteMessageTemplates(ids: $ids) }`,
				map[string]any{"ids": []string{tpl.CreateMessageTemplate.ID, "tpl_01JD3Q2V5Z8N4M7K1P6R9T0W2X"}}, "NOT_FOUND"},
			{"RuleOverTakenChannel", tn.ownerToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
				"name": "Rule D", "channelIds": []string{zalo}, "agentIds": []string{tn.agentID}, "method": "SELF_CLAIM",
			}}, ""},
			{"RuleOverTakenChannelAgain", tn.ownerToken, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": map[string]any{
				"name": "Rule E", "channelIds": []string{zalo}, "agentIds": []string{tn.agentID}, "method": "SELF_CLAIM",
			}}, "CONFLICT"},
			{"EmailTaken", tn.ownerToken, `mutation($id: ID!) { updateUser(id: $id, input: {name: "Renamed", email: "lan@activity.vn"}) { id } }`,
				map[string]any{"id": tn.agentID}, "CONFLICT"},
			{"AgentConfigures", tn.agentToken, `mutation { createDepartment(input: {name: "x", agentIds: [], method: BROADCAST}) { id } }`, nil, "FORBIDDEN"},
			{"BadInput", tn.ownerToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"oaId": "oa-2", "name": "x", "appId": "a", "accessToken": "", "refreshToken": "r",
					"accessTokenExpiresAt": time.Now().Add(time.Hour).Format(time.RFC3339), "webhookSecret": "w"}}, "BAD_USER_INPUT"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.gql(tc.token, tc.query, tc.vars)
				if r.code() != tc.code {
					t.Fatalf("got %q %+v", r.code(), r.Errors)
				}
				if tc.code == "" {
					before++ // the first rule over the channel: a real change
				}
				if n := e.activityLog(tn.ownerToken, nil, 1, "").total; n != before {
					t.Fatalf("the failed mutation left %d entries", n-before)
				}
			})
		}
		var tpls struct{ MessageTemplates struct{ TotalCount int } }
		e.must(tn.ownerToken, `{ messageTemplates { totalCount } }`, nil, &tpls)
		if tpls.MessageTemplates.TotalCount != 1 {
			t.Fatalf("the failed delete removed templates: %d left", tpls.MessageTemplates.TotalCount)
		}
	})

	t.Run("OtherOrganization", func(t *testing.T) {
		other := e.newTenant("Other Activity Org")
		mine := e.activityLog(other.ownerToken, nil, 100, "")
		for _, r := range mine.rows {
			if slices.Contains(ids(full.rows), r.ID) {
				t.Fatalf("another organization sees entry %s", r.Action)
			}
		}
		for name, where := range map[string]map[string]any{
			"Channel": {"channelID": zalo}, "Actor": {"actorID": tn.adminID}, "APIKey": {"apiKeyID": partnerKey},
			"ChannelIn": {"channelIDIn": []string{zalo}}, "NestedActor": {"or": []map[string]any{{"actorID": tn.ownerID}}},
		} {
			if r := e.gql(other.ownerToken, activityQuery, map[string]any{"first": 1, "w": where}); r.code() != "NOT_FOUND" {
				t.Errorf("%s: got %q %s", name, r.code(), r.Data)
			}
		}
	})
}

func ids(rows []activityRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func actions(rows []activityRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Action
	}
	return out
}
