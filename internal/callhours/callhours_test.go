package callhours

import (
	"errors"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/schema/schematype"
)

func days(d ...schematype.Weekday) []schematype.Weekday { return d }

// helpdesk is a weekday schedule with a lunch break, a short Saturday and
// Tết closed.
var helpdesk = []schematype.CallWindow{
	{Weekdays: days("MON", "TUE", "WED", "THU", "FRI"), Start: "08:00", End: "12:00"},
	{Weekdays: days("MON", "TUE", "WED", "THU", "FRI"), Start: "13:30", End: "17:30"},
	{Weekdays: days("SAT"), Start: "08:00", End: "11:00"},
}

func TestOpen(t *testing.T) {
	h, err := Parse("", helpdesk, []string{"2027-02-08"})
	if err != nil {
		t.Fatal(err)
	}
	vn := time.FixedZone("ICT", 7*3600)
	for _, tc := range []struct {
		name string
		at   time.Time
		open bool
	}{
		{"MondayMorning", time.Date(2027, 2, 1, 8, 0, 0, 0, vn), true},
		{"BeforeOpening", time.Date(2027, 2, 1, 7, 59, 59, 0, vn), false},
		{"LunchBreak", time.Date(2027, 2, 1, 12, 0, 0, 0, vn), false},
		{"Afternoon", time.Date(2027, 2, 1, 17, 29, 0, 0, vn), true},
		{"Closing", time.Date(2027, 2, 1, 17, 30, 0, 0, vn), false},
		{"ShortSaturday", time.Date(2027, 2, 6, 10, 0, 0, 0, vn), true},
		{"SaturdayAfternoon", time.Date(2027, 2, 6, 14, 0, 0, 0, vn), false},
		{"Sunday", time.Date(2027, 2, 7, 10, 0, 0, 0, vn), false},
		{"ClosedDate", time.Date(2027, 2, 8, 10, 0, 0, 0, vn), false},
		// 02:00 UTC is 09:00 in Vietnam: the zone, not UTC, decides.
		{"ReadInTheZone", time.Date(2027, 2, 1, 2, 0, 0, 0, time.UTC), true},
		// 23:30 UTC on Sunday is 06:30 Monday in Vietnam.
		{"DayInTheZone", time.Date(2027, 1, 31, 23, 30, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.Open(tc.at); got != tc.open {
				t.Fatalf("Open(%s) = %v, want %v", tc.at, got, tc.open)
			}
		})
	}
	t.Run("OtherZone", func(t *testing.T) {
		tokyo, err := Parse("Asia/Tokyo", helpdesk, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 08:30 in Vietnam is 10:30 in Tokyo: open there too; 16:00 in
		// Vietnam is 18:00 in Tokyo: closed.
		if !tokyo.Open(time.Date(2027, 2, 1, 8, 30, 0, 0, vn)) || tokyo.Open(time.Date(2027, 2, 1, 16, 0, 0, 0, vn)) {
			t.Fatal("windows not read in Asia/Tokyo")
		}
	})
	t.Run("UntilMidnight", func(t *testing.T) {
		late, err := Parse("", []schematype.CallWindow{{Weekdays: days("SUN"), Start: "20:00", End: "24:00"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !late.Open(time.Date(2027, 2, 7, 23, 59, 0, 0, vn)) || late.Open(time.Date(2027, 2, 8, 0, 0, 0, 0, vn)) {
			t.Fatal("24:00 does not end the day")
		}
	})
	t.Run("NoWindows", func(t *testing.T) {
		none, err := Parse("", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if none.Open(time.Date(2027, 2, 1, 10, 0, 0, 0, vn)) || (Hours{}).Open(time.Now()) {
			t.Fatal("hours without windows are open")
		}
	})
}

func TestParseRefuses(t *testing.T) {
	w := func(start, end string, d ...schematype.Weekday) schematype.CallWindow {
		if len(d) == 0 {
			d = days("MON")
		}
		return schematype.CallWindow{Weekdays: d, Start: start, End: end}
	}
	ok := w("08:00", "17:00")
	for _, tc := range []struct {
		name    string
		zone    string
		windows []schematype.CallWindow
		closed  []string
		field   string
	}{
		{"UnknownZone", "Asia/Saigon_Typo", nil, nil, "timezone"},
		{"LocalZone", "Local", nil, nil, "timezone"},
		{"PathZone", "../../etc/passwd", nil, nil, "timezone"},
		{"EndBeforeStart", "", []schematype.CallWindow{ok, w("17:00", "08:00")}, nil, "windows[1].end"},
		{"EmptyWindow", "", []schematype.CallWindow{w("08:00", "08:00")}, nil, "windows[0].end"},
		{"BadStart", "", []schematype.CallWindow{w("8:00", "17:00")}, nil, "windows[0].start"},
		{"HourOutOfRange", "", []schematype.CallWindow{w("08:00", "25:00")}, nil, "windows[0].end"},
		{"MinuteOutOfRange", "", []schematype.CallWindow{w("08:60", "17:00")}, nil, "windows[0].start"},
		{"StartAtMidnightEnd", "", []schematype.CallWindow{w("24:00", "24:00")}, nil, "windows[0].start"},
		{"NotATime", "", []schematype.CallWindow{w("noon", "17:00")}, nil, "windows[0].start"},
		{"NoWeekdays", "", []schematype.CallWindow{{Start: "08:00", End: "17:00"}}, nil, "windows[0].weekdays"},
		{"UnknownWeekday", "", []schematype.CallWindow{w("08:00", "17:00", "MON", "FUNDAY")}, nil, "windows[0].weekdays[1]"},
		{"BadDate", "", []schematype.CallWindow{ok}, []string{"2027-01-28", "2027-02-30"}, "closedDates[1]"},
		{"DateShape", "", nil, []string{"28/01/2027"}, "closedDates[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.zone, tc.windows, tc.closed)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Parse = %v, want a refusal of %s", err, tc.field)
			}
		})
	}
}
