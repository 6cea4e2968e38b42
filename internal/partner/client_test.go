package partner_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dakenh/dakenh/internal/partner"
)

// receiver is a local partner counting the requests that reach it.
func receiver(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestClientRefusesInternalAddresses: without the development setting no
// POST reaches loopback (by address or by a name resolving to it), the
// cloud metadata address or a private address; nothing is sent.
func TestClientRefusesInternalAddresses(t *testing.T) {
	srv, hits := receiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	c := partner.NewClient(false)
	defer c.Close()
	for _, tc := range []struct{ name, url string }{
		{"Loopback", srv.URL},
		{"NameResolvingToLoopback", "http://localhost:" + port + "/"},
		{"LoopbackIPv6", "http://[::1]:" + port + "/"},
		{"Metadata", "http://169.254.169.254/latest/meta-data/"},
		{"Private", "http://10.0.0.1/hook"},
		{"PrivateClassC", "http://192.168.1.1/hook"},
		{"Unspecified", "http://0.0.0.0:" + port + "/"},
		{"CarrierGradeNAT", "http://100.100.100.200/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post(context.Background(), tc.url, http.Header{}, []byte(`{}`))
			if !errors.Is(r.Err, partner.ErrRefusedAddress) || r.StatusCode != 0 || r.OK() {
				t.Fatalf("got %+v", r)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the receiver", n)
	}
}

// TestClientAnswers: with loopback allowed (development), a 2xx is
// success; a redirect is the answer and is not followed; an answer is
// read up to 64 KiB; the headers given are sent.
func TestClientAnswers(t *testing.T) {
	c := partner.NewClient(true)
	defer c.Close()
	ctx := context.Background()

	t.Run("Accepted", func(t *testing.T) {
		var got http.Header
		srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Clone()
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("ok"))
		})
		r := c.Post(ctx, srv.URL, http.Header{partner.HeaderEvent: {"message.created"}}, []byte(`{}`))
		if !r.OK() || r.StatusCode != http.StatusAccepted || string(r.Body) != "ok" {
			t.Fatalf("got %+v", r)
		}
		if got.Get(partner.HeaderEvent) != "message.created" || got.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", got)
		}
	})
	t.Run("RedirectNotFollowed", func(t *testing.T) {
		target, targetHits := receiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
		srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		})
		r := c.Post(ctx, srv.URL, http.Header{}, []byte(`{}`))
		if r.OK() || r.StatusCode != http.StatusTemporaryRedirect || targetHits.Load() != 0 {
			t.Fatalf("got %+v, target hit %d times", r, targetHits.Load())
		}
	})
	t.Run("ServerError", func(t *testing.T) {
		srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
		if r := c.Post(ctx, srv.URL, http.Header{}, []byte(`{}`)); r.OK() || r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("BodyCapped", func(t *testing.T) {
		srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20))
		})
		r := c.Post(ctx, srv.URL, http.Header{}, []byte(`{}`))
		if !r.OK() || len(r.Body) != partner.MaxResponseBytes {
			t.Fatalf("read %d bytes, want %d (%v)", len(r.Body), partner.MaxResponseBytes, r.Err)
		}
	})
	t.Run("StillRefusesPrivate", func(t *testing.T) {
		u, _ := url.Parse("http://10.0.0.1/")
		if r := c.Post(ctx, u.String(), http.Header{}, nil); !errors.Is(r.Err, partner.ErrRefusedAddress) {
			t.Fatalf("got %+v", r)
		}
	})
}
