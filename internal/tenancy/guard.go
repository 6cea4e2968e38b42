// Package tenancy closes the one gap privacy policies leave in tenant
// isolation: a mutation that links a row to another organization's row by ID
// (a customer's owner, a tag) passes the foreign-key check, because the
// target exists, just not for this tenant. Guard refuses such links, and
// answers as if the target did not exist.
package tenancy

import (
	"context"
	"fmt"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/apikey"
	"github.com/dakenh/dakenh/ent/automessage"
	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/callminutemonth"
	"github.com/dakenh/dakenh/ent/calloperator"
	"github.com/dakenh/dakenh/ent/callpermission"
	"github.com/dakenh/dakenh/ent/callsettings"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/livetalksettings"
	"github.com/dakenh/dakenh/ent/mediafile"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/messagetemplate"
	"github.com/dakenh/dakenh/ent/offer"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/ent/session"
	"github.com/dakenh/dakenh/ent/tag"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/ent/visitorsession"
	"github.com/dakenh/dakenh/ent/webhookdelivery"
	"github.com/dakenh/dakenh/ent/webhookendpoint"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znscampaignrecipient"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// counters count how many of the given IDs of one type the context's
// tenant can see. Every ent type that can be the target of an edge needs
// one; a test checks that none is missing.
var counters = map[string]func(context.Context, *ent.Client, []gid.ID) (int, error){
	"APIKey": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.APIKey.Query().Where(apikey.IDIn(ids...)).Count(ctx)
	},
	"Customer": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Customer.Query().Where(customer.IDIn(ids...)).Count(ctx)
	},
	"CustomField": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.CustomField.Query().Where(customfield.IDIn(ids...)).Count(ctx)
	},
	"Organization": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Organization.Query().Where(organization.IDIn(ids...)).Count(ctx)
	},
	"Session": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Session.Query().Where(session.IDIn(ids...)).Count(ctx)
	},
	"VisitorSession": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.VisitorSession.Query().Where(visitorsession.IDIn(ids...)).Count(ctx)
	},
	"Tag": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Tag.Query().Where(tag.IDIn(ids...)).Count(ctx)
	},
	"User": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.User.Query().Where(user.IDIn(ids...)).Count(ctx)
	},
	"Channel": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Channel.Query().Where(channel.IDIn(ids...)).Count(ctx)
	},
	"Identity": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Identity.Query().Where(identity.IDIn(ids...)).Count(ctx)
	},
	"Conversation": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Conversation.Query().Where(conversation.IDIn(ids...)).Count(ctx)
	},
	"Message": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Message.Query().Where(message.IDIn(ids...)).Count(ctx)
	},
	"MessageTemplate": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.MessageTemplate.Query().Where(messagetemplate.IDIn(ids...)).Count(ctx)
	},
	"Rule": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Rule.Query().Where(rule.IDIn(ids...)).Count(ctx)
	},
	"Department": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Department.Query().Where(department.IDIn(ids...)).Count(ctx)
	},
	"Member": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Member.Query().Where(member.IDIn(ids...)).Count(ctx)
	},
	"Offer": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Offer.Query().Where(offer.IDIn(ids...)).Count(ctx)
	},
	"AutoMessage": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.AutoMessage.Query().Where(automessage.IDIn(ids...)).Count(ctx)
	},
	"CallSettings": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.CallSettings.Query().Where(callsettings.IDIn(ids...)).Count(ctx)
	},
	"LiveTalkSettings": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.LiveTalkSettings.Query().Where(livetalksettings.IDIn(ids...)).Count(ctx)
	},
	"MediaFile": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.MediaFile.Query().Where(mediafile.IDIn(ids...)).Count(ctx)
	},
	"CallOperator": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.CallOperator.Query().Where(calloperator.IDIn(ids...)).Count(ctx)
	},
	"CallMinuteMonth": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.CallMinuteMonth.Query().Where(callminutemonth.IDIn(ids...)).Count(ctx)
	},
	"CallPermission": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.CallPermission.Query().Where(callpermission.IDIn(ids...)).Count(ctx)
	},
	"Call": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.Call.Query().Where(entcall.IDIn(ids...)).Count(ctx)
	},
	"WebhookEndpoint": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.WebhookEndpoint.Query().Where(webhookendpoint.IDIn(ids...)).Count(ctx)
	},
	"WebhookDelivery": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.WebhookDelivery.Query().Where(webhookdelivery.IDIn(ids...)).Count(ctx)
	},
	"ZnsTemplate": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.ZnsTemplate.Query().Where(znstemplate.IDIn(ids...)).Count(ctx)
	},
	"ZnsMessage": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.ZnsMessage.Query().Where(znsmessage.IDIn(ids...)).Count(ctx)
	},
	"ZnsCampaign": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.ZnsCampaign.Query().Where(znscampaign.IDIn(ids...)).Count(ctx)
	},
	"ZnsCampaignRecipient": func(ctx context.Context, c *ent.Client, ids []gid.ID) (int, error) {
		return c.ZnsCampaignRecipient.Query().Where(znscampaignrecipient.IDIn(ids...)).Count(ctx)
	},
}

