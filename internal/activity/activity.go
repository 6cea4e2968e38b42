// Package activity is the activity log: one Activity row for every
// configuration change (a channel connected, a rule updated, an API key
// revoked...), written in the transaction of the change so that the log
// holds exactly the changes that committed, and read by OWNERs and ADMINs
// through the activityLog query (README.md, "Activity log").
//
// A change records its entry with Record, inside its own transaction:
//
//	tx, err := client.Tx(ctx)
//	...
//	r, err := tx.Rule.UpdateOneID(id).SetName(name).Save(ctx)
//	...
//	err = activity.Record(ctx, tx, activity.Entry{
//		Action:    activity.RuleUpdated,
//		SubjectID: r.ID,
//		Details:   map[string]any{"changes": activity.Changes(before, r)},
//	})
//	...
//	return tx.Commit()
//
// Details say what changed and never hold a secret: Record refuses a key
// that looks like one, and Changes leaves sealed and secret-looking fields
// out.
package activity

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Action names a kind of configuration change. It is stored as a string,
// so a new capability adds its own without a migration.
type Action string

// The actions of the activity log.
const (
	// CallOperatorAdded and CallOperatorRemoved: a user became, or stopped
	// being, a call operator of a Zalo OA.
	CallOperatorAdded   Action = "CALL_OPERATOR_ADDED"
	CallOperatorRemoved Action = "CALL_OPERATOR_REMOVED"
	// CallSettingsUpdated: a Zalo OA's call settings changed.
	CallSettingsUpdated Action = "CALL_SETTINGS_UPDATED"
	// LiveTalkSettingsUpdated: a LIVETALK channel's widget settings
	// changed.
	LiveTalkSettingsUpdated Action = "LIVETALK_SETTINGS_UPDATED"
	// CallMinutesPlanChanged: the organization's monthly LiveTalk call
	// minutes changed (details.quotaMinutes, null for the server's
	// default). CallBonusMinutesGranted: bonus call minutes were added
	// (details.minutes, details.note, details.balance). Both are the
	// server operator's, so they have no actor.
	CallMinutesPlanChanged  Action = "CALL_MINUTES_PLAN_CHANGED"
	CallBonusMinutesGranted Action = "CALL_BONUS_MINUTES_GRANTED"

	// ChannelConnected: a channel was connected, or reconnected with new
	// credentials (details.reconnected is then true).
	ChannelConnected Action = "CHANNEL_CONNECTED"
	// ChannelDisconnected: a channel was disconnected and its tokens erased.
	ChannelDisconnected Action = "CHANNEL_DISCONNECTED"
	// ChannelConnectionLost: the provider refused a channel's token, or a
	// page stopped sending the app its webhooks; an admin must reconnect
	// it. It has no actor.
	ChannelConnectionLost Action = "CHANNEL_CONNECTION_LOST"
	// ChatPermissionChanged: a channel's chat permission (ONLY_ME or
	// SHARED) changed.
	ChatPermissionChanged Action = "CHAT_PERMISSION_CHANGED"

	// RuleCreated, RuleUpdated and RuleDeleted: distribution rules, their
	// channels and agents.
	RuleCreated Action = "RULE_CREATED"
	RuleUpdated Action = "RULE_UPDATED"
	RuleDeleted Action = "RULE_DELETED"

	// DepartmentCreated, DepartmentUpdated and DepartmentDeleted: receiving
	// departments; a change of members is a DepartmentUpdated whose changes
	// name agentIds.
	DepartmentCreated Action = "DEPARTMENT_CREATED"
	DepartmentUpdated Action = "DEPARTMENT_UPDATED"
	DepartmentDeleted Action = "DEPARTMENT_DELETED"

	// AutoMessageCreated, AutoMessageUpdated and AutoMessageDeleted:
	// auto-messages of a channel.
	AutoMessageCreated Action = "AUTO_MESSAGE_CREATED"
	AutoMessageUpdated Action = "AUTO_MESSAGE_UPDATED"
	AutoMessageDeleted Action = "AUTO_MESSAGE_DELETED"

	// APIKeyCreated and APIKeyRevoked: API keys (their names, prefixes and
	// scopes; never the key).
	APIKeyCreated Action = "API_KEY_CREATED"
	APIKeyRevoked Action = "API_KEY_REVOKED"

	// UserCreated, UserUpdated and UserDeactivated: the organization's
	// staff, their roles and their access.
	UserCreated     Action = "USER_CREATED"
	UserUpdated     Action = "USER_UPDATED"
	UserDeactivated Action = "USER_DEACTIVATED"

	// MessageTemplateCreated, MessageTemplateUpdated and
	// MessageTemplateDeleted: the canned replies agents pick from.
	MessageTemplateCreated Action = "MESSAGE_TEMPLATE_CREATED"
	MessageTemplateUpdated Action = "MESSAGE_TEMPLATE_UPDATED"
	MessageTemplateDeleted Action = "MESSAGE_TEMPLATE_DELETED"

	// CustomFieldCreated, CustomFieldUpdated and CustomFieldDeleted: the
	// customer fields the organization defines.
	CustomFieldCreated Action = "CUSTOM_FIELD_CREATED"
	CustomFieldUpdated Action = "CUSTOM_FIELD_UPDATED"
	CustomFieldDeleted Action = "CUSTOM_FIELD_DELETED"

	// TagCreated, TagUpdated and TagDeleted: the organization's customer
	// tags.
	TagCreated Action = "TAG_CREATED"
	TagUpdated Action = "TAG_UPDATED"
	TagDeleted Action = "TAG_DELETED"
)

