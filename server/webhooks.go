package main

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/zalo"
)

// maxWebhookBytes bounds a webhook body. Provider events are a few
// kilobytes; a Messenger batch stays far below this.
const maxWebhookBytes = 1 << 20

// webhookRoutes mounts the provider webhooks. They answer as soon as the
// event is stored; a worker processes it afterwards (startWebhookWorker).
func (a *App) webhookRoutes(mux *http.ServeMux) {
	in := a.intake
	mux.Handle("POST /webhooks/zalo", a.metrics.Instrument("webhook_zalo",
		receiveWebhook("zalo", zalo.SignatureHeader, in.ReceiveZalo)))
	mux.Handle("POST /webhooks/facebook", a.metrics.Instrument("webhook_facebook",
		receiveWebhook("facebook", facebook.SignatureHeader, in.ReceiveFacebook)))
	mux.Handle("GET /webhooks/facebook", a.metrics.Instrument("webhook_facebook",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			challenge, err := in.VerifyFacebookSubscription(r.Context(), r.URL.Query())
			switch {
			case errors.Is(err, inbox.ErrWebhookUnauthenticated):
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			case err != nil:
				requestlog.FromContext(r.Context()).Error("facebook subscription check failed", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			// The challenge is the caller's text echoed back: plain text
			// that no browser may sniff into HTML.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			_, _ = io.WriteString(w, challenge)
		})))
}

// receiveWebhook is the handler of a provider's webhook POST: it reads the
// bounded body and hands it, with the signature header, to receive.
// Anything wrong with the request is a 4xx, so that a provider never
// retries garbage; only our own failure (the database) is a 5xx, which the
// provider retries.
func receiveWebhook(provider, signatureHeader string, receive func(context.Context, string, []byte) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := requestlog.FromContext(r.Context())
		if !jsonContent(r.Header.Get("Content-Type")) {
			http.Error(w, "the body must be JSON", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		// Errors name what is wrong, never the body or a secret.
		switch err := receive(r.Context(), r.Header.Get(signatureHeader), body); {
		case errors.Is(err, inbox.ErrWebhookInvalid):
			log.Info("webhook refused", "provider", provider, "err", err)
			http.Error(w, "invalid event", http.StatusBadRequest)
		case errors.Is(err, inbox.ErrWebhookUnauthenticated):
			log.Warn("webhook refused", "provider", provider, "err", err)
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
		case err != nil:
			log.Error("webhook not stored", "provider", provider, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}
	})
}

// jsonContent reports whether a Content-Type names JSON; a missing one is
// accepted, since the body is parsed as JSON anyway.
func jsonContent(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// startWebhookWorker runs the webhook processor until ctx ends; Stop waits
// for it.
func (a *App) startWebhookWorker(ctx context.Context) {
	in := a.intake
	a.workers.wg.Add(1)
	go func() {
		defer a.workers.wg.Done()
		in.Run(ctx)
	}()
}
