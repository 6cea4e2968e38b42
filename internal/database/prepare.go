package database

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/lib/pq"
)

// lib/pq runs a statement with arguments in two round trips: it parses
// and describes it as an unnamed statement, then binds and executes it,
// so PostgreSQL parses and plans every statement of every request anew.
// The pool's connections therefore prepare each statement with arguments
// once and keep it (a named prepared statement), so the next execution is
// one round trip, and PostgreSQL may keep its plan. Statements without
// arguments (migrations, DDL) go through as they are.

// preparedPerConn bounds the statements kept per connection; the least
// recently used is closed when a new one needs the room. ent's queries
// are a few hundred texts (an IN list of each length is its own).
const preparedPerConn = 200

// preparingConnector is a driver.Connector whose connections prepare their
// statements once.
type preparingConnector struct{ *pq.Connector }

func (c preparingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc := &preparingConn{conn: conn.(pqConn)}
	pc.stmts, _ = simplelru.NewLRU(preparedPerConn, func(_ string, st driver.Stmt) { _ = st.Close() }) // only fails for a size ≤ 0
	return pc, nil
}

// pqConn is what lib/pq's connection implements and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// preparingConn is a lib/pq connection with its prepared statements.
// database/sql uses a connection from one goroutine at a time, so the
// cache needs no lock.
type preparingConn struct {
	conn  pqConn
	stmts *simplelru.LRU[string, driver.Stmt]
}

var _ pqConn = (*preparingConn)(nil)

// stmt returns the connection's prepared statement for query, preparing it
// the first time.
func (c *preparingConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts.Get(query); ok {
		return st, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts.Add(query, st)
	return st, nil
}

// QueryContext runs a query with arguments through its prepared statement.
func (c *preparingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.conn.QueryContext(ctx, query, args)
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	return rows, c.planChanged(query, err)
}

// ExecContext runs a statement with arguments through its prepared
// statement.
func (c *preparingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.conn.ExecContext(ctx, query, args)
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, c.planChanged(query, err)
}

// planChanged turns PostgreSQL's refusal to run a prepared statement whose
// tables changed shape (another replica migrated them) into
// driver.ErrBadConn: database/sql then drops this connection, and with it
// every statement prepared against the old shape, and retries a statement
// outside a transaction on a fresh connection, where it is prepared anew.
func (c *preparingConn) planChanged(query string, err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "0A000" && pqErr.Message == "cached plan must not change result type" {
		c.stmts.Remove(query)
		return driver.ErrBadConn
	}
	return err
}

func (c *preparingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

func (c *preparingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}

func (c *preparingConn) Begin() (driver.Tx, error) {
	return c.conn.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *preparingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.BeginTx(ctx, opts)
}

func (c *preparingConn) Ping(ctx context.Context) error { return c.conn.Ping(ctx) }

func (c *preparingConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }

func (c *preparingConn) IsValid() bool { return c.conn.IsValid() }

func (c *preparingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.conn.CheckNamedValue(nv)
}

// Close closes the connection; its prepared statements end with it on the
// server.
func (c *preparingConn) Close() error { return c.conn.Close() }
