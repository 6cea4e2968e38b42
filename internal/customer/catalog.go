package customer

// The organization's catalog of tags and custom fields: each change is
// made in a transaction that records it in the activity log.

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
)

// CreateTag adds a tag (any member or a WRITE key may).
func CreateTag(ctx context.Context, client *ent.Client, in ent.CreateTagInput) (*ent.Tag, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.Tag, error) {
		t, err := tx.Tag.Create().SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return t, record(ctx, tx, activity.TagCreated, t.ID, tagSummary(t))
	})
}

// UpdateTag renames or recolors a tag.
func UpdateTag(ctx context.Context, client *ent.Client, id gid.ID, in ent.UpdateTagInput) (*ent.Tag, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.Tag, error) {
		before, err := tx.Tag.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		t, err := tx.Tag.UpdateOneID(id).SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return t, record(ctx, tx, activity.TagUpdated, t.ID, map[string]any{"name": t.Name, "changes": activity.Changes(before, t)})
	})
}

// DeleteTag deletes a tag (OWNERs, ADMINs and API keys); customers lose it.
func DeleteTag(ctx context.Context, client *ent.Client, id gid.ID) error {
	_, err := database.InTx(ctx, client, func(tx *ent.Tx) (struct{}, error) {
		t, err := tx.Tag.Get(ctx, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := tx.Tag.DeleteOneID(id).Exec(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, record(ctx, tx, activity.TagDeleted, id, tagSummary(t))
	})
	return err
}

func tagSummary(t *ent.Tag) map[string]any { return map[string]any{"name": t.Name, "color": t.Color} }

// CreateField defines a custom field (OWNERs and ADMINs).
func CreateField(ctx context.Context, client *ent.Client, in ent.CreateCustomFieldInput) (*ent.CustomField, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.CustomField, error) {
		f, err := tx.CustomField.Create().SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return f, record(ctx, tx, activity.CustomFieldCreated, f.ID, fieldSummary(f))
	})
}

// UpdateField changes a custom field's label or options.
func UpdateField(ctx context.Context, client *ent.Client, id gid.ID, in ent.UpdateCustomFieldInput) (*ent.CustomField, error) {
	return database.InTx(ctx, client, func(tx *ent.Tx) (*ent.CustomField, error) {
		before, err := tx.CustomField.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		f, err := tx.CustomField.UpdateOneID(id).SetInput(in).Save(ctx)
		if err != nil {
			return nil, err
		}
		return f, record(ctx, tx, activity.CustomFieldUpdated, f.ID,
			map[string]any{"fieldKey": f.Key, "label": f.Label, "changes": activity.Changes(before, f)})
	})
}

// DeleteField deletes a custom field definition (OWNERs and ADMINs).
func DeleteField(ctx context.Context, client *ent.Client, id gid.ID) error {
	_, err := database.InTx(ctx, client, func(tx *ent.Tx) (struct{}, error) {
		f, err := tx.CustomField.Get(ctx, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := tx.CustomField.DeleteOneID(id).Exec(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, record(ctx, tx, activity.CustomFieldDeleted, id, fieldSummary(f))
	})
	return err
}

// fieldSummary names the field's key fieldKey: a bare "key" is what the
// activity log refuses as a secret.
func fieldSummary(f *ent.CustomField) map[string]any {
	return map[string]any{"fieldKey": f.Key, "label": f.Label, "type": f.Type, "options": f.Options}
}

func record(ctx context.Context, tx *ent.Tx, action activity.Action, subject gid.ID, details map[string]any) error {
	return activity.Record(ctx, tx, activity.Entry{Action: action, SubjectID: subject, Details: details})
}
