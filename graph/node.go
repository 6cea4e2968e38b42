package graph

import (
	"context"

	"github.com/dakenh/dakenh/ent/activity"
	"github.com/dakenh/dakenh/ent/apikey"
	"github.com/dakenh/dakenh/ent/automessage"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/calloperator"
	"github.com/dakenh/dakenh/ent/callpermission"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/messagetemplate"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/tag"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/gid"
)

// nodeTables maps the ent types reachable through `node` to their tables;
// the others (sessions, login attempts) are not nodes.
var nodeTables = map[string]string{
	"APIKey":          apikey.Table,
	"Customer":        customer.Table,
	"CustomField":     customfield.Table,
	"Organization":    organization.Table,
	"Tag":             tag.Table,
	"User":            user.Table,
	"Channel":         channel.Table,
	"Identity":        identity.Table,
	"Conversation":    conversation.Table,
	"Message":         message.Table,
	"MessageTemplate": messagetemplate.Table,
	"Rule":            rule.Table,
	"Department":      department.Table,
	"AutoMessage":     automessage.Table,
	"Activity":        activity.Table,
	"CallOperator":    calloperator.Table,
	"CallPermission":  callpermission.Table,
	"Call":            entcall.Table,
	"ZnsTemplate":     znstemplate.Table,
	"ZnsMessage":      znsmessage.Table,
	"ZnsCampaign":     znscampaign.Table,
}

// nodeTable finds the table of a global ID from its prefix, so `node` costs
// one query.
func nodeTable(_ context.Context, id gid.ID) (string, error) {
	typ, err := gid.TypeOf(id)
	if err != nil {
		return "", errNotFound
	}
	table, ok := nodeTables[typ]
	if !ok {
		return "", errNotFound
	}
	return table, nil
}
