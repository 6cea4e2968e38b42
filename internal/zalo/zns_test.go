package zalo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// newZNSClient returns a client whose ZNS base URL is the fake.
func newZNSClient(t *testing.T, fake *zalofake.Server, opts ...func(*zalo.Config)) *zalo.Client {
	return newClient(t, fake, append([]func(*zalo.Config){func(c *zalo.Config) { c.ZNSURL = fake.URL() }}, opts...)...)
}

var orderTemplate = zalofake.ZNSTemplate{
	ID: "231456", Name: "Xác nhận đơn hàng", Status: "ENABLE", Quality: "HIGH", Tag: "TRANSACTION",
	Params: []zalofake.ZNSParam{
		{Name: "customer_name", Type: "STRING", Require: true, MinLength: 1, MaxLength: 30},
		{Name: "order_code", Type: "STRING", Require: true, MaxLength: 10},
		{Name: "note", Type: "STRING", MaxLength: 50, AcceptNull: true},
	},
	Price: 300, TimeoutMs: 7200000, PreviewURL: "https://account.zalo.cloud/znspreview/abc",
	DailyQuota: 1000, RemainingQuota: 998,
}

func TestZNSTemplatesPagesAndDetail(t *testing.T) {
	fake, oa := newFake(t)
	for i := range 230 {
		tpl := orderTemplate
		tpl.ID = fmt.Sprint(100000 + i)
		tpl.Name = fmt.Sprintf("Mẫu %d", i)
		fake.SetZNSTemplate(oa.ID, tpl)
	}
	c := newZNSClient(t, fake)
	all, err := c.AllZNSTemplates(context.Background(), oa.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 230 || all[0].ID != "100000" || all[229].ID != "100229" || all[5].Name != "Mẫu 5" || all[0].Status != "ENABLE" {
		t.Fatalf("listed %d templates, first %+v", len(all), all[0])
	}
	var lists int
	for _, r := range fake.Requests() {
		if r.Path == string(zalofake.ZNSTemplateList) {
			lists++
			if r.Header.Get("access_token") != oa.AccessToken {
				t.Errorf("list without the bare access_token header: %v", r.Header)
			}
		}
	}
	if lists != 3 {
		t.Errorf("%d list calls, want 3 pages of 100", lists)
	}

	fake.SetZNSTemplate(oa.ID, orderTemplate)
	got, err := c.ZNSTemplateDetail(context.Background(), oa.AccessToken, orderTemplate.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := zalo.ZNSTemplate{ID: "231456", Name: "Xác nhận đơn hàng", Status: "ENABLE", Tag: "TRANSACTION", Quality: "HIGH",
		Params: []zalo.ZNSParam{
			{Name: "customer_name", Type: "STRING", Required: true, MinLength: 1, MaxLength: 30},
			{Name: "order_code", Type: "STRING", Required: true, MaxLength: 10},
			{Name: "note", Type: "STRING", MaxLength: 50, AcceptNull: true},
		},
		Price: 300, TimeoutMs: 7200000, PreviewURL: orderTemplate.PreviewURL, DailyQuota: 1000, RemainingQuota: 998}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("detail\n got %+v\nwant %+v", got, want)
	}
	if r := lastRequest(t, fake); r.Path != "/template/info/v2" || r.RawQuery != "template_id=231456" {
		t.Errorf("detail asked %s?%s", r.Path, r.RawQuery)
	}
}

func TestSendZNS(t *testing.T) {
	fake, oa := newFake(t)
	fake.SetZNSTemplate(oa.ID, orderTemplate)
	c := newZNSClient(t, fake)
	sent, err := c.SendZNS(context.Background(), oa.AccessToken, zalo.ZNSSend{
		Phone: "84987654321", TemplateID: orderTemplate.ID, TrackingID: "order-42",
		Data: map[string]string{"customer_name": "Nguyễn Văn A", "order_code": "DH42"}, Development: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fake.ZNSSent()
	if len(got) != 1 || got[0].MsgID != sent.MsgID || got[0].Phone != "84987654321" || got[0].TrackingID != "order-42" ||
		!got[0].Development || got[0].Data["customer_name"] != "Nguyễn Văn A" {
		t.Fatalf("fake got %+v, client %+v", got, sent)
	}
	if sent.Quota != (zalo.ZNSQuota{Daily: 1000, Remaining: 997}) || sent.SentTime.IsZero() {
		t.Errorf("answer %+v", sent)
	}
	if body := string(lastRequest(t, fake).Body); !strings.Contains(body, `"mode":"development"`) {
		t.Errorf("body %s", body)
	}
}

func TestSendZNSErrors(t *testing.T) {
	ok := map[string]string{"customer_name": "A", "order_code": "DH1"}
	for _, tc := range []struct {
		name  string
		setup func(*zalofake.Server, zalofake.OA)
		send  zalo.ZNSSend
		code  int
		class string
	}{
		{"InvalidPhone", nil, zalo.ZNSSend{Phone: "8412345", Data: ok}, zalo.CodeZNSInvalidPhone, "permanent"},
		{"ParamTooLong", nil, zalo.ZNSSend{Data: map[string]string{"customer_name": "A", "order_code": "12345678901"}}, zalo.CodeZNSParamTooLong, "permanent"},
		{"ParamMissing", nil, zalo.ZNSSend{Data: map[string]string{"customer_name": "A"}}, zalo.CodeZNSParamMissing, "permanent"},
		{"OutOfBalance", func(f *zalofake.Server, oa zalofake.OA) { f.SetZNSBalance(oa.ID, true) }, zalo.ZNSSend{Data: ok}, zalo.CodeZNSOutOfBalance, "permanent"},
		{"TokenInvalid", func(f *zalofake.Server, oa zalofake.OA) { f.ExpireToken(oa.ID) }, zalo.ZNSSend{Data: ok}, zalo.CodeZNSTokenInvalid, "token invalid"},
		{"NotApproved", func(f *zalofake.Server, oa zalofake.OA) {
			t := orderTemplate
			t.Status = "PENDING_REVIEW"
			f.SetZNSTemplate(oa.ID, t)
		}, zalo.ZNSSend{Data: ok}, zalo.CodeZNSTemplateNotApproved, "permanent"},
		{"LowQuality", func(f *zalofake.Server, oa zalofake.OA) {
			t := orderTemplate
			t.Status = "DISABLE"
			f.SetZNSTemplate(oa.ID, t)
		}, zalo.ZNSSend{Data: ok}, zalo.CodeZNSTemplateLowQuality, "permanent"},
		{"QuietHours", func(f *zalofake.Server, oa zalofake.OA) {
			t := orderTemplate
			t.Tag = "PROMOTION"
			f.SetZNSTemplate(oa.ID, t)
			f.SetNow(func() time.Time { return time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC) }) // 23:30 in Vietnam
		}, zalo.ZNSSend{Data: ok}, zalo.CodeZNSQuietHours, "permanent"},
		{"TemplateDailyLimit", func(f *zalofake.Server, oa zalofake.OA) {
			t := orderTemplate
			t.RemainingQuota = 0
			f.SetZNSTemplate(oa.ID, t)
		}, zalo.ZNSSend{Data: ok}, zalo.CodeZNSTemplateDailyLimit, "permanent"},
		{"DailyLimit", func(f *zalofake.Server, oa zalofake.OA) { f.SetZNSQuota(oa.ID, 500, 0) }, zalo.ZNSSend{Data: ok}, zalo.CodeZNSDailyLimit, "permanent"},
		{"NoPermission", nil, zalo.ZNSSend{TemplateID: "999", Data: ok}, zalo.CodeZNSNoTemplatePermission, "permanent"},
		{"UserRefused", func(f *zalofake.Server, _ zalofake.OA) { f.RefusePhone("84987654321", zalo.CodeZNSUserRefused) }, zalo.ZNSSend{Data: ok}, zalo.CodeZNSUserRefused, "permanent"},
		{"Unknown", func(f *zalofake.Server, _ zalofake.OA) {
			f.FailNext(zalofake.ZNSSend, 1, zalofake.ErrorCode(zalo.CodeZNSUnknown))
		}, zalo.ZNSSend{Data: ok}, zalo.CodeZNSUnknown, "transient"},
		{"Gateway", func(f *zalofake.Server, _ zalofake.OA) {
			f.FailNext(zalofake.ZNSSend, 1, zalofake.Status(http.StatusBadGateway))
		}, zalo.ZNSSend{Data: ok}, 0, "transient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, oa := newFake(t)
			fake.SetZNSTemplate(oa.ID, orderTemplate)
			if tc.setup != nil {
				tc.setup(fake, oa)
			}
			s := tc.send
			if s.Phone == "" {
				s.Phone = "84987654321"
			}
			if s.TemplateID == "" {
				s.TemplateID = orderTemplate.ID
			}
			_, err := newZNSClient(t, fake).SendZNS(context.Background(), oa.AccessToken, s)
			var apiErr *zalo.APIError
			if tc.code != 0 && (!errors.As(err, &apiErr) || apiErr.Code != tc.code) {
				t.Fatalf("err = %v, want code %d", err, tc.code)
			}
			if got := class(err); got != tc.class {
				t.Errorf("class %s, want %s (%v)", got, tc.class, err)
			}
			if n := len(fake.ZNSSent()); n != 0 {
				t.Errorf("the fake accepted %d sends", n)
			}
		})
	}
}

func TestSendZNSTimesOut(t *testing.T) {
	fake, oa := newFake(t)
	fake.SetZNSTemplate(oa.ID, orderTemplate)
	fake.FailNext(zalofake.ZNSSend, 1, zalofake.Slow(time.Minute))
	c := newZNSClient(t, fake, func(c *zalo.Config) { c.Timeout = 50 * time.Millisecond })
	_, err := c.SendZNS(context.Background(), oa.AccessToken, zalo.ZNSSend{Phone: "84987654321", TemplateID: orderTemplate.ID,
		Data: map[string]string{"customer_name": "A", "order_code": "B"}})
	if !errors.Is(err, context.DeadlineExceeded) || class(err) != "transient" {
		t.Fatalf("err = %v (%s), want a transient timeout", err, class(err))
	}
}

func TestZNSQuotaAndOldDetailPath(t *testing.T) {
	fake, oa := newFake(t)
	fake.SetZNSQuota(oa.ID, 2000, 1500)
	c := newZNSClient(t, fake)
	q, err := c.ZNSQuotaOf(context.Background(), oa.AccessToken)
	if err != nil || q != (zalo.ZNSQuota{Daily: 2000, Remaining: 1500}) {
		t.Fatalf("quota %+v, %v", q, err)
	}
	// The fake refuses the detail path without /v2 as Zalo does.
	req, _ := http.NewRequest(http.MethodGet, fake.URL()+"/template/info?template_id=1", nil)
	req.Header["access_token"] = []string{oa.AccessToken}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"error":-106`) {
		t.Errorf("old path answered %s", body)
	}
}
