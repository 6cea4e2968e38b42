package zalo_test

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestUserDetail(t *testing.T) {
	tests := []struct {
		name string
		user zalofake.User
		want zalo.User
	}{
		{
			name: "FollowerWithSharedInfoAndTags",
			user: zalofake.User{
				DisplayName: "Nguyễn Văn A",
				Avatar:      "https://s120-ava-talk.zadn.vn/a.jpg",
				IsFollower:  true,
				Tags:        []string{"VIP", "Hà Nội"},
				Shared:      &zalofake.SharedInfo{Name: "Nguyễn Văn A", Phone: "84987654321", Address: "1 Tràng Tiền"},
			},
			want: zalo.User{
				ID: "u-1", IDByApp: "app-u-1",
				DisplayName: "Nguyễn Văn A",
				Avatar:      "https://s120-ava-talk.zadn.vn/a.jpg",
				IsFollower:  true,
				Tags:        []string{"VIP", "Hà Nội"},
				Shared:      zalo.SharedInfo{Name: "Nguyễn Văn A", Phone: "84987654321", Address: "1 Tràng Tiền"},
			},
		},
		{
			name: "NonFollowerWhoSharedNothing",
			user: zalofake.User{DisplayName: "B"},
			want: zalo.User{ID: "u-1", IDByApp: "app-u-1", DisplayName: "B", Tags: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			fake.SetUser("u-1", tt.user)
			c := newClient(t, fake)

			got, err := c.UserDetail(t.Context(), oa.AccessToken, "u-1")
			if err != nil {
				t.Fatalf("UserDetail: %v", err)
			}

			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("user = %+v, want %+v", *got, tt.want)
			}
			req := lastRequest(t, fake)
			if req.Method != http.MethodGet || req.Path != "/v3.0/oa/user/detail" || len(req.Body) != 0 {
				t.Errorf("request = %s %s with %d body bytes, want GET /v3.0/oa/user/detail without body",
					req.Method, req.Path, len(req.Body))
			}
			query, err := url.ParseQuery(req.RawQuery)
			if err != nil {
				t.Fatalf("query %q: %v", req.RawQuery, err)
			}
			want := url.Values{"data": {`{"user_id":"u-1"}`}}
			if !reflect.DeepEqual(query, want) {
				t.Errorf("query = %v, want %v", query, want)
			}
			if got := req.Header.Get("access_token"); got != oa.AccessToken {
				t.Errorf("access_token header = %q, want %q", got, oa.AccessToken)
			}
		})
	}
}

func TestUserDetailOfUnknownUserIsPermanent(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)

	_, err := c.UserDetail(t.Context(), oa.AccessToken, "nobody")

	apiErr, ok := errors.AsType[*zalo.APIError](err)
	if !ok || apiErr.Code != zalo.CodeInvalidParameter || class(err) != "permanent" {
		t.Errorf("err = %v (%s), want permanent APIError %d", err, class(err), zalo.CodeInvalidParameter)
	}
}
