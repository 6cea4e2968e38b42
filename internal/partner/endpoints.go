package partner

import (
	"context"
	"slices"
	"strings"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/webhookendpoint"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The activity log's actions of this package.
const (
	EndpointCreated  activity.Action = "WEBHOOK_ENDPOINT_CREATED"
	EndpointUpdated  activity.Action = "WEBHOOK_ENDPOINT_UPDATED"
	EndpointDeleted  activity.Action = "WEBHOOK_ENDPOINT_DELETED"
	SecretRotated    activity.Action = "WEBHOOK_SECRET_ROTATED"
	EndpointDisabled activity.Action = "WEBHOOK_ENDPOINT_DISABLED"
)

// The bounds of an endpoint's fields.
const (
	maxDescription = 500
	maxEvents      = 100
)

// secretPrefix starts every endpoint secret, so one found in a log or a
// repository is recognisable.
const secretPrefix = "whsec_"

// CreateEndpointInput registers an endpoint (CreateWebhookEndpointInput).
type CreateEndpointInput struct {
	URL         string
	Events      []string
	Description *string
}

// UpdateEndpointInput changes an endpoint (UpdateWebhookEndpointInput);
// nil fields stay as they are. Enabling an endpoint the server disabled
// for failing clears that reason.
type UpdateEndpointInput struct {
	URL         *string
	Events      []string
	Description *string
	Enabled     *bool
}

// EndpointSecret is an endpoint with its signing secret in clear
// (CreateWebhookEndpointPayload): the only time the secret is shown.
type EndpointSecret struct {
	Endpoint *ent.WebhookEndpoint
	Secret   string
}

// requireManager returns ctx's viewer when it may manage endpoints: an
// OWNER or ADMIN, or an API key holding WRITE.
func requireManager(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.OrgID == "":
		return nil, apierr.NeedCredentials("authentication required")
	case v.IsAdmin(), v.IsAPIKey() && v.Has(viewer.ScopeWrite):
		return v, nil
	case v.IsAPIKey():
		return nil, apierr.New(apierr.Forbidden, "this API key lacks the WRITE scope needed to manage webhook endpoints")
	default:
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN, or an API key with WRITE, can manage webhook endpoints")
	}
}

// Endpoints returns the organization's endpoints, oldest first.
func (s *Service) Endpoints(ctx context.Context) ([]*ent.WebhookEndpoint, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	return s.client.WebhookEndpoint.Query().
		Order(webhookendpoint.ByCreatedAt(), webhookendpoint.ByID()).
		All(ctx)
}

// CreateEndpoint registers an endpoint, enabled, and returns it with its
// new secret.
func (s *Service) CreateEndpoint(ctx context.Context, in CreateEndpointInput) (*EndpointSecret, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	u, err := checkURL("input.url", in.URL, s.insecure)
	if err != nil {
		return nil, err
	}
	events, err := checkEvents("input.events", in.Events)
	if err != nil {
		return nil, err
	}
	desc, err := checkDescription("input.description", in.Description)
	if err != nil {
		return nil, err
	}
	id := gid.New("WebhookEndpoint")
	sec := newSecret()
	e, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.WebhookEndpoint, error) {
		cursor, err := startCursor(ctx, tx, viewer.FromContext(ctx).OrgID)
		if err != nil {
			return nil, err
		}
		e, err := tx.WebhookEndpoint.Create().
			SetID(id).
			SetEventCursor(cursor).
			SetURL(u).
			SetEvents(events).
			SetDescription(desc).
			SetSecret(s.box.Seal(sec, sealContext(id, webhookendpoint.FieldSecret))).
			SetNillableCreatedByID(userOf(ctx)).
			Save(ctx)
		if err != nil {
			return nil, err
		}
		return e, activity.Record(ctx, tx, activity.Entry{
			Action: EndpointCreated, SubjectID: e.ID,
			Details: map[string]any{"url": e.URL, "events": e.Events, "description": e.Description, "enabled": e.Enabled},
		})
	})
	if err != nil {
		return nil, err
	}
	s.wakeFeedNow()
	return &EndpointSecret{Endpoint: e, Secret: sec}, nil
}

