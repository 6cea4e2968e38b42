package zalo_test

import (
	"errors"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestRequestCallConsent(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	t.Run("OK", func(t *testing.T) {
		err := c.RequestCallConsent(t.Context(), oa.AccessToken, zalo.ConsentRequest{Phone: "84912345678", CallType: zalo.CallAudio, ReasonCode: zalo.ReasonDelivery})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(lastRequest(t, fake).Body); got != `{"phone":"84912345678","call_type":"audio","reason_code":105}` {
			t.Fatalf("body %s", got)
		}
		if got := fake.ConsentRequests(); len(got) != 1 || got[0] != (zalofake.ConsentRequest{OAID: "oa-1", Phone: "84912345678", CallType: "audio", ReasonCode: 105}) {
			t.Fatalf("the fake took %+v", got)
		}
	})
	t.Run("ErrTokenInvalid", func(t *testing.T) {
		err := c.RequestCallConsent(t.Context(), "wrong", zalo.ConsentRequest{Phone: "84912345678", CallType: zalo.CallVideo, ReasonCode: zalo.ReasonConsultation})
		if !zalo.IsTokenInvalid(err) {
			t.Fatalf("got %v (%s)", err, class(err))
		}
	})
	t.Run("ErrE164Phone", func(t *testing.T) {
		n := len(fake.Requests())
		err := c.RequestCallConsent(t.Context(), oa.AccessToken, zalo.ConsentRequest{Phone: "+84912345678", CallType: zalo.CallAudio, ReasonCode: zalo.ReasonDelivery})
		if !errors.Is(err, zalo.ErrInvalidArgument) || len(fake.Requests()) != n {
			t.Fatalf("got %v after %d requests", err, len(fake.Requests())-n)
		}
	})
	t.Run("ErrRefused", func(t *testing.T) {
		fake.FailNext(zalofake.RequestConsent, 1, zalofake.ErrorCode(-230))
		var api *zalo.APIError
		err := c.RequestCallConsent(t.Context(), oa.AccessToken, zalo.ConsentRequest{Phone: "84912345678", CallType: zalo.CallAudio, ReasonCode: zalo.ReasonDelivery})
		if !errors.As(err, &api) || api.Code != -230 || !zalo.IsPermanent(err) {
			t.Fatalf("got %v (%s)", err, class(err))
		}
	})
}

func TestOutboundCallLink(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	t.Run("OK", func(t *testing.T) {
		link, err := c.OutboundCallLink(t.Context(), oa.AccessToken, zalo.CallLinkRequest{UserID: "u-1", CallType: zalo.CallVideo, AgentID: "usr_1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(lastRequest(t, fake).Body); got != `{"user_id":"u-1","call_type":"video","agent_id":"usr_1"}` {
			t.Fatalf("body %s", got)
		}
		issued := fake.CallLinks()
		if len(issued) != 1 || link.Link != issued[0].Link || link.QRCode != issued[0].QRCode || link.TTL != zalofake.CallLinkTTL {
			t.Fatalf("link %+v, the fake issued %+v", link, issued)
		}
	})
	t.Run("ErrAudioAndVideo", func(t *testing.T) {
		if _, err := c.OutboundCallLink(t.Context(), oa.AccessToken, zalo.CallLinkRequest{UserID: "u-1", CallType: zalo.CallAudioAndVideo}); !errors.Is(err, zalo.ErrInvalidArgument) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		fake.FailNext(zalofake.CallOutbound, 1, zalofake.Status(502))
		if _, err := c.OutboundCallLink(t.Context(), oa.AccessToken, zalo.CallLinkRequest{UserID: "u-1", CallType: zalo.CallAudio}); !zalo.IsTransient(err) {
			t.Fatalf("got %v (%s)", err, class(err))
		}
	})
}
