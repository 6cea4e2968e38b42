package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"

	_ "github.com/dakenh/dakenh/ent/runtime" // ent hooks and privacy policies
	"github.com/dakenh/dakenh/graph"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/automessage"
	"github.com/dakenh/dakenh/internal/call"
	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/connect"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/distribute"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/gqlhttp"
	"github.com/dakenh/dakenh/internal/gqllimit"
	"github.com/dakenh/dakenh/internal/gqlws"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/livecall"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/livetalk/widget"
	"github.com/dakenh/dakenh/internal/livetalkcall"
	"github.com/dakenh/dakenh/internal/media"
	"github.com/dakenh/dakenh/internal/metrics"
	"github.com/dakenh/dakenh/internal/oamessage"
	"github.com/dakenh/dakenh/internal/partner"
	"github.com/dakenh/dakenh/internal/playground"
	"github.com/dakenh/dakenh/internal/presence"
	"github.com/dakenh/dakenh/internal/report"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zns"
)

// App is one dakenh server: its database, services and HTTP handler.
type App struct {
	cfg     Config
	logger  *slog.Logger
	db      *database.DB
	auth    *auth.Service
	inbox   *inbox.Service
	metrics *metrics.Metrics
	handler http.Handler
	// playground serves GraphiQL and its files from the binary.
	playground http.Handler
	// box seals credentials; while it has a previous key, a worker moves
	// what that key sealed onto the current one.
	box     *secret.Box
	workers workers
	bus     event.Bus
	// intake stores provider webhooks and processes them; the routes and
	// the worker share it.
	intake *inbox.Inbound
	// timers runs the durable timers due on this replica; the features
	// that schedule timers register their handlers on it.
	timers *timer.Worker
	ws     wsTimings
	// subscriptions is the WebSocket transport of the subscriptions.
	subscriptions *gqlws.Transport
	// streamBuffer is graph.Resolver.StreamBuffer.
	streamBuffer int
	// distribute hands conversations to agents; presence counts this
	// replica's subscription sockets so that users who left go OFFLINE.
	distribute *distribute.Engine
	presence   *presence.Tracker
	// calls runs voice calls; its timers run on timers.
	calls *call.Service
	// liveCalls runs LiveTalk calls, charging minutes; its ring timers
	// run on timers.
	liveCalls *livecall.Engine
	minutes   *callminutes.Service
	// visitorCalls is the visitor's side of LiveTalk calls.
	visitorCalls *livetalkcall.Service
	// partners runs partner webhooks: the endpoints; deliveries feeds and
	// sends their events, rendered by webhooks.
	partners   *partner.Service
	deliveries *partner.Deliveries
	webhooks   webhookRenderer
	// connect runs the OAuth consent flows that connect channels.
	connect *connect.Service
	// zns sends ZNS messages and keeps the OAs' templates in step.
	zns *zns.Service
	// livetalk runs LiveTalk channels and the visitor API.
	livetalk *livetalk.Service
	// media uploads and serves the images and sounds of the settings.
	media *media.Service
	// now is the clock of timers, distribution and presence.
	now func() time.Time
	// maxResponseBytes bounds one operation's response (appOptions).
	maxResponseBytes int
	// extensions are appOptions.extensions.
	extensions []graphql.HandlerExtension
}

// appOptions lets tests tune what production leaves at defaults.
type appOptions struct {
	auth auth.Options
	db   *database.DB // an already open database, e.g. a test's
	// inbox overrides the inbox's clock and download client; its
	// provider clients come from the configuration unless set here.
	inbox inbox.Options
	// now is the clock of timers, distribution and presence; nil means
	// time.Now.
	now func() time.Time
	// ws overrides the WebSocket timings.
	ws wsTimings
	// streamBuffer overrides the subscriptions' slow-consumer threshold.
	streamBuffer int
	// maxResponseBytes overrides maxResponseBytes.
	maxResponseBytes int
	// webhookPoll overrides how often partner webhooks look for work.
	webhookPoll time.Duration
	// extensions are added to the GraphQL handler after its own, so that
	// tests can observe or hold up fields.
	extensions []graphql.HandlerExtension
	// livetalk overrides the visitor API's rate limits and token life;
	// its clock is now's.
	livetalk livetalk.Options
}