// UpdateEndpoint changes an endpoint's URL, events, description or
// whether it is enabled.
func (s *Service) UpdateEndpoint(ctx context.Context, id gid.ID, in UpdateEndpointInput) (*ent.WebhookEndpoint, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	var err error
	if in.URL != nil {
		var u string
		if u, err = checkURL("input.url", *in.URL, s.insecure); err != nil {
			return nil, err
		}
		in.URL = &u
	}
	if in.Events != nil {
		if in.Events, err = checkEvents("input.events", in.Events); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		var d string
		if d, err = checkDescription("input.description", in.Description); err != nil {
			return nil, err
		}
		in.Description = &d
	}
	defer s.wakeFeedNow()
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.WebhookEndpoint, error) {
		before, err := lockEndpoint(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		up := tx.WebhookEndpoint.UpdateOne(before).
			SetNillableURL(in.URL).
			SetNillableDescription(in.Description).
			SetNillableEnabled(in.Enabled)
		if in.Events != nil {
			up.SetEvents(in.Events)
		}
		if in.Enabled != nil && *in.Enabled && !before.Enabled {
			// A fresh start: three more days of failures before the
			// server disables it again.
			up.ClearDisabledReason().ClearFailingSince()
		}
		after, err := up.Save(ctx)
		if err != nil {
			return nil, err
		}
		changes := activity.Changes(before, after)
		if len(changes) == 0 {
			return after, nil
		}
		return after, activity.Record(ctx, tx, activity.Entry{
			Action: EndpointUpdated, SubjectID: after.ID,
			Details: map[string]any{"url": after.URL, "changes": changes},
		})
	})
}

// DeleteEndpoint removes an endpoint; nothing more is delivered to it.
func (s *Service) DeleteEndpoint(ctx context.Context, id gid.ID) (gid.ID, error) {
	if _, err := requireManager(ctx); err != nil {
		return "", err
	}
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (gid.ID, error) {
		e, err := lockEndpoint(ctx, tx, id)
		if err != nil {
			return "", err
		}
		if err := tx.WebhookEndpoint.DeleteOne(e).Exec(ctx); err != nil {
			return "", err
		}
		return e.ID, activity.Record(ctx, tx, activity.Entry{
			Action: EndpointDeleted, SubjectID: e.ID,
			Details: map[string]any{"url": e.URL, "events": e.Events, "description": e.Description},
		})
	})
}

// RotateSecret gives an endpoint a new secret and returns it. The secret
// it replaces keeps signing beside it for RotationOverlap, so deliveries
// carry both signatures until the partner has switched; rotating again
// within that time drops the oldest.
func (s *Service) RotateSecret(ctx context.Context, id gid.ID) (*EndpointSecret, error) {
	if _, err := requireManager(ctx); err != nil {
		return nil, err
	}
	sec := newSecret()
	e, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.WebhookEndpoint, error) {
		e, err := lockEndpoint(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		old, err := s.box.Open(e.Secret, sealContext(e.ID, webhookendpoint.FieldSecret))
		if err != nil {
			return nil, err
		}
		expires := s.now().Add(RotationOverlap)
		e, err = tx.WebhookEndpoint.UpdateOne(e).
			SetSecret(s.box.Seal(sec, sealContext(e.ID, webhookendpoint.FieldSecret))).
			SetPreviousSecret(s.box.Seal(old, sealContext(e.ID, webhookendpoint.FieldPreviousSecret))).
			SetPreviousSecretExpiresAt(expires).
			Save(ctx)
		if err != nil {
			return nil, err
		}
		return e, activity.Record(ctx, tx, activity.Entry{
			Action: SecretRotated, SubjectID: e.ID,
			Details: map[string]any{"url": e.URL, "previousValidUntil": expires},
		})
	})
	if err != nil {
		return nil, err
	}
	s.wakeFeedNow()
	return &EndpointSecret{Endpoint: e, Secret: sec}, nil
}

