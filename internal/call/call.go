// Package call is dakenh's voice calls on Zalo Official Accounts (README.md,
// "Voice calls"): each OA's call settings, its operators (at most five),
// customers' call permissions and the call tickets operators place calls
// with.
//
// The rules hold whatever the caller: the settings are validated
// (internal/callhours) before anything is stored; the operator limit is
// counted under a lock on the channel's row, so concurrent adds cannot
// pass it together; permission expiry and unused tickets are durable
// timers (internal/timer), so a restart neither loses nor doubles them;
// and every change appends its CALL event (internal/event) in the
// transaction that makes it.
package call

import (
	"context"
	"log/slog"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/calloperator"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// The product's numbers (README.md, "Voice calls").
const (
	// MaxOperators is how many operators one OA may have.
	MaxOperators = 5
	// TicketLifetime is how long a call ticket (its link and QR code) may
	// be used; an unused one ends its call CANCELLED.
	TicketLifetime = 2 * time.Minute
	// DefaultGrant is how long a granted permission lasts when Zalo gives
	// no expired_time.
	DefaultGrant = 48 * time.Hour
	// PendingFor is how long a customer has to answer a permission
	// request; until then they are not asked again.
	PendingFor = 24 * time.Hour
	// MaxReplyLength bounds the out-of-hours and busy replies, in
	// characters: Zalo's limit for a consultation message.
	MaxReplyLength = 2000
)

// Reasons of the FAILED_PRECONDITION errors of this package, sent as
// extensions.reason.
const (
	ReasonOperatorLimit         = "OPERATOR_LIMIT"
	ReasonUserInactive          = "USER_INACTIVE"
	ReasonCallsDisabled         = "CALLS_DISABLED"
	ReasonChannelDisconnected   = "CHANNEL_DISCONNECTED"
	ReasonNotCallOperator       = "NOT_CALL_OPERATOR"
	ReasonOutsideCallWindow     = "OUTSIDE_CALL_WINDOW"
	ReasonNoCallPermission      = "NO_CALL_PERMISSION"
	ReasonCallPermissionExpired = "CALL_PERMISSION_EXPIRED"
	ReasonPermissionPending     = "PERMISSION_PENDING"
	ReasonDoNotContact          = "DO_NOT_CONTACT"
	// ReasonNoPhone: Zalo asks for call permission by phone number.
	ReasonNoPhone = "NO_PHONE"
	// ReasonNoZaloUser: the customer has never written to the OA, so
	// Zalo knows no user to call.
	ReasonNoZaloUser = "NO_ZALO_USER"
	// ReasonProviderRefused: Zalo refused the request; the message says
	// why.
	ReasonProviderRefused = "PROVIDER_REFUSED"
	// ReasonProviderUnavailable: Zalo could not be reached; try again.
	ReasonProviderUnavailable = "PROVIDER_UNAVAILABLE"
)

// The kinds of this package's durable timers.
const (
	timerPermissionExpiry = "call.permission_expiry"
	timerTicketExpiry     = "call.ticket_expiry"
)

// Options configures New. Zalo and Tokens are required; Now and Logger
// default to the wall clock and a discarding logger.
type Options struct {
	Zalo   *zalo.Client
	Tokens zalo.Tokens
	// Now is the clock of windows, permissions and tickets; tests pass
	// one they move.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs voice calls over one database.
type Service struct {
	client *ent.Client
	zalo   *zalo.Client
	tokens zalo.Tokens
	now    func() time.Time
	log    *slog.Logger
}

// New returns the call service over client.
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
	return &Service{client: client, zalo: o.Zalo, tokens: o.Tokens, now: o.Now, log: o.Logger}
}

// Register gives w the handlers of the permission expiry and ticket expiry
// timers. Call it once at start-up, before w runs.
func (s *Service) Register(w *timer.Worker) {
	w.Handle(timerPermissionExpiry, s.expirePermission)
	w.Handle(timerTicketExpiry, s.expireTicket)
}

// requireAdmin refuses whoever is not an OWNER or ADMIN.
func requireAdmin(ctx context.Context) (*viewer.Viewer, error) {
	return policy.RequireAdmin(ctx, "configure calls")
}

// requireViewer returns the signed-in viewer.
func requireViewer(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	return v, nil
}

// zaloOA loads a channel the viewer may see and checks that it is a Zalo
// OA: another organization's is NOT_FOUND, a Facebook page BAD_USER_INPUT.
func zaloOA(ctx context.Context, c *ent.Client, id gid.ID, field string) (*ent.Channel, error) {
	ch, err := c.Channel.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ch.Kind != channel.KindZALO_OA {
		return nil, apierr.BadInput(field, "voice calls are for Zalo OA channels; this one is a %s", ch.Kind)
	}
	return ch, nil
}

// lockChannel locks the channel's row until tx ends (PostgreSQL; SQLite's
// write transactions already exclude each other), so that what is counted
// or checked per OA stays true until the commit.
func lockChannel(ctx context.Context, tx *ent.Tx, id gid.ID) error {
	q := tx.Channel.Query().Where(channel.ID(id))
	q.Modify(database.LockRows())
	_, err := q.Only(ctx)
	return err
}

// isOperator reports whether the user is an operator of the OA now: on its
// list and active.
func isOperator(ctx context.Context, c *ent.Client, channelID, userID gid.ID) (bool, error) {
	if userID == "" {
		return false, nil
	}
	return c.CallOperator.Query().
		Where(calloperator.ChannelID(channelID), calloperator.UserID(userID),
			calloperator.HasUserWith(user.Active(true))).
		Exist(ctx)
}

// inTx runs f in a transaction of the system of the organization, rolling
// back on error.
func (s *Service) inTx(ctx context.Context, orgID gid.ID, f func(ctx context.Context, tx *ent.Tx) error) error {
	sys := viewer.SystemContext(ctx, orgID)
	tx, err := s.client.Tx(sys)
	if err != nil {
		return err
	}
	if err := f(sys, tx); err != nil {
		_ = tx.Rollback() // f's error says what went wrong
		return err
	}
	return tx.Commit()
}
