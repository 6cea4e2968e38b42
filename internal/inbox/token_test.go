package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// expireSoon makes the OA's stored token expire within ZaloRefreshBefore.
func (o *outbox) expireSoon(left time.Duration) {
	o.t.Helper()
	o.db.Client.Channel.UpdateOneID(o.oa.ID).SetAccessTokenExpiresAt(o.clock.Now().Add(left)).ExecX(o.sys())
}

// TestZaloTokenRefreshUnderConcurrency: ten goroutines on two replicas ask
// for the token of an OA about to expire at once. Zalo sees one refresh,
// since its refresh tokens are single-use, and every caller gets the new
// token.
func TestZaloTokenRefreshUnderConcurrency(t *testing.T) {
	o := newOutbox(t)
	o.expireSoon(30 * time.Minute)
	old := o.zalo.OA(o.oa.ExternalID)
	replicas := []*Service{o.newService(), o.newService()}
	// A slow token endpoint holds the first refresh open while the other
	// callers arrive, so an unserialized second refresh could not slip by.
	o.zalo.FailNext(zalofake.AccessToken, 2, zalofake.Slow(200*time.Millisecond))

	tokens := make([]string, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() { tokens[i], errs[i] = replicas[i%2].ZaloAccessToken(context.Background(), o.oa.ID) })
	}
	wg.Wait()

	fresh := o.zalo.OA(o.oa.ExternalID)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := o.zalo.RefreshCount(); n != 1 {
		t.Fatalf("Zalo saw %d refreshes, want exactly 1", n)
	}
	if fresh.AccessToken == old.AccessToken {
		t.Fatal("the fake did not issue a new token")
	}
	for i, tok := range tokens {
		if tok != fresh.AccessToken {
			t.Errorf("caller %d got a token other than the new one", i)
		}
	}
	ch := o.channel(o.oa.ID)
	creds, err := o.svc.Open(ch)
	if err != nil {
		t.Fatal(err)
	}
	want := o.clock.Now().Add(zalofake.TokenLifetime * time.Second)
	if creds.AccessToken != fresh.AccessToken || creds.RefreshToken != fresh.RefreshToken ||
		ch.AccessTokenExpiresAt == nil || !ch.AccessTokenExpiresAt.Equal(want) {
		t.Errorf("stored pair is not the new one, or expiry %v != %v", ch.AccessTokenExpiresAt, want)
	}
}

func TestRefreshZaloTokens(t *testing.T) {
	t.Run("RefreshesOnlyTokensAboutToExpire", func(t *testing.T) {
		o := newOutbox(t)
		later := o.zalo.AddOA(zalofake.OA{ID: "oa-later"})
		laterCh := o.addChannel(channel.KindZALO_OA, "oa-later", Credentials{
			AccessToken: later.AccessToken, RefreshToken: later.RefreshToken, AppSecret: o.zalo.AppSecret(),
		}, o.zalo.AppID(), o.clock.Now().Add(5*time.Hour))
		o.expireSoon(59 * time.Minute)

		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil {
			t.Fatal(err)
		}

		if n := o.zalo.RefreshCount(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		if c, _ := o.svc.Open(o.channel(laterCh.ID)); c.AccessToken != later.AccessToken {
			t.Error("a token with 5 hours left was refreshed")
		}
		// A second round has nothing to do.
		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil || o.zalo.RefreshCount() != 1 {
			t.Errorf("second round: %v, %d refreshes", err, o.zalo.RefreshCount())
		}
	})
	t.Run("TransientFailureRetriesNextRound", func(t *testing.T) {
		o := newOutbox(t)
		o.expireSoon(10 * time.Minute)
		o.zalo.FailNext(zalofake.AccessToken, 1, zalofake.Status(http.StatusBadGateway))

		if err := o.svc.RefreshZaloTokens(context.Background()); err == nil {
			t.Fatal("the failed round reported no error")
		}
		if ch := o.channel(o.oa.ID); ch.Status != channel.StatusCONNECTED {
			t.Fatalf("a transient failure left the channel %s", ch.Status)
		}
		o.clock.Advance(ZaloRefreshEvery)
		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c, _ := o.svc.Open(o.channel(o.oa.ID)); o.zalo.RefreshCount() != 1 || c.AccessToken != o.zalo.OA(o.oa.ExternalID).AccessToken {
			t.Errorf("%d refreshes, stored token current: %v", o.zalo.RefreshCount(), c.AccessToken == o.zalo.OA(o.oa.ExternalID).AccessToken)
		}
	})
	t.Run("RejectedRefreshLosesConnection", func(t *testing.T) {
		o := newOutbox(t)
		o.expireSoon(10 * time.Minute)
		o.zalo.ExpireRefreshToken(o.oa.ExternalID)

		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil {
			t.Fatalf("a rejected refresh is an outcome, not a failed round: %v", err)
		}

		ch := o.channel(o.oa.ID)
		if ch.Status != channel.StatusDISCONNECTED || !strings.Contains(ch.StatusReason, "-14020") ||
			ch.AccessToken != nil || ch.RefreshToken != nil {
			t.Fatalf("channel %s (%q), tokens kept: %v %v", ch.Status, ch.StatusReason, ch.AccessToken != nil, ch.RefreshToken != nil)
		}
		if evs := o.events(); !slices.Equal(evs, []string{"CHANNEL DISCONNECTED " + string(o.oa.ID)}) {
			t.Errorf("events = %v", evs)
		}
		// The activity log says the channel's connection was lost, with no actor.
		a := o.db.Client.Activity.Query().OnlyX(o.sys())
		b, _ := json.Marshal(a.Details)
		want := `{"automatic":true,"changes":{"status":{"from":"CONNECTED","to":"DISCONNECTED"},"statusReason":{"from":"","to":"` + ch.StatusReason + `"}},"kind":"ZALO_OA","name":"` + ch.Name + `"}`
		if a.Action != "CHANNEL_CONNECTION_LOST" || a.ActorID != nil || a.APIKeyID != nil || *a.ChannelID != o.oa.ID || string(b) != want {
			t.Errorf("activity %s actor %v channel %v details %s", a.Action, a.ActorID, a.ChannelID, b)
		}
		if _, err := o.svc.ZaloAccessToken(context.Background(), o.oa.ID); !errors.Is(err, ErrChannelDisconnected) {
			t.Errorf("token of a disconnected OA: %v", err)
		}
	})
	t.Run("ExpiredWithoutAppSecretDisconnects", func(t *testing.T) {
		o := newOutbox(t)
		o.db.Client.Channel.UpdateOneID(o.oa.ID).ClearAppSecret().ExecX(o.sys())
		o.expireSoon(10 * time.Minute)

		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ch := o.channel(o.oa.ID); ch.Status != channel.StatusCONNECTED {
			t.Fatalf("a token that still works for 10 minutes disconnected its OA (%s)", ch.StatusReason)
		}
		o.clock.Advance(10 * time.Minute)
		if err := o.svc.RefreshZaloTokens(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ch := o.channel(o.oa.ID); ch.Status != channel.StatusDISCONNECTED || !strings.Contains(ch.StatusReason, "app secret") {
			t.Errorf("channel %s (%q)", ch.Status, ch.StatusReason)
		}
		if o.zalo.RefreshCount() != 0 {
			t.Error("refreshed without an app secret")
		}
	})
}
