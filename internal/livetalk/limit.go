package livetalk

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Rate limits of the visitor API, per replica. A visitor token may send
// VisitorRate messages a second after a burst of VisitorBurst; one network
// address may make AddressRate requests a second (of any kind: widget,
// startChat, messages, WebSocket connections) after AddressBurst.
const (
	DefaultVisitorRate  = 1.0
	DefaultVisitorBurst = 10
	DefaultAddressRate  = 5.0
	DefaultAddressBurst = 60
)

// rateLimitedMessage is the message of a refused request's RATE_LIMITED
// error.
const rateLimitedMessage = "too many requests; slow down and try again in a moment"

// limiterIdle is how long a key's limiter is kept unused; it has refilled
// by then, so forgetting it changes nothing.
const limiterIdle = 10 * time.Minute

// maxLimiters bounds the keys one limiter set remembers; past it the idle
// ones are dropped, and if none is idle all are (an attack with that many
// addresses is beyond a per-replica limiter anyway).
const maxLimiters = 100_000

// limiters is a token bucket per key (a visitor session, an address).
type limiters struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*keyLimiter
}

type keyLimiter struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiters(perSecond float64, burst int, now func() time.Time) *limiters {
	return &limiters{limit: rate.Limit(perSecond), burst: burst, now: now, m: map[string]*keyLimiter{}}
}

// allow takes a token of key's bucket, or returns the RATE_LIMITED error.
func (ls *limiters) allow(key string) error {
	now := ls.now()
	ls.mu.Lock()
	k, ok := ls.m[key]
	if !ok {
		if len(ls.m) >= maxLimiters {
			ls.sweep(now)
		}
		k = &keyLimiter{l: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[key] = k
	}
	k.used = now
	ok = k.l.AllowN(now, 1)
	ls.mu.Unlock()
	if !ok {
		return apierr.New(apierr.RateLimited, rateLimitedMessage)
	}
	return nil
}

// sweep drops idle limiters, or all of them when none is idle; mu is held.
func (ls *limiters) sweep(now time.Time) {
	for key, k := range ls.m {
		if now.Sub(k.used) > limiterIdle {
			delete(ls.m, key)
		}
	}
	if len(ls.m) >= maxLimiters {
		clear(ls.m)
	}
}
