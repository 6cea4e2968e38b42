package dbtest

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// Counter counts the SQL statements the ent client sends to the database,
// inside transactions or not. It is safe for concurrent use, since resolvers
// may load edges in parallel.
type Counter struct {
	n atomic.Int64

	mu sync.Mutex
	// queries are the statements counted since the last Reset.
	queries []string
}

// Count returns the number of statements executed since the last Reset.
func (c *Counter) Count() int { return int(c.n.Load()) }

// CountContaining returns how many of the statements executed since the
// last Reset contain s, such as a table's quoted name.
func (c *Counter) CountContaining(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, q := range c.queries {
		if strings.Contains(q, s) {
			n++
		}
	}
	return n
}

// Queries returns the statements executed since the last Reset, in order,
// for a test's failure message.
func (c *Counter) Queries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.queries...)
}

// Reset sets the count to zero, typically after a test's fixtures are
// created and just before the request under test.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.Store(0)
	c.queries = nil
}

// add counts query.
func (c *Counter) add(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.Add(1)
	c.queries = append(c.queries, query)
}

// wrap is the database.Config.WrapDriver hook that installs the counter.
func (c *Counter) wrap(drv dialect.Driver) dialect.Driver {
	return &countingDriver{Driver: drv, c: c}
}

// countingDriver counts Exec and Query calls on an ent driver. Beginning
// and ending a transaction are not counted: they are not the queries an
// N+1 test is about.
type countingDriver struct {
	dialect.Driver
	c *Counter
}

// Exec counts and forwards a statement.
func (d *countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.c.add(query)
	return d.Driver.Exec(ctx, query, args, v)
}

// Query counts and forwards a query.
func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.c.add(query)
	return d.Driver.Query(ctx, query, args, v)
}

// ExecContext counts and forwards the raw statements of ent's ExecContext
// feature, which type-asserts the driver for this method.
func (d *countingDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ex, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("dbtest: driver %T does not support ExecContext", d.Driver)
	}
	d.c.add(query)
	return ex.ExecContext(ctx, query, args...)
}

// QueryContext counts and forwards the raw queries of ent's QueryContext
// feature.
func (d *countingDriver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	q, ok := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("dbtest: driver %T does not support QueryContext", d.Driver)
	}
	d.c.add(query)
	return q.QueryContext(ctx, query, args...)
}

// Tx starts a transaction whose statements are counted too.
func (d *countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, c: d.c}, nil
}

// BeginTx starts a transaction with options; ent's client.BeginTx
// type-asserts the driver for this method.
func (d *countingDriver) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, fmt.Errorf("dbtest: driver %T does not support BeginTx", d.Driver)
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, c: d.c}, nil
}

// countingTx counts the statements of one transaction.
type countingTx struct {
	dialect.Tx
	c *Counter
}

// Exec counts and forwards a statement.
func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.c.add(query)
	return t.Tx.Exec(ctx, query, args, v)
}

// Query counts and forwards a query.
func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.c.add(query)
	return t.Tx.Query(ctx, query, args, v)
}

// ExecContext counts and forwards a raw statement in the transaction.
func (t *countingTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("dbtest: transaction %T does not support ExecContext", t.Tx)
	}
	t.c.add(query)
	return ex.ExecContext(ctx, query, args...)
}

// QueryContext counts and forwards a raw query in the transaction.
func (t *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("dbtest: transaction %T does not support QueryContext", t.Tx)
	}
	t.c.add(query)
	return q.QueryContext(ctx, query, args...)
}
