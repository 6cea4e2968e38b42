package report

import "entgo.io/ent/dialect"

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
