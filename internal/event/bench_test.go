package event_test

import (
	"fmt"
	"testing"

	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
)

// BenchmarkFanout measures one Append reaching every stream of an
// organization on a MemoryBus: the commit, the notice, and each stream's
// read of the log and visibility check (cached after the first event).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			db := dbtest.Open(b)
			f := newFixture(b, db.Client)
			bus := event.NewMemoryBus()
			defer bus.Close()
			streams := make([]*event.Stream, n)
			for i := range streams {
				streams[i] = subscribe(b, db.Client, bus, f.user(f.alice), event.Options{Poll: noPoll})
			}
			entry := f.entry(event.TopicMessage, event.TypeCreated, f.sharedConv)
			b.ResetTimer()
			for b.Loop() {
				ev := f.appendTx(b, bus, entry)
				for _, s := range streams {
					if d := receive(b, s, 1)[0]; d.Event.Seq != ev.Seq {
						b.Fatalf("got seq %d, want %d", d.Event.Seq, ev.Seq)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/stream")
		})
	}
}
