// Package zns sends ZNS messages, the Zalo Notification Service: paid,
// pre-approved template messages to a phone number (README.md, "ZNS").
//
// Templates are created and approved on Zalo; Sync pulls an OA's templates
// (the list in pages of 100, then each one's detail) and stores them per
// channel, a template gone from Zalo becoming DELETE. A durable timer per
// connected OA syncs again every SyncEvery, run by one replica at a time,
// and Zalo's change_template_status and change_oa_daily_quota webhooks keep
// statuses and quotas fresh in between.
package zns

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/znstemplate"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/delivery"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Reasons of this package's FAILED_PRECONDITION errors.
const (
	ReasonChannelDisconnected = "CHANNEL_DISCONNECTED"
	// ReasonChannelUnsupported: ZNS is sent from Zalo OAs only.
	ReasonChannelUnsupported = "CHANNEL_UNSUPPORTED"
	// ReasonProviderRefused: Zalo refused the request; the message says
	// why.
	ReasonProviderRefused = "PROVIDER_REFUSED"
	// ReasonProviderUnavailable: Zalo could not be reached; try again.
	ReasonProviderUnavailable = "PROVIDER_UNAVAILABLE"
)

// Sync schedule.
const (
	// SyncEvery is how often each connected OA's templates are synced.
	SyncEvery = 4 * time.Hour
	// syncRetry is how soon a periodic sync that failed is tried again.
	syncRetry = 10 * time.Minute
	// firstSync is how soon after start-up (or a connection) an OA with
	// no pending sync is synced.
	firstSync = time.Minute
	// EnsureEvery is how often a replica makes sure every connected OA
	// has a periodic sync (EnsureSyncs).
	EnsureEvery = 10 * time.Minute
	// timerSync is the kind of the periodic sync's timer, keyed by channel.
	timerSync = "zns.template_sync"
)

// Options configures New. Zalo and Tokens are required; Now and Logger
// default to the wall clock and a discarding logger.
type Options struct {
	Zalo   *zalo.Client
	Tokens zalo.Tokens
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs ZNS over one database.
type Service struct {
	client *ent.Client
	zalo   *zalo.Client
	tokens zalo.Tokens
	now    func() time.Time
	log    *slog.Logger
	// worker delivers the QUEUED ZNS messages (delivery.go).
	worker *delivery.Worker[sent]
}

// New returns the ZNS service over client.
func New(client *ent.Client, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Zalo == nil {
		o.Zalo = zalo.New(zalo.Config{})
	}
	s := &Service{client: client, zalo: o.Zalo, tokens: o.Tokens, now: o.Now, log: o.Logger}
	s.worker = delivery.New(znsQueue{s}, delivery.Config{
		Name: "ZNS message", LogKey: "zns_message_id", Logger: o.Logger, Now: o.Now,
	})
	return s
}

// Register gives w the handlers of the periodic template sync and of the
// campaign runner. Call it once at start-up, before w runs.
func (s *Service) Register(w *timer.Worker) {
	w.Handle(timerSync, s.periodicSync)
	w.Handle(timerCampaign, s.runCampaign)
}

// requireAdmin returns the viewer when they may do what (for the
// refusal: "sync ZNS templates", "run ZNS campaigns"): an OWNER or ADMIN,
// or an API key with the WRITE scope.
func requireAdmin(ctx context.Context, what string) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.OrgID == "":
		return nil, apierr.NeedCredentials("authentication required")
	case v.IsAdmin(), v.IsAPIKey() && v.Has(viewer.ScopeWrite), v.System:
		return v, nil
	}
	return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN, or a WRITE API key, can %s", what)
}

// channel reads channel id with the viewer's rules: one they may not see
// is NOT_FOUND.
func (s *Service) channel(ctx context.Context, id gid.ID) (*ent.Channel, error) {
	ch, err := s.client.Channel.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "channel not found")
	}
	return ch, err
}

// enabledTemplate is the OA ch's template of Zalo ID templateID, refused
// unless it is ENABLE.
func (s *Service) enabledTemplate(ctx context.Context, ch *ent.Channel, templateID string) (*ent.ZnsTemplate, error) {
	tpl, err := s.client.ZnsTemplate.Query().
		Where(znstemplate.ChannelID(ch.ID), znstemplate.TemplateID(templateID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.BadInput("templateId", "the OA has no template %q; sync its templates first", templateID)
	}
	if err != nil {
		return nil, err
	}
	if tpl.Status != znstemplate.StatusENABLE {
		return nil, apierr.Precondition(ReasonTemplateNotEnabled, "the template is %s; only an ENABLE template can be sent", tpl.Status)
	}
	return tpl, nil
}

// withToken runs f with the OA's access token, and once more with a
// refreshed one when Zalo refused it (-124).

// providerError turns a failed Zalo call (what) into the API's error.
func providerError(what string, err error) error {
	if _, ok := apierr.As(err); ok || err == nil {
		return err
	}
	var api *zalo.APIError
	switch {
	case errors.As(err, &api):
		out := apierr.Precondition(ReasonProviderRefused, "Zalo refused to %s (error %d: %s)", what, api.Code, api.Message)
		out.Err = err
		return out
	case zalo.IsTransient(err) || errors.As(err, new(zalo.TokenError)):
		out := apierr.Precondition(ReasonProviderUnavailable, "Zalo could not be reached to %s; try again", what)
		out.Err = err
		return out
	}
	return err
}