// Entry is one change to record. Action is required; the rest is optional.
type Entry struct {
	Action Action
	// ChannelID is the channel the change concerns.
	ChannelID gid.ID
	// SubjectID is the changed record.
	SubjectID gid.ID
	// Details say what changed, as JSON: field names and values, never a
	// secret (see Record).
	Details map[string]any
}

// Record writes e to the activity log in tx, the transaction of the change
// it describes, so the entry commits or rolls back with it. The actor is
// ctx's viewer: its user, or its API key (system work records no actor).
//
// Record refuses details with a key that looks like a secret (see
// SecretKey), at any depth, or that are not JSON, and writes nothing then;
// the caller's transaction should fail with it, since a change whose entry
// cannot be recorded must not happen.
func Record(ctx context.Context, tx *ent.Tx, e Entry) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return fmt.Errorf("activity: recording %s needs a viewer with an organization", e.Action)
	}
	if e.Action == "" {
		return fmt.Errorf("activity: an entry needs an action")
	}
	details, err := normalize(e.Details)
	if err != nil {
		return fmt.Errorf("activity: %s: %w", e.Action, err)
	}
	create := tx.Activity.Create().SetAction(string(e.Action)).SetDetails(details)
	if e.ChannelID != "" {
		create.SetChannelID(e.ChannelID)
	}
	if e.SubjectID != "" {
		create.SetSubjectID(e.SubjectID)
	}
	switch {
	case v.IsUser():
		create.SetActorID(v.UserID)
	case v.IsAPIKey():
		create.SetAPIKeyID(v.APIKeyID)
	}
	// Nobody may write the log through the API: the entry is written as
	// the system of the viewer's organization.
	if err := create.Exec(viewer.SystemContext(ctx, v.OrgID)); err != nil {
		return fmt.Errorf("activity: recording %s: %w", e.Action, err)
	}
	return nil
}

// normalize returns details as the JSON object they are stored as, after
// checking every key in it.
func normalize(details map[string]any) (map[string]any, error) {
	if len(details) == 0 {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("details are not JSON: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("details are not a JSON object: %w", err)
	}
	if err := checkKeys("details", out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkKeys refuses a secret-looking key anywhere in v.
func checkKeys(path string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if SecretKey(k) {
				return fmt.Errorf("%s.%s looks like a secret and is never recorded", path, k)
			}
			if err := checkKeys(path+"."+k, val); err != nil {
				return err
			}
		}
	case []any:
		for i, val := range x {
			if err := checkKeys(fmt.Sprintf("%s[%d]", path, i), val); err != nil {
				return err
			}
		}
	}
	return nil
}