// newApp opens the database (migrating it) and builds the HTTP handler.
func newApp(ctx context.Context, cfg Config, logger *slog.Logger, opts ...func(*appOptions)) (*App, error) {
	var o appOptions
	for _, f := range opts {
		f(&o)
	}
	db := o.db
	if db == nil {
		var err error
		db, err = database.Open(ctx, database.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("opening database: %w", err)
		}
	}
	tenancy.Guard(db.Client)
	crm.Register(db.Client)
	if err := inbox.BackfillLastMessages(ctx, db.Client); err != nil {
		return nil, fmt.Errorf("conversations' last messages: %w", err)
	}
	if err := report.Backfill(ctx, db.Client); err != nil {
		return nil, err
	}
	box, err := secret.New(cfg.Secret, cfg.PreviousSecrets...)
	if err != nil {
		return nil, err
	}
	if err := keyring.Check(ctx, db, box, sealedColumns()); err != nil {
		return nil, err
	}
	bus, err := newBus(ctx, db, logger)
	if err != nil {
		return nil, err
	}
	if o.now == nil {
		o.now = time.Now
	}
	// Logouts, revocations and role changes reach the other replicas'
	// session caches through the bus.
	o.auth.Bus = bus
	router := distribute.New(db.Client, distribute.Options{Now: o.now, Logger: logger})
	o.inbox.Router = router
	a := &App{
		bus:        bus,
		cfg:        cfg,
		logger:     logger,
		db:         db,
		box:        box,
		auth:       auth.New(db.Client, o.auth),
		inbox:      inbox.New(db.Client, box, inboxOptions(cfg, logger, o.inbox)),
		metrics:    metrics.New(),
		ws:         o.ws.orDefault(),
		distribute: router,
		presence:   presence.NewTracker(),
		now:        o.now,

		streamBuffer:     o.streamBuffer,
		maxResponseBytes: cmp.Or(o.maxResponseBytes, maxResponseBytes),
		extensions:       o.extensions,
	}
	a.timers = timer.NewWorker(db.Client, logger, o.now)
	router.Register(a.timers)
	// Auto-messages react inside the inbox's transactions and send what
	// comes due from the timers.
	autoMessages := automessage.New(a.inbox, automessage.Options{Now: o.now, Logger: logger})
	a.inbox.Automate(autoMessages)
	autoMessages.Register(a.timers)
	// Voice calls: tokens come from the inbox, which also hands them the
	// call permission webhooks.
	a.calls = call.New(db.Client, call.Options{
		Zalo:   zalo.New(zalo.Config{OpenAPIURL: cfg.ZaloOpenAPIURL, Now: o.now}),
		Tokens: a.inbox,
		Now:    o.now,
		Logger: logger,
	})
	a.calls.Register(a.timers)
	a.minutes = callminutes.New(db.Client, callminutes.Options{DefaultQuota: cfg.CallMinutesQuota, Now: o.now})
	a.liveCalls = livecall.New(db.Client, livecall.Options{Config: cfg.LiveCalls, Minutes: a.minutes, Now: o.now, Logger: logger})
	a.liveCalls.Register(a.timers)
	a.partners = partner.New(db.Client, box, partner.Options{AllowInsecure: cfg.AllowInsecureWebhooks, Now: o.now})
	a.inbox.HandleCalls(a.calls)
	// ZNS: tokens from the inbox too, which hands it the ZNS webhooks.
	a.zns = zns.New(db.Client, zns.Options{
		Zalo:   zalo.New(zalo.Config{OpenAPIURL: cfg.ZaloOpenAPIURL, ZNSURL: cfg.ZNSAPIURL, Now: o.now}),
		Tokens: a.inbox,
		Now:    o.now,
		Logger: logger,
	})
	a.zns.Register(a.timers)
	a.inbox.HandleZNS(a.zns)
	a.intake = inbox.NewInbound(a.inbox, inbox.InboundConfig{
		Zalo:                zalo.New(zalo.Config{OpenAPIURL: cfg.ZaloOpenAPIURL}),
		Logger:              logger,
		FacebookVerifyToken: cfg.OAuth.FacebookVerifyToken,
	})
	if a.connect, err = connect.New(connect.Config{
		Client: db.Client, Box: box, Inbox: a.inbox,
		Zalo: zalo.New(zalo.Config{OpenAPIURL: cfg.ZaloOpenAPIURL, OAuthURL: cfg.ZaloOAuthURL, Now: o.now}),
		App: connect.ZaloApp{
			AppID: cfg.OAuth.ZaloAppID, AppSecret: cfg.OAuth.ZaloAppSecret, WebhookSecret: cfg.OAuth.ZaloWebhookSecret,
		},
		Facebook: facebook.New(facebook.Config{GraphURL: cfg.FacebookGraphURL}),
		FacebookApp: connect.FacebookApp{
			AppID: cfg.OAuth.FacebookAppID, AppSecret: cfg.OAuth.FacebookAppSecret, VerifyToken: cfg.OAuth.FacebookVerifyToken,
		},
		AppURL: cfg.OAuth.AppURL, Now: o.now, Logger: logger,
	}); err != nil {
		return nil, err
	}
	a.connect.Register(a.timers)
	o.livetalk.Now = o.now
	a.livetalk = livetalk.New(db.Client, a.inbox, bus, o.livetalk)
	// Visitors call from their chat: the widget's settings decide the
	// kinds, and the calls' events reach the visitor's stream.
	a.visitorCalls = livetalkcall.New(db.Client, a.liveCalls, a.minutes)
	a.visitorCalls.Register(a.livetalk)
	a.media = media.New(db.Client, mediaStore(cfg, db), logger)
	if a.playground, err = playground.Handler("/graphql"); err != nil {
		return nil, err
	}
	a.handler = a.routes()
	a.deliveries = partner.NewDeliveries(a.partners, partner.DeliveryConfig{
		Render: a.webhooks.render, Metrics: a.metrics, Logger: logger, Poll: o.webhookPoll, Bus: bus,
	})
	return a, nil
}