// Secrets returns the secrets deliveries to e are signed with now: its
// current one, then the one a rotation replaced while it is still valid.
func (s *Service) Secrets(e *ent.WebhookEndpoint) ([]string, error) {
	cur, err := s.box.Open(e.Secret, sealContext(e.ID, webhookendpoint.FieldSecret))
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if e.PreviousSecret != nil && e.PreviousSecretExpiresAt != nil && s.now().Before(*e.PreviousSecretExpiresAt) {
		prev, err := s.box.Open(*e.PreviousSecret, sealContext(e.ID, webhookendpoint.FieldPreviousSecret))
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// lockEndpoint reads the endpoint a change is about, locked until tx ends
// on PostgreSQL (SQLite's transactions already exclude other writers). The
// read is the system's within the viewer's organization, so a key holding
// WRITE but not READ can still change what it may manage; the change
// itself is made as the viewer, under the endpoint policy.
func lockEndpoint(ctx context.Context, tx *ent.Tx, id gid.ID) (*ent.WebhookEndpoint, error) {
	q := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id))
	q.Modify(database.LockRows())
	return q.Only(viewer.SystemContext(ctx, viewer.FromContext(ctx).OrgID))
}

// SealedColumns are the endpoint columns sealed under the server secret,
// for the key check and the re-seal of a secret rotation.
func SealedColumns() []keyring.Column {
	var cols []keyring.Column
	for _, column := range []string{webhookendpoint.FieldSecret, webhookendpoint.FieldPreviousSecret} {
		cols = append(cols, keyring.Column{
			Table: webhookendpoint.Table, Column: column,
			Context: func(id string) string { return sealContext(gid.ID(id), column) },
		})
	}
	return cols
}

// sealContext binds a sealed secret to its endpoint and column, so a
// ciphertext copied into another row or column does not open.
func sealContext(id gid.ID, column string) string {
	return "webhook_endpoint:" + string(id) + ":" + column
}

// newSecret returns a fresh signing secret: 32 random bytes, printable.
func newSecret() string { return secret.Token(secretPrefix, 32) }

// userOf returns the user acting in ctx, or nil for an API key.
func userOf(ctx context.Context) *gid.ID {
	if v := viewer.FromContext(ctx); v.IsUser() {
		return &v.UserID
	}
	return nil
}

// checkEvents returns the chosen event types without repeats, in the
// order given, or a BAD_USER_INPUT error on field: at least one, each
// known (EventTypes) or "*", which stands alone.
func checkEvents(field string, events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, apierr.BadInput(field, `choose at least one event type, or "*" for all of them`)
	}
	if len(events) > maxEvents {
		return nil, apierr.BadInput(field, "at most %d event types", maxEvents)
	}
	var out []string
	for _, ev := range events {
		ev = strings.TrimSpace(ev)
		if ev != AllEvents && !slices.Contains(eventTypes, ev) {
			return nil, apierr.BadInput(field, "%q is not an event type; README.md lists them (message.created, conversation.assigned, …)", ev)
		}
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	if slices.Contains(out, AllEvents) && len(out) > 1 {
		return nil, apierr.BadInput(field, `"*" already chooses every event type; list it alone`)
	}
	return out, nil
}

// checkDescription returns the description trimmed, or a BAD_USER_INPUT
// error on field when it is too long.
func checkDescription(field string, d *string) (string, error) {
	if d == nil {
		return "", nil
	}
	out := strings.TrimSpace(*d)
	if len([]rune(out)) > maxDescription {
		return "", apierr.BadInput(field, "description is longer than %d characters", maxDescription)
	}
	return out, nil
}

// wakeFeedNow wakes this replica's feed, so that it follows a new or
// enabled endpoint's organization on the bus from now on; other replicas
// do at their next poll.
func (s *Service) wakeFeedNow() {
	if s.wakeFeed != nil {
		s.wakeFeed()
	}
}
