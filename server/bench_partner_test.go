package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/viewer"
)

// BenchmarkPartnerWebhooks measures partner webhook throughput from one
// replica: events appended to the log, then fed, signed, POSTed to a local
// partner answering 200 at once, and recorded, with 1 and 50 endpoints
// choosing every event. It reports deliveries per second and events per
// second (an event counts once all its endpoints have it).
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench PartnerWebhooks -benchtime 1x
func BenchmarkPartnerWebhooks(b *testing.B) {
	for _, tc := range []struct{ endpoints, events int }{{1, 400}, {50, 40}} {
		endpoints, events := tc.endpoints, tc.events
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			h := newHookEnvTB(b)
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusOK)
			}))
			b.Cleanup(srv.Close)
			for range endpoints {
				h.createEndpoint(h.tn.ownerToken, map[string]any{"url": srv.URL, "events": []string{"*"}})
			}
			ctx := event.WithBus(viewer.SystemContext(context.Background(), h.org), h.app.bus)
			b.ResetTimer()
			for range b.N {
				got.Store(0)
				start := time.Now()
				tx, err := h.db.Client.Tx(ctx)
				if err != nil {
					b.Fatal(err)
				}
				entries := make([]event.Entry, events)
				for i := range entries {
					entries[i] = event.Entry{OrgID: h.org, Topic: event.TopicConversation, Type: event.TypeUpdated, ConversationID: h.conv}
				}
				if _, err := event.AppendAll(ctx, tx, entries...); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				want := int64(events * endpoints)
				for deadline := time.Now().Add(10 * patience); got.Load() < want; time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d deliveries", got.Load(), want)
					}
				}
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(want)/secs, "deliveries/s")
				b.ReportMetric(float64(events)/secs, "events/s")
			}
		})
	}
}
