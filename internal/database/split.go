package database

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// splitDriver is the embedded database's ent driver: it sends writes and
// read-write transactions to the single writer connection, and plain
// SELECTs and read-only transactions to the reader pool (see openSQLite).
type splitDriver struct {
	writer, reader *entsql.Driver
}

var _ dialect.Driver = (*splitDriver)(nil)

// Exec runs a statement that writes.
func (d *splitDriver) Exec(ctx context.Context, query string, args, v any) error {
	return d.writer.Exec(ctx, query, args, v)
}

// Query runs a query on a reader when it only reads; INSERT … RETURNING
// and the like are writes and go to the writer.
func (d *splitDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.pick(query).Query(ctx, query, args, v)
}

// ExecContext is ent's raw-statement feature, which asserts the driver for
// it; statements run on the writer.
func (d *splitDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.writer.ExecContext(ctx, query, args...)
}

// QueryContext is ent's raw-query feature, routed as Query is.
func (d *splitDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.pick(query).QueryContext(ctx, query, args...)
}

// Tx starts a read-write transaction on the writer: it waits for the
// writer connection in the process, and then holds SQLite's write lock
// from BEGIN IMMEDIATE on.
func (d *splitDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.writer.Tx(ctx)
}

// BeginTx starts a transaction; a read-only one runs on a reader, beside
// the writer.
func (d *splitDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if opts != nil && opts.ReadOnly {
		return d.reader.BeginTx(ctx, opts)
	}
	return d.writer.BeginTx(ctx, opts)
}

// Close closes both pools.
func (d *splitDriver) Close() error {
	return errors.Join(d.writer.Close(), d.reader.Close())
}

// Dialect is SQLite's.
func (d *splitDriver) Dialect() string { return dialect.SQLite }

// pick returns the reader for a statement that can only read.
func (d *splitDriver) pick(query string) *entsql.Driver {
	if readOnly(query) {
		return d.reader
	}
	return d.writer
}

// readOnly reports whether query starts with SELECT (after blanks and
// parentheses). A WITH may precede a write, so it goes to the writer, as
// does anything else; a reader refuses writes, so a mistake here fails
// loudly rather than competing for the write lock.
func readOnly(query string) bool {
	q := strings.TrimLeftFunc(query, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}
