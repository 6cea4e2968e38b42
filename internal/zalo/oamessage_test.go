package zalo_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// TestSendForm: a form is a request_user_info template with one element,
// the body the fake checks field by field.
func TestSendForm(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	id, err := c.SendForm(context.Background(), oa.AccessToken, "u-1", "Để lại thông tin", "https://cdn.example.vn/f.png")
	if err != nil || id == "" {
		t.Fatalf("SendForm = %q, %v", id, err)
	}
	var body map[string]any
	if err := json.Unmarshal(lastRequest(t, fake).Body, &body); err != nil {
		t.Fatal(err)
	}
	want := `{"message":{"attachment":{"payload":{"elements":[{"image_url":"https://cdn.example.vn/f.png","title":"Để lại thông tin"}],"template_type":"request_user_info"},"type":"template"}},"recipient":{"user_id":"u-1"}}`
	if got, _ := json.Marshal(body); string(got) != want {
		t.Fatalf("body %s", got)
	}
	sent := fake.Sent()
	if len(sent) != 1 || sent[0].Attachment == nil || sent[0].Attachment.Type != "form" || sent[0].MessageID != id {
		t.Fatalf("fake recorded %+v", sent)
	}
	if _, err := c.SendForm(context.Background(), oa.AccessToken, "u-1", "", "https://cdn.example.vn/f.png"); !errors.Is(err, zalo.ErrInvalidArgument) {
		t.Fatalf("no title: %v", err)
	}
}

// TestSendTemplateMessage: a template message by user ID goes to the
// configured path with {user_id, template_id, template_data}; the fake's
// refusals come back as *APIError with ZNS's codes and their reasons, a
// 5xx as transient.
func TestSendTemplateMessage(t *testing.T) {
	fake, oa := newFake(t)
	fake.SetUser("u-1", zalofake.User{DisplayName: "Bích", IsFollower: true})
	fake.SetZNSTemplate(oa.ID, zalofake.ZNSTemplate{ID: "240001", Status: "ENABLE", Tag: "TRANSACTION",
		Params: []zalofake.ZNSParam{{Name: "order_code", Type: "STRING", Require: true, MaxLength: 10}}})
	fake.SetZNSTemplate(oa.ID, zalofake.ZNSTemplate{ID: "230001", Status: "ENABLE", Tag: "TRANSACTION",
		CreatedTime: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)})
	c := newClient(t, fake)
	ctx := context.Background()
	id, err := c.SendTemplateMessage(ctx, oa.AccessToken, "u-1", "240001", map[string]string{"order_code": "DH1024"})
	if err != nil || id == "" {
		t.Fatalf("SendTemplateMessage = %q, %v", id, err)
	}
	if req := lastRequest(t, fake); req.Path != zalo.DefaultTemplateMessagePath ||
		string(req.Body) != `{"user_id":"u-1","template_id":"240001","template_data":{"order_code":"DH1024"}}` {
		t.Fatalf("request %s %s", req.Path, req.Body)
	}
	if tm := fake.TemplateMessages(); len(tm) != 1 || tm[0].MessageID != id || tm[0].Data["order_code"] != "DH1024" {
		t.Fatalf("fake recorded %+v", tm)
	}
	for name, tc := range map[string]struct {
		tpl  string
		data map[string]string
		code int
	}{
		"Missing":       {"240001", map[string]string{}, zalo.CodeZNSParamMissing},
		"TooLong":       {"240001", map[string]string{"order_code": "DH10241024X"}, zalo.CodeZNSParamTooLong},
		"NotOurs":       {"999999", nil, zalo.CodeZNSNoTemplatePermission},
		"ApprovedEarly": {"230001", nil, zalo.CodeTemplateNotByUserID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.SendTemplateMessage(ctx, oa.AccessToken, "u-1", tc.tpl, tc.data)
			var api *zalo.APIError
			if !errors.As(err, &api) || api.Code != tc.code || zalo.IsTransient(err) {
				t.Fatalf("%v", err)
			}
			if _, ok := zalo.TemplateFailureReason(api.Code); !ok {
				t.Fatalf("no reason for %d", api.Code)
			}
		})
	}
	fake.FailNext(zalofake.TemplateMessage, 1, zalofake.Status(503))
	if _, err := c.SendTemplateMessage(ctx, oa.AccessToken, "u-1", "240001", map[string]string{"order_code": "A"}); !zalo.IsTransient(err) {
		t.Fatalf("503: %v", err)
	}
	// The path is configuration: a client pointed elsewhere calls there.
	moved := newClient(t, fake, func(cfg *zalo.Config) { cfg.TemplateMessagePath = "v3.1/oa/message/template" })
	if _, err := moved.SendTemplateMessage(ctx, oa.AccessToken, "u-1", "240001", map[string]string{"order_code": "A"}); err == nil {
		t.Fatal("the fake served an unknown path")
	}
	if req := lastRequest(t, fake); req.Path != "/v3.1/oa/message/template" {
		t.Fatalf("path %s", req.Path)
	}
}
