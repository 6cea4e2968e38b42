// Package partner is dakenh's partner webhooks (README.md, "Partner
// webhooks"): the endpoints a partner registers to receive the
// organization's events, their signing secrets and the signature every
// delivery carries, and the HTTP client that delivers without letting a
// URL reach into the server's own network.
//
// The rules hold whatever the caller: only OWNERs, ADMINs and API keys
// holding WRITE manage endpoints (the WebhookEndpoint policy says so too);
// a URL and its event types are checked before anything is stored; a
// secret is sealed (internal/secret) and shown only when it is made; and
// every change leaves its activity entry (internal/activity), never with a
// secret in it.
package partner

import (
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/secret"
)

// RotationOverlap is how long a rotated-away secret keeps signing beside
// the new one, so a partner can switch its verification without missing a
// delivery.
const RotationOverlap = 24 * time.Hour

// Options configure a Service.
type Options struct {
	// AllowInsecure lets endpoints use http to loopback and deliveries
	// reach loopback addresses (DAKENH_ALLOW_INSECURE_WEBHOOKS, for
	// development and tests). Off, only https to public addresses.
	AllowInsecure bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service manages an organization's webhook endpoints.
type Service struct {
	client   *ent.Client
	box      *secret.Box
	insecure bool
	now      func() time.Time
	// nudge wakes the delivery worker (see NewDeliveries); nil until
	// there is one.
	nudge func()
	// wakeFeed wakes the feed (see Deliveries.Run), which then follows an
	// endpoint's organization on the bus; nil until there are deliveries.
	wakeFeed func()
}

// New returns the service over client, sealing secrets with box.
func New(client *ent.Client, box *secret.Box, o Options) *Service {
	s := &Service{client: client, box: box, insecure: o.AllowInsecure, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}
