package gqlws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// tryConn is a socket's connection as the WebSocket library sees it, with
// one addition: while trying, a write never blocks. It writes what the
// kernel takes at once and keeps the rest, which the next ordinary write
// (the socket's writer goroutine, or any frame the library writes) sends
// first. An idle socket's event frame is then written by whoever delivers
// it, as a plain broadcast loop would, and only a socket that does not take
// it at once gets a writer goroutine.
type tryConn struct {
	net.Conn
	// nb writes without blocking; nil where the connection offers no
	// such write (then nothing is ever tried).
	nb func([]byte) (int, error)

	mu sync.Mutex
	// trying says writes must not block.
	trying bool
	// rest is what a write while trying left unwritten.
	rest []byte
}

func newTryConn(c net.Conn) *tryConn {
	return &tryConn{Conn: c, nb: nonBlockingWriter(c)}
}

// canTry reports whether writes can be tried.
func (c *tryConn) canTry() bool { return c.nb != nil }

// Write implements net.Conn.
func (c *tryConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trying {
		if len(c.rest) > 0 {
			c.rest = append(c.rest, b...) // in order, behind what waits
			return len(b), nil
		}
		n, err := c.nb(b)
		if err != nil {
			return n, err
		}
		if n < len(b) {
			c.rest = append([]byte(nil), b[n:]...) // b is the library's buffer
		}
		return len(b), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// try runs write, whose writes must not block, and reports whether some
// of what they wrote is left for a writer.
func (c *tryConn) try(write func() error) (left bool, err error) {
	c.mu.Lock()
	c.trying = true
	c.mu.Unlock()
	err = write()
	c.mu.Lock()
	c.trying = false
	left = len(c.rest) > 0
	c.mu.Unlock()
	return left, err
}

// flush writes what a try left, blocking.
func (c *tryConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *tryConn) flushLocked() error {
	if len(c.rest) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.rest)
	c.rest = nil
	return err
}

// hijacker hands the upgrader a tryConn in place of the hijacked
// connection.
type hijacker struct {
	http.ResponseWriter
	conn *tryConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = newTryConn(c)
	return h.conn, rw, nil
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
