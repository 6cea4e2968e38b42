package partner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/dakenh/dakenh/ent"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/ent/webhookendpoint"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// feedBatch is how many events of the log one endpoint's feed reads in
// one transaction.
const feedBatch = 500

// Renderer renders what an event of the log is about as the
// subscriptions show it, keyed by the field the subscription's payload
// names it under ("message", "conversation", "call", "permission",
// "channel", "user"). ok is false when the subject is not something an
// API key may see (a conversation of an ONLY_ME channel) or no longer
// exists: no endpoint receives that event.
type Renderer func(ctx context.Context, ev *ent.Event) (fields map[string]json.RawMessage, ok bool, err error)

// Feed turns the log's events that enabled endpoints have not yet
// considered into their deliveries, and returns how many it made. Each
// endpoint is fed in its own transaction that reads its cursor, writes
// the deliveries of the events after it that the endpoint chose, and moves
// the cursor past them, so a crash feeds the same events again from the
// same place, and two replicas never both feed one endpoint (on
// PostgreSQL the endpoint's row is locked, SKIP LOCKED; on SQLite writes
// are serialized).
func (d *Deliveries) Feed(ctx context.Context) (int, error) {
	n, _, err := d.feed(ctx)
	return n, err
}

// feed is Feed, and also reports whether an endpoint should be fed again
// soon: skipped because another replica was feeding it, or with more of
// the log than one batch.
func (d *Deliveries) feed(ctx context.Context) (made int, skipped bool, err error) {
	sys := viewer.SystemContext(ctx, "")
	// Endpoints behind their organization's log: the only ones with work.
	ids, err := d.client.WebhookEndpoint.Query().
		Where(webhookendpoint.Enabled(true), func(s *sql.Selector) {
			org := sql.Table(organization.Table)
			s.Join(org).On(s.C(webhookendpoint.FieldOrganizationID), org.C(organization.FieldID)).
				Where(sql.ColumnsLT(s.C(webhookendpoint.FieldEventCursor), org.C(organization.FieldEventSeq)))
		}).
		IDs(sys)
	if err != nil {
		return 0, false, fmt.Errorf("partner: endpoints to feed: %w", err)
	}
	rendered := map[gid.ID]rendering{}
	for _, id := range ids {
		n, locked, err := d.feedEndpoint(ctx, id, rendered)
		made += n
		skipped = skipped || locked
		if err != nil {
			return made, skipped, err
		}
	}
	return made, skipped, nil
}

// rendering is an event's rendered subject, shared by the endpoints fed
// in one round.
type rendering struct {
	fields map[string]json.RawMessage
	ok     bool
}

// feedEndpoint feeds one endpoint up to feedBatch events; again says it
// should be fed again soon: its row was locked (or it is gone) and nothing
// was fed, or the batch was full.
func (d *Deliveries) feedEndpoint(ctx context.Context, id gid.ID, rendered map[gid.ID]rendering) (_ int, again bool, _ error) {
	sys := viewer.SystemContext(ctx, "")
	tx, err := d.client.Tx(sys)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback() }()
	q := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id), webhookendpoint.Enabled(true))
	q.Modify(database.LockRows(sql.WithLockAction(sql.SkipLocked)))
	ep, err := q.Only(sys)
	if ent.IsNotFound(err) {
		// Fed by another replica right now, disabled or deleted: look
		// again soon, after that replica's feed.
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	org := viewer.SystemContext(ctx, ep.OrganizationID)
	evs, err := tx.Event.Query().
		Where(entevent.OrganizationID(ep.OrganizationID), entevent.SeqGT(ep.EventCursor)).
		Order(entevent.BySeq()).
		Limit(feedBatch).
		All(org)
	if err != nil {
		return 0, false, err
	}
	if len(evs) == 0 {
		return 0, false, nil
	}
	var creates []*ent.WebhookDeliveryCreate
	for _, ev := range evs {
		typ := EventType(ev.Topic, ev.Type)
		if !Wants(ep.Events, typ) {
			continue
		}
		r, seen := rendered[ev.ID]
		if !seen {
			r.fields, r.ok, err = d.render(org, ev)
			if err != nil {
				return 0, false, fmt.Errorf("partner: rendering event %d of %s: %w", ev.Seq, ev.OrganizationID, err)
			}
			rendered[ev.ID] = r
		}
		if !r.ok {
			continue
		}
		did := gid.New("WebhookDelivery")
		body, err := payload(did, typ, ev, r.fields)
		if err != nil {
			return 0, false, err
		}
		creates = append(creates, tx.WebhookDelivery.Create().
			SetID(did).
			SetOrganizationID(ep.OrganizationID).
			SetEndpointID(ep.ID).
			SetEventSeq(ev.Seq).
			SetEventID(ev.ID).
			SetEventType(typ).
			SetPayload(body).
			SetNextAttemptAt(d.now()))
	}
	if len(creates) > 0 {
		// The unique (endpoint, event) index makes a second feed of the
		// same events a no-op, should the lock ever not hold.
		if err := tx.WebhookDelivery.CreateBulk(creates...).OnConflict(sql.DoNothing()).Exec(org); err != nil {
			return 0, false, fmt.Errorf("partner: storing deliveries: %w", err)
		}
	}
	if err := tx.WebhookEndpoint.UpdateOneID(ep.ID).SetEventCursor(evs[len(evs)-1].Seq).Exec(org); err != nil {
		return 0, false, err
	}
	if len(creates) > 0 {
		d.worker.NudgeOnCommit(tx)
	}
	// A full batch leaves more of the log to feed: at once, not at the
	// next poll.
	return len(creates), len(evs) == feedBatch, tx.Commit()
}

// payload is a delivery's body: the subscription's payload (its cursor
// and subject) with the delivery's id, the event's type, when it happened
// and the organization.
func payload(id gid.ID, typ string, ev *ent.Event, fields map[string]json.RawMessage) ([]byte, error) {
	body := make(map[string]any, len(fields)+5)
	for k, v := range fields {
		body[k] = v
	}
	body["id"] = id
	body["type"] = typ
	body["createdAt"] = ev.CreatedAt.UTC().Format(time.RFC3339Nano)
	body["organizationId"] = ev.OrganizationID
	body["cursor"] = event.CursorAfter(ev.Seq).String()
	return json.Marshal(body)
}

// startCursor is where a new endpoint starts: after the organization's
// latest event, so it receives what happens from now on.
func startCursor(ctx context.Context, tx *ent.Tx, orgID gid.ID) (int64, error) {
	o, err := tx.Organization.Query().Where(organization.ID(orgID)).Only(viewer.SystemContext(ctx, orgID))
	if err != nil {
		return 0, err
	}
	return o.EventSeq, nil
}