// mediaStore keeps uploads in the database unless DAKENH_MEDIA_DIR names
// a directory the replicas share.
func mediaStore(cfg Config, db *database.DB) media.Store {
	if cfg.MediaDir != "" {
		return media.DirStore{Dir: cfg.MediaDir}
	}
	return media.DBStore{Client: db.Client}
}

// sealedColumns are every column sealed under the server secret.
func sealedColumns() []keyring.Column {
	return append(inbox.SealedColumns(), partner.SealedColumns()...)
}

// inboxOptions points the inbox's provider clients at the configured base
// URLs, keeping whatever the test options already set.
func inboxOptions(cfg Config, logger *slog.Logger, o inbox.Options) inbox.Options {
	if o.Zalo == nil {
		o.Zalo = zalo.New(zalo.Config{
			OpenAPIURL: cfg.ZaloOpenAPIURL, OAuthURL: cfg.ZaloOAuthURL, ZNSURL: cfg.ZNSAPIURL,
			TemplateMessagePath: cfg.ZaloTemplateMessagePath, Now: o.Now,
		})
	}
	if o.Facebook == nil {
		o.Facebook = facebook.New(facebook.Config{GraphURL: cfg.FacebookGraphURL})
	}
	if o.Logger == nil {
		o.Logger = logger
	}
	return o
}

// Handler returns the server's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler returns the handler of the metrics address
// (DAKENH_METRICS_ADDR): /metrics and nothing else.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	return mux
}

// Close releases the database.
func (a *App) Close() error {
	return errors.Join(a.bus.Close(), a.db.Close())
}

// newBus returns the event bus: PostgreSQL's LISTEN/NOTIFY, so events reach
// subscribers on every replica, or an in-process bus for the embedded
// database, which has one process.
func newBus(ctx context.Context, db *database.DB, logger *slog.Logger) (event.Bus, error) {
	if db.Dialect == dialect.Postgres {
		return event.NewPostgresBus(ctx, db.URL, logger)
	}
	return event.NewMemoryBus(), nil
}

// withBus puts the event bus in every request's context, so changes made
// while serving it announce their events after commit.
func (a *App) withBus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(event.WithBus(r.Context(), a.bus)))
	})
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	gql := captureWebSocket(a.auth.Middleware(limitBody(a.graphqlHandler(), a.cfg.MaxBodyBytes)), a.ws.init, a.allowedOrigin)
	mux.Handle("/graphql", a.metrics.Instrument("graphql", gql))
	mux.Handle("GET /customers.csv", a.metrics.Instrument("export", a.auth.Middleware(http.HandlerFunc(a.exportCustomers))))
	mux.Handle("GET /{$}", a.metrics.Instrument("playground", a.playground))
	mux.Handle("GET "+playground.AssetsPath, a.metrics.Instrument("playground", a.playground))
	mux.Handle("GET /healthz", a.metrics.Instrument("healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})))
	mux.Handle("GET /readyz", a.metrics.Instrument("readyz", http.HandlerFunc(a.ready)))
	if a.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", a.metrics.Handler())
	}
	a.webhookRoutes(mux)
	mux.Handle("GET /oauth/zalo/callback", a.metrics.Instrument("oauth", a.connect.ZaloCallback()))
	mux.Handle("POST /media", a.metrics.Instrument("media", a.auth.Middleware(a.media.UploadHandler())))
	mux.Handle("GET "+media.PathPrefix+"{sha256}", a.metrics.Instrument("media", a.media.ServeHandler()))

	c := cors.New(cors.Options{
		AllowedOrigins: a.cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID"},
		MaxAge:         600,
	})
	// The visitor API answers the origins of LiveTalk channels, not the
	// staff API's CORS list (livetalk.go).
	top := http.NewServeMux()
	// The widget's script loads on any page; the visitor API it talks to
	// checks the page's origin.
	top.Handle(widget.Path, widget.Handler())
	top.Handle("/livetalk/", a.withBus(a.livetalkRoutes()))
	top.Handle("/", c.Handler(a.withBus(mux)))
	return requestlog.Middleware(a.logger)(top)
}

