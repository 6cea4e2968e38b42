// Package inbox is the live inbox: channels, inbound provider events,
// conversations, messages and their delivery.
package inbox

import (
	"context"
	"slices"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/messagetemplate"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
)

// CreateTemplate adds a message template (OWNERs and ADMINs), recorded in
// the activity log in the same transaction.
func CreateTemplate(ctx context.Context, client *ent.Client, in ent.CreateMessageTemplateInput) (*ent.MessageTemplate, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.MessageTemplate, error) {
		t, err := tx.MessageTemplate.Create().SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return t, activity.Record(ctx, tx, activity.Entry{
			Action: activity.MessageTemplateCreated, SubjectID: t.ID,
			Details: map[string]any{"name": t.Name, "content": t.Content},
		})
	})
}

// UpdateTemplate changes a message template (OWNERs and ADMINs).
func UpdateTemplate(ctx context.Context, client *ent.Client, id gid.ID, in ent.UpdateMessageTemplateInput) (*ent.MessageTemplate, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.MessageTemplate, error) {
		before, err := tx.MessageTemplate.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		t, err := tx.MessageTemplate.UpdateOneID(id).SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return t, activity.Record(ctx, tx, activity.Entry{
			Action: activity.MessageTemplateUpdated, SubjectID: t.ID,
			Details: map[string]any{"name": t.Name, "changes": activity.Changes(before, t)},
		})
	})
}

// DeleteTemplates deletes the organization's templates with the given IDs,
// all or none: an ID that is unknown or another organization's fails the
// whole call with NOT_FOUND and deletes nothing.
func DeleteTemplates(ctx context.Context, client *ent.Client, ids []gid.ID) (int, error) {
	uniq := map[gid.ID]bool{}
	for _, id := range ids {
		uniq[id] = true
	}
	list := make([]gid.ID, 0, len(uniq))
	for id := range uniq {
		list = append(list, id)
	}
	slices.Sort(list)
	return database.InTx(ctx, client, func(tx *ent.Tx) (int, error) {
		ts, err := tx.MessageTemplate.Query().Where(messagetemplate.IDIn(list...)).Order(messagetemplate.ByID()).All(ctx)
		if err != nil {
			return 0, err
		}
		n, err := tx.MessageTemplate.Delete().Where(messagetemplate.IDIn(list...)).Exec(ctx)
		if err != nil {
			return 0, err
		}
		for _, t := range ts {
			err := activity.Record(ctx, tx, activity.Entry{
				Action: activity.MessageTemplateDeleted, SubjectID: t.ID,
				Details: map[string]any{"name": t.Name, "content": t.Content},
			})
			if err != nil {
				return 0, err
			}
		}
		// A missing ID undoes the deletions and their entries alike.
		if n != len(list) || len(ts) != n {
			return 0, apierr.New(apierr.NotFound, "not found")
		}
		return n, nil
	})
}
