package zalo_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// testNow is the clock of every test client.
var testNow = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// newFake starts a fake Zalo with one OA, "oa-1".
func newFake(t *testing.T) (*zalofake.Server, zalofake.OA) {
	t.Helper()
	fake := zalofake.New(t)
	return fake, fake.AddOA(zalofake.OA{ID: "oa-1"})
}

// newClient returns a client of the fake with its own connection pool, so
// that no test sees another's connections. opts adjust the Config.
func newClient(t *testing.T, fake *zalofake.Server, opts ...func(*zalo.Config)) *zalo.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := zalo.Config{
		OpenAPIURL: fake.URL(),
		OAuthURL:   fake.URL(),
		HTTPClient: &http.Client{Transport: tr},
		// Generous: only the tests of timeouts set a short one.
		Timeout: time.Minute,
		Now:     func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&cfg)
	}
	return zalo.New(cfg)
}

// lastRequest returns the last request the fake received.
func lastRequest(t *testing.T, fake *zalofake.Server) zalofake.Request {
	t.Helper()
	reqs := fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return reqs[len(reqs)-1]
}

// class names the classification of err, for exact assertions.
func class(err error) string {
	var classes []string
	if zalo.IsTransient(err) {
		classes = append(classes, "transient")
	}
	if zalo.IsTokenInvalid(err) {
		classes = append(classes, "token invalid")
	}
	if zalo.IsPermanent(err) {
		classes = append(classes, "permanent")
	}
	if len(classes) == 0 {
		return "none"
	}
	return strings.Join(classes, "+")
}

// assertNoSecret fails if err's message contains one of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}
