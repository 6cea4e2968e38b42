package facebook_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
)

func TestFacebookLogin(t *testing.T) {
	fake, client := newFake(t, 0)
	fake.SetApp("app-1", "APP-SECRET-1")
	fake.AddUser("EAA-short-1",
		fbfake.UserPage{ID: "p1", Name: "One", Token: "EAA-page-1", Tasks: fbfake.AdminTasks},
		fbfake.UserPage{ID: "p2", Name: "Two", Token: "EAA-page-2", Tasks: []string{"MODERATE"}},
		fbfake.UserPage{ID: "p3", Name: "Three", Token: "EAA-page-3", Tasks: fbfake.AdminTasks},
	)
	fake.SetPageSize(1)
	ctx := context.Background()

	t.Run("ExchangeAndListAllPages", func(t *testing.T) {
		long, err := client.LongLivedToken(ctx, "app-1", "APP-SECRET-1", "EAA-short-1")
		if err != nil || long.AccessToken != fbfake.LongLivedToken("EAA-short-1") || long.ExpiresIn <= 0 {
			t.Fatalf("LongLivedToken = %+v, %v", long, err)
		}
		pages, err := client.Pages(ctx, long.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		var admin []bool
		for _, p := range pages {
			ids = append(ids, p.ID)
			admin = append(admin, p.Administers())
		}
		if !slices.Equal(ids, []string{"p1", "p2", "p3"}) || !slices.Equal(admin, []bool{true, false, true}) {
			t.Errorf("pages %v admin %v", ids, admin)
		}
	})
	t.Run("ErrWrongSecretIsRedacted", func(t *testing.T) {
		_, err := client.LongLivedToken(ctx, "app-1", "WRONG-SECRET", "EAA-short-1")
		if err == nil || !facebook.IsPermanent(err) || strings.Contains(err.Error(), "WRONG-SECRET") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrUnknownUserToken", func(t *testing.T) {
		_, err := client.LongLivedToken(ctx, "app-1", "APP-SECRET-1", "EAA-unknownunknownunknown")
		if !facebook.IsTokenInvalid(err) || strings.Contains(err.Error(), "EAA-unknown") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SubscribeAndCheck", func(t *testing.T) {
		if ok, err := client.Subscribed(ctx, "p1", "EAA-page-1", "app-1"); err != nil || ok {
			t.Fatalf("before: %v %v", ok, err)
		}
		if err := client.SubscribeApp(ctx, "p1", "EAA-page-1"); err != nil {
			t.Fatal(err)
		}
		if got := fake.Subscription("p1"); !slices.Equal(got, facebook.MessagingFields) {
			t.Errorf("subscribed to %v", got)
		}
		if ok, err := client.Subscribed(ctx, "p1", "EAA-page-1", "app-1"); err != nil || !ok {
			t.Fatalf("after: %v %v", ok, err)
		}
		fake.Unsubscribe("p1")
		if ok, err := client.Subscribed(ctx, "p1", "EAA-page-1", "app-1"); err != nil || ok {
			t.Fatalf("unsubscribed: %v %v", ok, err)
		}
		fake.RevokePage("p1")
		if _, err := client.Subscribed(ctx, "p1", "EAA-page-1", "app-1"); !facebook.IsTokenInvalid(err) {
			t.Fatalf("revoked: %v", err)
		}
		fake.FailSubscribe("p3", fbfake.GraphError(200, 0))
		if err := client.SubscribeApp(ctx, "p3", "EAA-page-3"); err == nil || facebook.IsTransient(err) {
			t.Fatalf("refused subscription: %v", err)
		}
	})
}
