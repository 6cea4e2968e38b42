// Package callhours decides when a Zalo OA takes voice calls: weekly
// windows of local time, each on a set of weekdays (a lunch break is two
// windows, a short Saturday its own), closed dates such as Tết, all read in
// one IANA time zone.
//
// Parse checks settings as an admin typed them and names the field at
// fault; Hours.Open answers for an instant. The package knows nothing of
// the database: the call settings store what Parse accepted.
package callhours

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent/schema/schematype"
)

// DefaultZone is the zone of settings that name none: Vietnam's.
const DefaultZone = "Asia/Ho_Chi_Minh"

// dateLayout is the form of a closed date.
const dateLayout = "2006-01-02"

// maxWindows and maxClosedDates bound what one OA's settings hold; a
// helpdesk needs a handful of windows and a few years of holidays.
const (
	maxWindows     = 50
	maxClosedDates = 1000
)

// FieldError is a setting Parse refused. Field is its path from the
// settings' root, as clients name input fields: "timezone",
// "windows[1].end", "closedDates[0]".
type FieldError struct {
	Field   string
	Message string
}

// Error returns the field and why it was refused.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Hours are parsed call settings. The zero value is never open.
type Hours struct {
	zone    *time.Location
	windows []window
	closed  map[string]bool
}

// window is a CallWindow in minutes after local midnight, [start, end).
type window struct {
	days       [7]bool // by time.Weekday
	start, end int
}

// weekdays maps the settings' names to Go's.
var weekdays = map[schematype.Weekday]time.Weekday{
	schematype.Monday: time.Monday, schematype.Tuesday: time.Tuesday, schematype.Wednesday: time.Wednesday,
	schematype.Thursday: time.Thursday, schematype.Friday: time.Friday, schematype.Saturday: time.Saturday,
	schematype.Sunday: time.Sunday,
}

// Parse checks a time zone ("" means DefaultZone), windows and closed
// dates. Each window needs at least one known weekday and "HH:MM" times
// with end after start ("24:00" ends at midnight); a closed date is
// "YYYY-MM-DD". The first fault found is returned as a *FieldError.
func Parse(zone string, windows []schematype.CallWindow, closedDates []string) (Hours, error) {
	if zone == "" {
		zone = DefaultZone
	}
	// time.LoadLocation also accepts "Local" and a file path's shape; a
	// setting names a zone of the IANA database.
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" || strings.HasPrefix(zone, "/") || strings.Contains(zone, "..") {
		return Hours{}, &FieldError{"timezone", fmt.Sprintf("%q is not an IANA time zone, such as %s", zone, DefaultZone)}
	}
	if len(windows) > maxWindows {
		return Hours{}, &FieldError{"windows", fmt.Sprintf("at most %d windows", maxWindows)}
	}
	if len(closedDates) > maxClosedDates {
		return Hours{}, &FieldError{"closedDates", fmt.Sprintf("at most %d closed dates", maxClosedDates)}
	}
	h := Hours{zone: loc, closed: make(map[string]bool, len(closedDates))}
	for i, w := range windows {
		at := func(f string) string { return fmt.Sprintf("windows[%d]%s", i, f) }
		var pw window
		if len(w.Weekdays) == 0 {
			return Hours{}, &FieldError{at(".weekdays"), "name at least one weekday"}
		}
		for j, d := range w.Weekdays {
			wd, ok := weekdays[d]
			if !ok {
				return Hours{}, &FieldError{at(fmt.Sprintf(".weekdays[%d]", j)), fmt.Sprintf("%q is not a weekday (MON to SUN)", d)}
			}
			pw.days[wd] = true
		}
		if pw.start, err = clock(w.Start, false); err != nil {
			return Hours{}, &FieldError{at(".start"), err.Error()}
		}
		if pw.end, err = clock(w.End, true); err != nil {
			return Hours{}, &FieldError{at(".end"), err.Error()}
		}
		if pw.end <= pw.start {
			return Hours{}, &FieldError{at(".end"), fmt.Sprintf("the window must end after it starts (%s)", w.Start)}
		}
		h.windows = append(h.windows, pw)
	}
	for i, d := range closedDates {
		t, err := time.Parse(dateLayout, d)
		if err != nil || t.Format(dateLayout) != d {
			return Hours{}, &FieldError{fmt.Sprintf("closedDates[%d]", i), fmt.Sprintf("%q is not a date in the form 2027-01-28", d)}
		}
		h.closed[d] = true
	}
	return h, nil
}

// clock parses "HH:MM" into minutes after midnight; "24:00" only when
// endOfDay.
func clock(s string, endOfDay bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not a time in the form 08:00", s)
	}
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	switch {
	case errH != nil || errM != nil || h < 0 || m < 0 || m > 59:
		return 0, fmt.Errorf("%q is not a time in the form 08:00", s)
	case h == 24 && m == 0 && endOfDay:
		return 24 * 60, nil
	case h > 23:
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59)", s)
	}
	return h*60 + m, nil
}

// Zone returns the time zone the hours are read in.
func (h Hours) Zone() *time.Location { return h.zone }

// Open reports whether t falls in a window, on a day that is not closed,
// in the hours' zone.
func (h Hours) Open(t time.Time) bool {
	if h.zone == nil {
		return false
	}
	local := t.In(h.zone)
	if h.closed[local.Format(dateLayout)] {
		return false
	}
	minute := local.Hour()*60 + local.Minute()
	return slices.ContainsFunc(h.windows, func(w window) bool {
		return w.days[local.Weekday()] && w.start <= minute && minute < w.end
	})
}
