package automessage

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/database"
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
// NOT_FOUND. The activity log records it in the same transaction.
func Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.AutoMessage, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.AutoMessage, error) {
		a, err := tx.AutoMessage.Create().
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
		if err != nil {
			return nil, err
		}
		return a, record(ctx, tx, activity.AutoMessageCreated, a, summary(a))
	})
}

// Update changes the fields in sets, under the same rules as Create.
func Update(ctx context.Context, client *ent.Client, id gid.ID, in UpdateInput) (*ent.AutoMessage, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.AutoMessage, error) {
		before, err := tx.AutoMessage.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		u := tx.AutoMessage.UpdateOneID(id).
			SetNillableTitle(in.Title).
			SetNillablePath(in.Path).
			SetNillableDelaySeconds(in.DelaySeconds).
			SetNillableIntervalSeconds(in.IntervalSeconds).
			SetNillableResendAsMessage(in.ResendAsMessage).
			SetNillableEnabled(in.Enabled)
		if in.Contents != nil {
			u.SetContents(in.Contents)
		}
		a, err := u.Save(ctx)
		if err != nil {
			return nil, err
		}
		return a, record(ctx, tx, activity.AutoMessageUpdated, a,
			map[string]any{"kind": a.Kind, "changes": activity.Changes(before, a)})
	})
}

// Delete deletes an auto-message (OWNERs and ADMINs); what it already sent
// stays in the conversations.
func Delete(ctx context.Context, client *ent.Client, id gid.ID) error {
	_, err := database.InTx(ctx, client, func(tx *ent.Tx) (struct{}, error) {
		a, err := tx.AutoMessage.Get(ctx, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := tx.AutoMessage.DeleteOneID(id).Exec(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, record(ctx, tx, activity.AutoMessageDeleted, a, summary(a))
	})
	return err
}

// summary is what the log says of an auto-message created or deleted.
func summary(a *ent.AutoMessage) map[string]any {
	return map[string]any{
		"kind": a.Kind, "title": a.Title, "path": a.Path, "contents": a.Contents,
		"delaySeconds": a.DelaySeconds, "intervalSeconds": a.IntervalSeconds,
		"resendAsMessage": a.ResendAsMessage, "enabled": a.Enabled,
	}
}

func record(ctx context.Context, tx *ent.Tx, action activity.Action, a *ent.AutoMessage, details map[string]any) error {
	return activity.Record(ctx, tx, activity.Entry{Action: action, ChannelID: a.ChannelID, SubjectID: a.ID, Details: details})
}

// ShowsPopup reports whether the website widget shows a as a popup: an
// enabled GREETING whose delay is above zero (a delay of 0 hides it,
// README.md, "Auto-messages").
func ShowsPopup(a *ent.AutoMessage) bool {
	return a.Kind == entautomessage.KindGREETING && a.Enabled && a.DelaySeconds > 0
}
