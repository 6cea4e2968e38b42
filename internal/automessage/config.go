package automessage

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/internal/gid"
)

// CreateInput is what createAutoMessage takes (schema.graphqls). Fields left nil
// take the schema's defaults: no title, no path, no delay or interval, not
// re-sent, enabled.
type CreateInput struct {
	ChannelID       gid.ID
	Kind            entautomessage.Kind
	Title           *string
	Path            *string
	Contents        []string
	DelaySeconds    *int
	IntervalSeconds *int
	ResendAsMessage *bool
	Enabled         *bool
}

// UpdateInput is what updateAutoMessage takes: the fields to change. The
// channel and the kind stay; a blank path clears it.
type UpdateInput struct {
	Title           *string
	Path            *string
	Contents        []string
	DelaySeconds    *int
	IntervalSeconds *int
	ResendAsMessage *bool
	Enabled         *bool
}

// Create adds an auto-message to a channel. The schema's rules (see
// ent/schema/automessage_rules.go) check it against its kind, and only
// OWNERs and ADMINs pass its policy; another organization's channel is
// NOT_FOUND.
func Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.AutoMessage, error) {
	return client.AutoMessage.Create().
		SetChannelID(in.ChannelID).
		SetKind(in.Kind).
		SetNillableTitle(in.Title).
		SetNillablePath(in.Path).
		SetContents(in.Contents).
		SetNillableDelaySeconds(in.DelaySeconds).
		SetNillableIntervalSeconds(in.IntervalSeconds).
		SetNillableResendAsMessage(in.ResendAsMessage).
		SetNillableEnabled(in.Enabled).
		Save(ctx)
}

// Update changes the fields in sets, under the same rules as Create.
func Update(ctx context.Context, client *ent.Client, id gid.ID, in UpdateInput) (*ent.AutoMessage, error) {
	u := client.AutoMessage.UpdateOneID(id).
		SetNillableTitle(in.Title).
		SetNillablePath(in.Path).
		SetNillableDelaySeconds(in.DelaySeconds).
		SetNillableIntervalSeconds(in.IntervalSeconds).
		SetNillableResendAsMessage(in.ResendAsMessage).
		SetNillableEnabled(in.Enabled)
	if in.Contents != nil {
		u.SetContents(in.Contents)
	}
	return u.Save(ctx)
}

// ShowsPopup reports whether the website widget shows a as a popup: an
// enabled GREETING whose delay is above zero (a delay of 0 hides it,
// README.md, "Auto-messages").
func ShowsPopup(a *ent.AutoMessage) bool {
	return a.Kind == entautomessage.KindGREETING && a.Enabled && a.DelaySeconds > 0
}
