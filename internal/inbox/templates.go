// Package inbox is the live inbox: channels, inbound provider events,
// conversations, messages and their delivery.
package inbox

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/messagetemplate"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

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
	tx, err := client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	n, err := tx.MessageTemplate.Delete().Where(messagetemplate.IDIn(list...)).Exec(ctx)
	if err != nil {
		return 0, err
	}
	if n != len(list) {
		return 0, apierr.New(apierr.NotFound, "not found")
	}
	return n, tx.Commit()
}
