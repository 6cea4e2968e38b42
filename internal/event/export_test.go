package event

import "github.com/lib/pq"

// SetListenerHook makes b call f on each LISTEN connection change before
// reacting to it. f runs on pq's connection goroutine, so blocking in it
// holds the reconnect back: that is how a test writes events while the
// connection is down.
func SetListenerHook(b *PostgresBus, f func(pq.ListenerEventType)) { b.hook.Store(&f) }

// ParsePayload exposes the NOTIFY envelope decoder to the tests.
var ParsePayload = parsePayload

// ParkedStreams returns how many streams wait in a dispatcher with no
// goroutine of their own.
func ParkedStreams() int64 { return parkedStreams.Load() }