// limitBody answers 413 for a body declared too large and caps the bytes
// read from one that is not declared, so no request can exhaust memory.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = fmt.Fprintf(w, `{"errors":[{"message":"request body exceeds %d bytes","extensions":{"code":"BAD_USER_INPUT"}}]}`+"\n", max)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		requestlog.FromContext(ctx).Warn("database not ready", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (a *App) graphqlHandler() http.Handler {
	es := graph.NewSchema(&graph.Resolver{
		Client:     a.db.Client,
		Auth:       a.auth,
		Accounts:   account.New(a.db.Client, a.auth, a.cfg.AllowSignUp),
		Inbox:      a.inbox,
		Distribute: a.distribute,
		Calls:      a.calls,
		LiveCalls:  a.liveCalls,
		Minutes:    a.minutes,
		Partners:   a.partners,
		Reports:    report.New(a.db.Client, a.db.Dialect),
		Connect:    a.connect,
		ZNS:        a.zns,
		OAMessages: oamessage.New(a.db.Client, a.inbox, a.now),
		LiveTalk:   a.livetalk,
		PublicURL:  a.cfg.PublicURL,
		Bus:        a.bus,

		StreamBuffer: a.streamBuffer,
	})
	a.webhooks = webhookRenderer{exec: executor.New(es)}
	srv := handler.New(es)
	a.subscriptions = gqlws.New(gqlws.Transport{
		// graphql-ws (legacy) gets "ka" messages; graphql-transport-ws gets
		// ping/pong (see websocket.go). This init timeout is a backstop
		// behind captureWebSocket's, which closes with 4408.
		KeepAliveInterval: wsKeepAliveInterval,
		PingInterval:      a.ws.ping,
		InitTimeout:       2 * a.ws.init,
		InitFunc:          a.websocketInit,
		CloseFunc:         websocketClosed,
		Upgrader: websocket.Upgrader{
			CheckOrigin: a.allowedOrigin,
			// An idle socket holds a small read buffer and no write
			// buffer; events go out as prepared frames.
			ReadBufferSize:  wsReadBuffer,
			WriteBufferSize: wsWriteBuffer,
			WriteBufferPool: &sync.Pool{},
		},
	})
	srv.AddTransport(a.subscriptions)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(gqlhttp.POST{MaxBatch: maxBatch}) // transport.POST, without encoding the response twice
	srv.SetValidationRulesFn(graph.ValidationRules)
	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	var exts []graphql.HandlerExtension
	if a.cfg.Introspection {
		exts = append(exts, extension.Introspection{})
	}
	exts = append(exts,
		gqlhttp.PersistedQueries{AutomaticPersistedQuery: extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)}},
		gqllimit.Document{MaxTokens: maxTokens, MaxFields: maxFields, MaxAliases: maxAliases, MaxSpreads: maxSpreads, Cache: queries},
		&gqllimit.Complexity{Max: maxComplexity, DefaultPage: maxPageSize},
		gqllimit.Depth{Max: maxDepth},
		gqllimit.PageSize{Max: maxPageSize, Default: maxPageSize},
		&gqllimit.Arguments{MaxList: maxListItems, MaxString: maxStringChars, Lists: listBounds, Strings: stringBounds},
		a.metrics.GraphQL(),
		auth.Challenge{},
		// After the metrics, which count the one error of a stopped operation.
		gqllimit.Response{MaxBytes: a.maxResponseBytes, Stopped: a.metrics.OperationStopped},
	)
	exts = append(exts, a.extensions...)
	intercepted := false
	for _, ext := range exts {
		srv.Use(ext)
		_, fields := ext.(graphql.FieldInterceptor)
		intercepted = intercepted || fields
	}
	if !intercepted {
		// No extension watches fields: plain fields resolve without field
		// middleware (the page size check replaces the operation's resolver
		// middleware, and acts only on connection fields).
		srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
			return next(graph.WithPlainFields(ctx))
		})
	}
	srv.SetErrorPresenter(apierr.Presenter(a.logger, graph.ClassifyError))
	srv.SetRecoverFunc(apierr.Recover(a.logger))
	return srv
}

// allowedOrigin applies the CORS origin list to WebSocket upgrades, which
// browsers do not subject to CORS. Clients that send no Origin (servers,
// mobile apps) are not browsers and pass.
func (a *App) allowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || slices.Contains(a.cfg.CORSOrigins, "*") || slices.Contains(a.cfg.CORSOrigins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host // same-origin, e.g. the playground
}
