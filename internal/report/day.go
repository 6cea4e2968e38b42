package report

import (
	"time"

	"entgo.io/ent/dialect"
)

// LocalDay is the SQL expression of the local date in Zone of the time
// column col, "2026-12-03", in dialect d (dialect.SQLite or
// dialect.Postgres). Every report that groups by day uses it, so a day
// means the same span in all of them.
func LocalDay(d, col string) string {
	if d == dialect.Postgres {
		return "to_char(" + col + " AT TIME ZONE '" + Zone + "', 'YYYY-MM-DD')"
	}
	return "date(" + col + ", '+7 hours')"
}

// Location is Zone as a *time.Location, for Go code whose days and months
// are Vietnam's (call minutes' months, internal/callminutes).
var Location = func() *time.Location {
	loc, err := time.LoadLocation(Zone)
	if err != nil {
		// Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since
		// 1975, so a missing zone database changes nothing.
		return time.FixedZone(Zone, 7*3600)
	}
	return loc
}()
