// Package graph is dakenh's GraphQL layer: thin resolvers over the domain
// packages and ent, and the gqlgen executor generated from schema.graphqls
// and entgql's ent.graphqls.
package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/call"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/connect"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/oamessage"
	"github.com/dakenh/dakenh/internal/partner"
	"github.com/dakenh/dakenh/internal/report"
	"github.com/dakenh/dakenh/internal/zns"
)

// Resolver holds what the resolvers call; it is built once at start-up.
type Resolver struct {
	Client   *ent.Client
	Auth     *auth.Service
	Accounts *account.Service
	Inbox    *inbox.Service
	// Distribute runs rules, departments, offers, claims and presence.
	Distribute *distribute.Engine
	// Calls runs voice calls: settings, operators, permissions, tickets.
	Calls *call.Service
	// LiveCalls runs LiveTalk audio and video calls and their signalling.
	LiveCalls *livecall.Engine
	// Minutes keeps the organization's LiveTalk call minutes.
	Minutes *callminutes.Service
	// Partners runs partner webhooks: endpoints, secrets, deliveries.
	Partners *partner.Service
	// Reports computes the dashboard's reports.
	Reports *report.Reporter
	// Connect connects channels by the providers' consent screens.
	Connect *connect.Service
	// ZNS syncs ZNS templates and sends ZNS messages.
	ZNS *zns.Service
	// OAMessages sends OA messages to followers.
	OAMessages *oamessage.Service
	// LiveTalk runs LiveTalk website widget channels.
	LiveTalk *livetalk.Service
	// PublicURL is the server's public base URL, for LiveTalk snippets.
	PublicURL string
	// Bus announces committed events to the subscriptions.
	Bus event.Bus
	// StreamBuffer is each subscription's slow-consumer threshold (see
	// event.Options.Buffer); 0 means event.DefaultBuffer.
	StreamBuffer int

	messages *messageLoader
}

// NewSchema returns the executable schema over the resolver.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	r.messages = newMessageLoader()
	return NewExecutableSchema(Config{Resolvers: r})
}
