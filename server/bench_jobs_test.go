package main

// The job engine evaluation: River (github.com/riverqueue/river, the Go
// ecosystem's PostgreSQL job queue) against the hand-written claim loop,
// on the same work: turning stored Zalo webhook events into messages with
// the inbox's own processing (Inbound.ProcessEvent, one transaction per
// event). BENCHMARKS.md ("Job engine") records the figures and the
// decision. PostgreSQL only:
//
//	DAKENH_TEST_DB=postgres go test ./server -run '^$' -bench JobEngines -benchtime 1x -timeout 30m

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// webhookJob is a River job naming one stored webhook event.
type webhookJob struct {
	EventID gid.ID `json:"event_id"`
}

func (webhookJob) Kind() string { return "webhook_event" }

// webhookJobWorker processes a webhook job's event with the inbox's code.
type webhookJobWorker struct {
	river.WorkerDefaults[webhookJob]
	in *inbox.Inbound
}

func (w *webhookJobWorker) Work(ctx context.Context, job *river.Job[webhookJob]) error {
	_, err := w.in.ProcessEvent(ctx, job.Args.EventID)
	return err
}

// BenchmarkJobEngines stores batches of signed Zalo messages through POST
// /webhooks/zalo with no processor running, then processes each batch with
// one engine, alternating: the claim loop (inbox.Inbound.Run, as many as
// replicas would run) or a River client with as many workers, whose jobs
// were inserted beforehand (InsertMany; River's extra cost at intake, one
// job row per event, is reported apart as jobs inserted per second one
// transaction each). It then measures the latency of a single webhook from
// its answer to its message (the distribution engine assigns the
// conversation in that same transaction): the loop, woken in process by
// intake; River over lib/pq, which can only poll (1 s by default, 50 ms
// here at its best); River with a pgx listener, woken by LISTEN/NOTIFY.
func BenchmarkJobEngines(b *testing.B) {
	if dbtest.Dialect() != dialect.Postgres {
		b.Skip("River's drivers here are for PostgreSQL")
	}
	const (
		events  = 2000
		users   = 200
		samples = 60
	)
	zfake := zalofake.New(b)
	zfake.AddOA(zalofake.OA{ID: testOAID, AccessToken: testZaloToken})
	for u := range users {
		zfake.SetUser(fmt.Sprint("u-jobs-", u), zalofake.User{DisplayName: fmt.Sprint("Khách ", u), IsFollower: true})
	}
	db := dbtest.Open(b)
	e := newEnvOn(b, db, func(c *Config, _ *appOptions) {
		c.ZaloOpenAPIURL, c.ZaloOAuthURL, c.FacebookGraphURL = zfake.URL(), zfake.URL(), zfake.URL()
	})
	tn := e.newTenant("Jobs Org")
	e.must(tn.adminToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput(testOAID)}, nil)
	ctx := event.WithBus(context.Background(), e.app.bus)
	sys := viewer.SystemContext(context.Background(), "")
	count := func() int {
		return db.Client.Message.Query().Where(message.DirectionEQ(message.DirectionINBOUND)).CountX(sys)
	}
	newInbound := func() *inbox.Inbound {
		return inbox.NewInbound(e.app.inbox, inbox.InboundConfig{Zalo: zalo.New(zalo.Config{OpenAPIURL: zfake.URL()}), Logger: e.app.logger})
	}
	driver := riverdatabasesql.New(db.SQL)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &webhookJobWorker{in: newInbound()})
	// newRiver returns a River client with maxWorkers workers that polls
	// every poll (0: River's 1 s) and fetches again as soon as 1 ms after
	// a fetch, River's fastest (its default, 100 ms, caps one worker at
	// 10 jobs a second).
	newRiver := func(d *riverdatabasesql.Driver, maxWorkers int, poll time.Duration) *river.Client[*sql.Tx] {
		c, err := river.NewClient(d, &river.Config{
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
			Workers:           workers,
			FetchPollInterval: poll,
			FetchCooldown:     river.FetchCooldownMin,
			Logger:            e.app.logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	post := func(msgID string, i int) {
		body, sig := zfake.SignedEvent(testZaloAppID, testZaloSecret,
			benchZaloText(fmt.Sprint("u-jobs-", i%users), msgID, fmt.Sprint("Cho em hỏi giá sản phẩm số ", i)))
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/zalo", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(zalofake.SignatureHeader, sig)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	// store posts a batch from 8 clients; the events wait unprocessed.
	store := func(batch string) {
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Go(func() {
				for i := c; i < events; i += 8 {
					post(fmt.Sprintf("jobs-%s-%d", batch, i), i)
				}
			})
		}
		wg.Wait()
	}
	await := func(start time.Time, want int) time.Duration {
		for deadline := start.Add(10 * time.Minute); count() < want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d messages after 10 minutes", count(), want)
			}
		}
		return time.Since(start)
	}
	jobsFor := func() []river.InsertManyParams {
		ids := db.Client.WebhookEvent.Query().Where(webhookevent.ProcessedAtIsNil()).IDsX(sys)
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: webhookJob{EventID: id}}
		}
		return params
	}

	for b.Loop() {
		iter := benchInboxIter.Add(1)
		for _, n := range []int{1, 4} {
			// The claim loop: n processors, as n replicas run.
			store(fmt.Sprint(iter, "loop", n))
			before := count()
			lctx, stop := context.WithCancel(ctx)
			var procs sync.WaitGroup
			start := time.Now()
			for range n {
				in := newInbound()
				procs.Go(func() { in.Run(lctx) })
			}
			took := await(start, before+events)
			stop()
			procs.Wait()
			b.ReportMetric(float64(events)/took.Seconds(), fmt.Sprintf("loop-events/s-%d", n))

			// River: n workers over one job per stored event.
			store(fmt.Sprint(iter, "river", n))
			before = count()
			rc := newRiver(driver, n, 0)
			if _, err := rc.InsertMany(ctx, jobsFor()); err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			if err := rc.Start(ctx); err != nil {
				b.Fatal(err)
			}
			took = await(start, before+events)
			if err := rc.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(events)/took.Seconds(), fmt.Sprintf("river-events/s-%d", n))
		}

		// River's cost at intake: one job row per event, each in its own
		// transaction as intake's would be.
		rc := newRiver(driver, 1, 0)
		ids := db.Client.WebhookEvent.Query().Limit(samples * 5).IDsX(sys)
		start := time.Now()
		for _, id := range ids {
			tx, err := db.SQL.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := rc.InsertTx(ctx, tx, webhookJob{EventID: id}, &river.InsertOpts{Queue: "not_worked"}); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(ids))/time.Since(start).Seconds(), "river-job-inserts/s")

		// Latency of one webhook at a time, answer to message. start runs
		// the engine and returns what intake would add after storing the
		// event, and how to stop the engine.
		latency := func(name string, start func() (afterPost func(), stop func())) {
			afterPost, stop := start()
			defer stop()
			lat := make([]time.Duration, 0, samples)
			for i := range samples {
				before := count()
				t0 := time.Now()
				post(fmt.Sprintf("jobs-%d%s-%d", iter, name, i), i)
				afterPost()
				lat = append(lat, await(t0, before+1))
				time.Sleep(20 * time.Millisecond) // between samples: an idle worker, as between real messages
			}
			slices.Sort(lat)
			b.ReportMetric(benchPct(lat, 0.5), name+"-p50-ms")
			b.ReportMetric(benchPct(lat, 0.99), name+"-p99-ms")
		}
		latency("loop", func() (func(), func()) {
			lctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { e.app.intake.Run(lctx) })
			return func() {}, func() { cancel(); wg.Wait() }
		})
		riverLatency := func(name string, d *riverdatabasesql.Driver, poll time.Duration) {
			latency(name, func() (func(), func()) {
				rc := newRiver(d, 4, poll)
				if err := rc.Start(ctx); err != nil {
					b.Fatal(err)
				}
				insert := func() {
					// What intake would insert in its transaction.
					ev := db.Client.WebhookEvent.Query().Where(webhookevent.ProcessedAtIsNil()).OnlyX(sys)
					if _, err := rc.Insert(ctx, webhookJob{EventID: ev.ID}, nil); err != nil {
						b.Fatal(err)
					}
				}
				return insert, func() {
					if err := rc.Stop(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		riverLatency("river-poll-1s", driver, 0)
		riverLatency("river-poll-50ms", driver, 50*time.Millisecond)
		pool, err := pgxpool.New(ctx, db.URL)
		if err != nil {
			b.Fatal(err)
		}
		riverLatency("river-listen", riverdatabasesql.NewWithPgxListener(db.SQL, pool), 0)
		pool.Close()
	}
}
