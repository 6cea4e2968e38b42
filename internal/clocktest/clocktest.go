// Package clocktest is a clock that tests move by hand. Services take their
// time from a `func() time.Time`; passing Clock.Now lets a test run leases,
// retries, timeouts and windows without sleeping.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told. It is safe for concurrent
// use, since the services under test read it from their own goroutines.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock showing start. Tests usually pass a whole second in
// UTC: both databases store times exactly at that precision.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
