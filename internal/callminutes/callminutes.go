// Package callminutes is the LiveTalk call minutes of an organization
// (README.md, "Call minutes and LiveTalk calls"): a monthly quota from the
// organization's plan, given again on the 1st of each month in
// Asia/Ho_Chi_Minh, and a balance of bonus minutes that carries over from
// month to month until used.
//
// An answered call consumes its duration rounded up to the minute, from the
// month's quota first and then from the bonus balance; what neither covers
// (a call that ran past the last minute) is still charged to the month, so
// the month's usage is what calls really took. Consume runs in the
// transaction that ends the call, under a lock on the organization's row:
// concurrent call ends queue behind each other, and each call is charged
// once because only the transaction that ends it charges it.
package callminutes

import (
	"context"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/callminutemonth"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/report"
	"github.com/dakenh/dakenh/internal/viewer"
)

// ReasonNoCallMinutes is the extensions.reason of the FAILED_PRECONDITION
// that refuses a new call when no minute is left.
const ReasonNoCallMinutes = "NO_CALL_MINUTES"

// MaxGrant bounds one grant of bonus minutes and a plan's quota.
const MaxGrant = 1_000_000

// zone is where months begin: Vietnam, as the reports' days.
var zone = report.Location

// Options configures New.
type Options struct {
	// DefaultQuota is the monthly minutes of an organization whose plan
	// sets none (DAKENH_CALL_MINUTES_QUOTA).
	DefaultQuota int
	// Now is the clock; tests pass one they move.
	Now func() time.Time
}

// Service keeps the call minutes over one database.
type Service struct {
	client       *ent.Client
	defaultQuota int
	now          func() time.Time
}

// New returns the service over client.
func New(client *ent.Client, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{client: client, defaultQuota: max(0, o.DefaultQuota), now: o.Now}
}

// Balance is an organization's minutes in one month (the CallMinutes
// GraphQL type).
type Balance struct {
	// Month is "2026-12".
	Month string
	// QuotaMinutes is the plan's monthly minutes.
	QuotaMinutes int
	// BonusMinutes is the bonus balance left.
	BonusMinutes int
	// UsedMinutes is what the month's calls consumed.
	UsedMinutes int
	// RemainingMinutes is what new calls may still use.
	RemainingMinutes int
	// ResetsAt is the start of the next month.
	ResetsAt time.Time
	// quotaUsed is the part of UsedMinutes charged to the quota.
	quotaUsed int
}

// Month returns the month of t in Vietnam, "2026-12", and when it ends.
func Month(t time.Time) (string, time.Time) {
	l := t.In(zone)
	start := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, zone)
	return start.Format("2006-01"), start.AddDate(0, 1, 0).UTC()
}

// Minutes is what a call of d consumes: d rounded up to the minute.
func Minutes(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Minute - 1) / time.Minute)
}

// Get returns the viewer's organization's minutes this month.
func (s *Service) Get(ctx context.Context) (*Balance, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.OrgID == "" {
		return nil, apierr.NeedCredentials("authentication required")
	}
	return s.balance(viewer.SystemContext(ctx, v.OrgID), s.client, v.OrgID, false)
}

// Available returns the organization's minutes this month, read in tx.
func (s *Service) Available(ctx context.Context, tx *ent.Tx, orgID gid.ID) (*Balance, error) {
	return s.balance(viewer.SystemContext(ctx, orgID), tx.Client(), orgID, false)
}

// RequireMinutes refuses with NO_CALL_MINUTES when the organization has no
// minute left this month.
func (s *Service) RequireMinutes(ctx context.Context, tx *ent.Tx, orgID gid.ID) error {
	b, err := s.Available(ctx, tx, orgID)
	if err != nil {
		return err
	}
	if b.RemainingMinutes <= 0 {
		return apierr.Precondition(ReasonNoCallMinutes, "no call minutes are left this month (%s); they are given again at %s",
			b.Month, b.ResetsAt.In(zone).Format(time.RFC3339))
	}
	return nil
}

// balance reads the organization's minutes of the current month, locking
// its row first when lock is set.
func (s *Service) balance(ctx context.Context, c *ent.Client, orgID gid.ID, lock bool) (*Balance, error) {
	q := c.Organization.Query().Where(organization.ID(orgID))
	if lock {
		q.Modify(database.LockRows())
	}
	org, err := q.Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("callminutes: loading the organization: %w", err)
	}
	month, resets := Month(s.now())
	b := &Balance{Month: month, QuotaMinutes: s.defaultQuota, BonusMinutes: org.CallBonusMinutes, ResetsAt: resets}
	if org.CallMinutesQuota != nil {
		b.QuotaMinutes = *org.CallMinutesQuota
	}
	m, err := c.CallMinuteMonth.Query().
		Where(callminutemonth.OrganizationID(orgID), callminutemonth.Month(month)).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("callminutes: loading %s: %w", month, err)
	default:
		b.quotaUsed = m.QuotaMinutes
		b.UsedMinutes = m.QuotaMinutes + m.BonusMinutes
	}
	b.RemainingMinutes = max(0, b.QuotaMinutes-b.quotaUsed) + b.BonusMinutes
	return b, nil
}

