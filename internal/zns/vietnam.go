package zns

// Zalo's clock: promotions' quiet hours and the daily quotas' reset, both
// in Vietnam time.

import (
	"time"

	"github.com/dakenh/dakenh/internal/apierr"
)

const (
	// quietFrom and quietUntil bound the hours, Vietnam time, in which
	// Zalo refuses promotion templates (-133).
	quietFrom, quietUntil = 22, 6
	// tagPromotion is the tag of the templates quiet hours hold.
	tagPromotion = "PROMOTION"
)

// vietnam is the zone of Zalo's quiet hours and daily quota resets.
var vietnam = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return time.FixedZone("ICT", 7*3600) // no DST there
	}
	return loc
}()

// InQuietHours reports whether t is within promotions' quiet hours.
func InQuietHours(t time.Time) bool {
	h := t.In(vietnam).Hour()
	return h >= quietFrom || h < quietUntil
}

// QuietHoursEnd is the first 06:00 in Vietnam at or after t.
func QuietHoursEnd(t time.Time) time.Time {
	l := t.In(vietnam)
	end := time.Date(l.Year(), l.Month(), l.Day(), quietUntil, 0, 0, 0, vietnam)
	if end.Before(l) {
		end = end.AddDate(0, 0, 1)
	}
	return end
}

// quotaDayStart is the midnight in Vietnam at or before t, when the
// daily quotas of t's day started.
func quotaDayStart(t time.Time) time.Time {
	l := t.In(vietnam)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, vietnam)
}

// nextQuotaReset is the next midnight in Vietnam after t, when Zalo's
// daily quotas start over.
func nextQuotaReset(t time.Time) time.Time {
	l := t.In(vietnam)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, vietnam)
}

// CheckQuietHours refuses a template tagged tag at now when Zalo would
// refuse it for the quiet hours, saying when it may go.
func CheckQuietHours(tag string, now time.Time) error {
	if tag != tagPromotion || !InQuietHours(now) {
		return nil
	}
	return apierr.Precondition(ReasonQuietHours, "Zalo does not send promotions between 22:00 and 06:00 Vietnam time; send it from %s",
		QuietHoursEnd(now).Format("15:04 on 2006-01-02 (Asia/Ho_Chi_Minh)"))
}
