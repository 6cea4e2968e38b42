package zalo_test

import (
	"net/http"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestOAProfile(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		fake := zalofake.New(t)
		oa := fake.AddOA(zalofake.OA{ID: "oa-1", Name: "Shop Hoa Lan"})
		got, err := newClient(t, fake).OAProfile(t.Context(), oa.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if *got != (zalo.OA{ID: "oa-1", Name: "Shop Hoa Lan"}) {
			t.Errorf("OAProfile = %+v", got)
		}
		if r := lastRequest(t, fake); r.Method != http.MethodGet || r.Path != "/v2.0/oa/getoa" || r.Header.Get("access_token") != oa.AccessToken {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
	})
	t.Run("ErrInvalidToken", func(t *testing.T) {
		fake, _ := newFake(t)
		_, err := newClient(t, fake).OAProfile(t.Context(), "wrong")
		if !zalo.IsTokenInvalid(err) {
			t.Errorf("err = %v, want an invalid token", err)
		}
	})
	t.Run("ErrEmptyToken", func(t *testing.T) {
		fake, _ := newFake(t)
		if _, err := newClient(t, fake).OAProfile(t.Context(), ""); err == nil || len(fake.Requests()) != 0 {
			t.Errorf("err = %v after %d requests, want a refusal before any", err, len(fake.Requests()))
		}
	})
}