// Consume charges minutes to the organization's current month in tx, the
// transaction that ends the call: from the quota left, then from the bonus
// balance, and the rest to the month anyway. It locks the organization's
// row until tx ends (event appends take the same lock), so concurrent
// charges add up exactly.
func (s *Service) Consume(ctx context.Context, tx *ent.Tx, orgID gid.ID, minutes int) (*Balance, error) {
	if minutes < 0 {
		return nil, fmt.Errorf("callminutes: consuming %d minutes", minutes)
	}
	sys := viewer.SystemContext(ctx, orgID)
	b, err := s.balance(sys, tx.Client(), orgID, true)
	if err != nil || minutes == 0 {
		return b, err
	}
	fromQuota := min(minutes, max(0, b.QuotaMinutes-b.quotaUsed))
	fromBonus := min(minutes-fromQuota, b.BonusMinutes)
	toQuota := minutes - fromBonus // the quota's share and any overrun
	err = tx.CallMinuteMonth.Create().
		SetOrganizationID(orgID).
		SetMonth(b.Month).
		SetQuotaMinutes(toQuota).
		SetBonusMinutes(fromBonus).
		OnConflictColumns(callminutemonth.FieldOrganizationID, callminutemonth.FieldMonth).
		Update(func(u *ent.CallMinuteMonthUpsert) {
			u.AddQuotaMinutes(toQuota)
			u.AddBonusMinutes(fromBonus)
			u.UpdateUpdatedAt()
		}).
		Exec(sys)
	if err != nil {
		return nil, fmt.Errorf("callminutes: charging %d minutes to %s: %w", minutes, b.Month, err)
	}
	if fromBonus > 0 {
		if err := tx.Organization.UpdateOneID(orgID).AddCallBonusMinutes(-fromBonus).Exec(sys); err != nil {
			return nil, fmt.Errorf("callminutes: taking %d bonus minutes: %w", fromBonus, err)
		}
	}
	b.quotaUsed += toQuota
	b.BonusMinutes -= fromBonus
	b.UsedMinutes += minutes
	b.RemainingMinutes = max(0, b.QuotaMinutes-b.quotaUsed) + b.BonusMinutes
	return b, nil
}

// SetPlan sets the organization's monthly minutes (nil: the server's
// default). It is the server operator's (billing, a plan change), so it
// runs as the system: tenants never change their own plan. It is recorded
// in the activity log.
func (s *Service) SetPlan(ctx context.Context, orgID gid.ID, quota *int) (*Balance, error) {
	if quota != nil && (*quota < 0 || *quota > MaxGrant) {
		return nil, apierr.BadInput("quotaMinutes", "the monthly quota must be between 0 and %d minutes", MaxGrant)
	}
	return s.operate(ctx, orgID, func(sys context.Context, tx *ent.Tx) (activity.Entry, error) {
		u := tx.Organization.UpdateOneID(orgID)
		if quota == nil {
			u.ClearCallMinutesQuota()
		} else {
			u.SetCallMinutesQuota(*quota)
		}
		if err := u.Exec(sys); err != nil {
			return activity.Entry{}, err
		}
		return activity.Entry{Action: activity.CallMinutesPlanChanged, SubjectID: orgID,
			Details: map[string]any{"quotaMinutes": quota}}, nil
	})
}

// Grant adds bonus minutes to the organization's balance, such as a
// referral's reward, with a note saying why. Like SetPlan it is the server
// operator's and recorded in the activity log.
func (s *Service) Grant(ctx context.Context, orgID gid.ID, minutes int, note string) (*Balance, error) {
	if minutes < 1 || minutes > MaxGrant {
		return nil, apierr.BadInput("minutes", "a grant is between 1 and %d minutes", MaxGrant)
	}
	if len(note) > 500 {
		return nil, apierr.BadInput("note", "the note is at most 500 bytes")
	}
	return s.operate(ctx, orgID, func(sys context.Context, tx *ent.Tx) (activity.Entry, error) {
		org, err := tx.Organization.UpdateOneID(orgID).AddCallBonusMinutes(minutes).Save(sys)
		if err != nil {
			return activity.Entry{}, err
		}
		return activity.Entry{Action: activity.CallBonusMinutesGranted, SubjectID: orgID,
			Details: map[string]any{"minutes": minutes, "note": note, "balance": org.CallBonusMinutes}}, nil
	})
}

// operate runs an operator's change of orgID's minutes as its system, with
// its activity entry, and returns the balance after it.
func (s *Service) operate(ctx context.Context, orgID gid.ID, change func(context.Context, *ent.Tx) (activity.Entry, error)) (*Balance, error) {
	if v := viewer.FromContext(ctx); v != nil && !v.System {
		return nil, apierr.New(apierr.Forbidden, "call minutes are changed by the server's operator")
	}
	sys := viewer.SystemContext(ctx, orgID)
	tx, err := s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	b, err := func() (*Balance, error) {
		if _, err := s.balance(sys, tx.Client(), orgID, true); err != nil {
			return nil, err
		}
		entry, err := change(sys, tx)
		if err != nil {
			return nil, fmt.Errorf("callminutes: %w", err)
		}
		if err := activity.Record(sys, tx, entry); err != nil {
			return nil, err
		}
		return s.balance(sys, tx.Client(), orgID, false)
	}()
	if err != nil {
		_ = tx.Rollback() // the error says what went wrong
		return nil, err
	}
	return b, tx.Commit()
}
