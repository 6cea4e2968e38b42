package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/keyring"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// testSecret is the DAKENH_SECRET of newEnv's servers.
const testSecret = "test-secret-test-secret-test-secret"

// withSecret starts a server with its own DAKENH_SECRET and previous ones.
func withSecret(current string, previous ...string) envOption {
	return func(c *Config, _ *appOptions) {
		c.Secret = []byte(current)
		c.PreviousSecrets = nil
		for _, p := range previous {
			c.PreviousSecrets = append(c.PreviousSecrets, []byte(p))
		}
	}
}

// zaloAccepted posts a signed Zalo message to replica e and reports
// whether it answered 200.
func (w *webhookEnv) zaloAccepted(e *env) bool {
	w.t.Helper()
	body, sig := w.zaloEvent(w.userEvent("user_send_text", "u-key", map[string]any{"msg_id": w.msgID("key"), "text": "xin chào"}))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/zalo", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(zalofake.SignatureHeader, sig)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// startReplica starts another server on w's database, as a second replica
// would, and returns newApp's error.
func (w *webhookEnv) startReplica(opts ...envOption) error {
	w.t.Helper()
	cfg := Config{DataDir: w.t.TempDir(), CORSOrigins: []string{"http://localhost:3000"}, MaxBodyBytes: 1 << 20}
	o := appOptions{db: w.db}
	for _, f := range opts {
		f(&cfg, &o)
	}
	app, err := newApp(context.Background(), cfg, w.app.logger, func(ao *appOptions) { *ao = o })
	if err == nil {
		_ = app.bus.Close()
	}
	return err
}

// TestReplicasAgreeOnTheSecret starts replicas on one database: one with
// another secret refuses to start, one with the same secret accepts the
// webhooks the first does.
func TestReplicasAgreeOnTheSecret(t *testing.T) {
	w := newWebhookEnv(t)
	if err := w.startReplica(withSecret("another-secret-another-secret-another")); !errors.Is(err, keyring.ErrWrongKey) {
		t.Fatalf("a replica with another secret started: %v", err)
	}
	same := newEnvOn(t, w.db, w.zaloURLs(), withSecret(testSecret))
	if !w.zaloAccepted(w.env) || !w.zaloAccepted(same) {
		t.Fatal("a replica with the same secret refuses the webhooks")
	}
}

// TestSecretRotation rotates DAKENH_SECRET under a running deployment:
// the new secret with the old one as previous starts and serves, the
// re-seal moves every credential, and then the new secret alone serves
// while the old one is refused.
func TestSecretRotation(t *testing.T) {
	const newSecret = "the-new-secret-the-new-secret-the-new"
	w := newWebhookEnv(t)
	rotating := newEnvOn(t, w.db, w.zaloURLs(), withSecret(newSecret, testSecret))
	if !w.zaloAccepted(rotating) {
		t.Fatal("the rotating replica refuses a webhook sealed under the previous secret")
	}
	if err := rotating.app.reseal(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := newEnvOn(t, w.db, w.zaloURLs(), withSecret(newSecret))
	if !w.zaloAccepted(after) {
		t.Fatal("after the re-seal the new secret alone refuses a webhook")
	}
	for _, id := range []gid.ID{w.oa.ID, w.page.ID} {
		c := w.db.Client.Channel.GetX(viewer.SystemContext(context.Background(), ""), id)
		creds, err := after.app.inbox.Open(c)
		if err != nil || creds.AccessToken == "" || creds.WebhookSecret == "" {
			t.Fatalf("channel %s after the rotation: %+v, %v", id, creds, err)
		}
	}
	if err := w.startReplica(withSecret(testSecret)); !errors.Is(err, keyring.ErrWrongKey) {
		t.Fatalf("after the rotation a replica with the old secret started: %v", err)
	}
}

// zaloURLs points a replica at w's fake providers.
func (w *webhookEnv) zaloURLs() envOption {
	return func(c *Config, _ *appOptions) {
		c.ZaloOpenAPIURL, c.ZaloOAuthURL, c.ZNSAPIURL, c.FacebookGraphURL = w.zfake.URL(), w.zfake.URL(), w.zfake.URL(), w.fbfake.URL()
	}
}
