package database

import (
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// LockRows returns a query modifier that locks the rows the query reads, on
// PostgreSQL: FOR UPDATE, with opts such as SKIP LOCKED. SQLite has no row
// locks and rejects the clause; its transactions take the write lock at
// BEGIN (sqliteParams), which already excludes every other writer.
func LockRows(opts ...sql.LockOption) func(*sql.Selector) {
	return func(s *sql.Selector) {
		if s.Dialect() == dialect.Postgres {
			s.ForUpdate(opts...)
		}
	}
}
