package event

import (
	"sync"
	"time"
)

// pollers shares the streams' safety polls: every stream with the same
// interval is poked at the same instant with the same ticket, so the
// re-reads of one organization's log join one query. Polling stream by
// stream made 10,000 idle subscribers cost 2,000 queries a second.
var pollers = struct {
	mu sync.Mutex
	m  map[time.Duration]*poller
}{m: make(map[time.Duration]*poller)}

// poller ticks for the streams of one interval; its goroutine runs while it
// has subscribers.
type poller struct {
	interval time.Duration
	// subs are the subscribers' mailboxes, guarded by pollers.mu. Each has
	// capacity 1: a tick not yet taken is replaced by the next, whose
	// ticket is higher and so asks for at least as much.
	subs map[chan uint64]struct{}
}

// subscribePoll returns a channel that receives a ticket every interval,
// and the function that stops it.
func subscribePoll(interval time.Duration) (<-chan uint64, func()) {
	ch := make(chan uint64, 1)
	pollers.mu.Lock()
	p := pollers.m[interval]
	if p == nil {
		p = &poller{interval: interval, subs: make(map[chan uint64]struct{})}
		pollers.m[interval] = p
		go p.run()
	}
	p.subs[ch] = struct{}{}
	pollers.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			pollers.mu.Lock()
			delete(p.subs, ch)
			pollers.mu.Unlock()
		})
	}
}

// run ticks until a tick finds no subscriber left. The channels are never
// closed, since their streams stop reading them when they end; this
// goroutine is the only sender, so emptying a full mailbox makes room for
// its next send.
func (p *poller) run() {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for range t.C {
		pollers.mu.Lock()
		if len(p.subs) == 0 {
			delete(pollers.m, p.interval)
			pollers.mu.Unlock()
			return
		}
		n := ticket()
		for ch := range p.subs {
			select {
			case ch <- n:
			default:
				select {
				case <-ch:
				default:
				}
				ch <- n
			}
		}
		pollers.mu.Unlock()
	}
}