// unlinkable are the types no edge points to: they need no counter.
var unlinkable = map[string]bool{"LoginAttempt": true, "Event": true, "WebhookEvent": true, "Timer": true, "KeyCheck": true, "Activity": true, "WebhookAttempt": true, "OAuthState": true, "MediaBlob": true}

// NotFoundError is returned for a link to a row the tenant cannot see.
type NotFoundError struct {
	Edge string
	ID   gid.ID
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s: %s not found", e.Edge, e.ID) }

// Guard installs the check on every mutation of the client.
func Guard(client *ent.Client) {
	client.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if err := checkEdges(ctx, m); err != nil {
				return nil, err
			}
			return next.Mutate(ctx, m)
		})
	})
}

// knownKey is the context key of the IDs WithKnown vouches for.
type knownKey struct{}

// known are IDs of one organization's rows that need no check.
type known struct {
	org gid.ID
	ids []gid.ID
}

// WithKnown returns a context whose mutations link to the given rows of
// the viewer's organization without counting them again. The caller
// vouches that it read or wrote each of them under that organization's
// tenant filter in the transaction the mutations run in (a row that goes
// away meanwhile still fails the foreign key), so the count would prove
// nothing and only cost a statement: the inbox's processing of a webhook
// links every message to the channel and conversation it has just read.
// Under another viewer's organization the IDs vouch for nothing.
func WithKnown(ctx context.Context, ids ...gid.ID) context.Context {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" || len(ids) == 0 {
		return ctx
	}
	k := known{org: v.OrgID}
	if prev, ok := ctx.Value(knownKey{}).(known); ok && prev.org == v.OrgID {
		k.ids = append(k.ids, prev.ids...)
	}
	k.ids = append(k.ids, ids...)
	return context.WithValue(ctx, knownKey{}, k)
}

// isKnown reports whether WithKnown vouched for id in org.
func isKnown(ctx context.Context, org, id gid.ID) bool {
	k, ok := ctx.Value(knownKey{}).(known)
	return ok && k.org == org && slices.Contains(k.ids, id)
}

func checkEdges(ctx context.Context, m ent.Mutation) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil // no tenant to check against; privacy decides
	}
	byType := map[string][]gid.ID{}
	edgeOf := map[gid.ID]string{}
	for _, edge := range m.AddedEdges() {
		for _, raw := range m.AddedIDs(edge) {
			id, ok := raw.(gid.ID)
			if !ok {
				return fmt.Errorf("tenancy: edge %s has a %T id", edge, raw)
			}
			if id == v.OrgID || isKnown(ctx, v.OrgID, id) {
				continue // the tenant's own organization, or a row the caller vouches for
			}
			typ, err := gid.TypeOf(id)
			if err != nil {
				return &NotFoundError{Edge: edge, ID: id}
			}
			if _, seen := edgeOf[id]; !seen {
				byType[typ] = append(byType[typ], id)
				edgeOf[id] = edge
			}
		}
	}
	if len(byType) == 0 {
		return nil
	}
	// The mutation's own client sees rows created earlier in its
	// transaction; the system context keeps the tenant filter but lets
	// WRITE-only API keys link rows they cannot read.
	client := m.(interface{ Client() *ent.Client }).Client()
	sys := viewer.SystemContext(ctx, v.OrgID)
	for typ, ids := range byType {
		count, ok := counters[typ]
		if !ok {
			return fmt.Errorf("tenancy: no counter for type %s", typ)
		}
		n, err := count(sys, client, ids)
		if err != nil {
			return err
		}
		if n != len(ids) {
			return &NotFoundError{Edge: edgeOf[ids[0]], ID: ids[0]}
		}
	}
	return nil
}
