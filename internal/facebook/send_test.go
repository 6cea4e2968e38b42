package facebook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
)

const (
	pageID    = "104395712345678"
	psid      = "6789012345678901"
	pageToken = "EAAGm0PX4ZCpsBAKZBpage0token0for0tests"
	imageURL  = "https://cdn.dakenh.vn/a/anh-san-pham.jpg"
)

// newFake starts a fake Graph API knowing pageID with pageToken, and a
// client for it with the given timeout (0 for the default).
func newFake(t *testing.T, timeout time.Duration) (*fbfake.Fake, *facebook.Client) {
	t.Helper()
	fake := fbfake.New(t)
	fake.AddPage(pageID, pageToken)
	return fake, facebook.New(facebook.Config{GraphURL: fake.URL(), Timeout: timeout})
}

// captured is one request as a recording server saw it.
type captured struct {
	method, path, contentType, authorization string
	query                                    url.Values
	body                                     []byte
}

// recordingServer answers every request with status and answer, and hands
// each request it saw to the returned channel.
func recordingServer(t *testing.T, status int, answer string) (*httptest.Server, <-chan captured) {
	t.Helper()
	seen := make(chan captured, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- captured{
			method:        r.Method,
			path:          r.URL.Path,
			contentType:   r.Header.Get("Content-Type"),
			authorization: r.Header.Get("Authorization"),
			query:         r.URL.Query(),
			body:          body,
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// assertJSON fails unless got and want are the same JSON value: same keys,
// same values, nothing more.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
}

func TestSendRequestShape(t *testing.T) {
	tests := []struct {
		name     string
		send     func(context.Context, *facebook.Client) (string, error)
		wantBody string
	}{
		{
			name: "TextIsAResponse",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendText(ctx, pageID, pageToken, psid, "Dạ, shop chào chị ạ", facebook.SendOptions{})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":{"text":"Dạ, shop chào chị ạ"}}`,
		},
		{
			name: "TextAsHumanAgentIsTagged",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendText(ctx, pageID, pageToken, psid, "Em gửi chị báo giá <ạ> & phí ship", facebook.SendOptions{HumanAgent: true})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"text":"Em gửi chị báo giá <ạ> & phí ship"}}`,
		},
		{
			name: "ImageAttachment",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentImage, imageURL, facebook.SendOptions{})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"image","payload":{"url":"https://cdn.dakenh.vn/a/anh-san-pham.jpg"}}}}`,
		},
		{
			name: "FileAttachment",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentFile, "https://cdn.dakenh.vn/bao-gia.pdf", facebook.SendOptions{})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"file","payload":{"url":"https://cdn.dakenh.vn/bao-gia.pdf"}}}}`,
		},
		{
			name: "AudioAttachment",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentAudio, "https://cdn.dakenh.vn/loi-nhan.mp3", facebook.SendOptions{})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"audio","payload":{"url":"https://cdn.dakenh.vn/loi-nhan.mp3"}}}}`,
		},
		{
			name: "VideoAttachmentAsHumanAgentIsTagged",
			send: func(ctx context.Context, c *facebook.Client) (string, error) {
				return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentVideo, "https://cdn.dakenh.vn/huong-dan.mp4", facebook.SendOptions{HumanAgent: true})
			},
			wantBody: `{"recipient":{"id":"6789012345678901"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"attachment":{"type":"video","payload":{"url":"https://cdn.dakenh.vn/huong-dan.mp4"}}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := recordingServer(t, http.StatusOK, `{"recipient_id":"6789012345678901","message_id":"m_AbC123"}`)
			c := facebook.New(facebook.Config{GraphURL: srv.URL})

			id, err := tt.send(t.Context(), c)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if id != "m_AbC123" {
				t.Errorf("message ID = %q, want %q", id, "m_AbC123")
			}
			req := <-seen
			if req.method != http.MethodPost {
				t.Errorf("method = %s, want POST", req.method)
			}
			if want := "/v25.0/" + pageID + "/messages"; req.path != want {
				t.Errorf("path = %q, want %q", req.path, want)
			}
			if want := (url.Values{"access_token": {pageToken}}); !reflect.DeepEqual(req.query, want) {
				t.Errorf("query = %v, want %v", req.query, want)
			}
			if req.contentType != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", req.contentType)
			}
			if req.authorization != "" {
				t.Errorf("Authorization = %q, want none: the token travels as access_token", req.authorization)
			}
			assertJSON(t, req.body, tt.wantBody)
		})
	}
}

func TestConfigBuildsURL(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(base string) facebook.Config
		wantPath string
	}{
		{"DefaultVersionIsV25", func(base string) facebook.Config { return facebook.Config{GraphURL: base} }, "/v25.0/" + pageID + "/messages"},
		{"TrailingSlashIsIgnored", func(base string) facebook.Config { return facebook.Config{GraphURL: base + "/"} }, "/v25.0/" + pageID + "/messages"},
		{"VersionIsConfigurable", func(base string) facebook.Config { return facebook.Config{GraphURL: base, APIVersion: "v26.0"} }, "/v26.0/" + pageID + "/messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := recordingServer(t, http.StatusOK, `{"recipient_id":"1","message_id":"m_1"}`)
			c := facebook.New(tt.cfg(srv.URL))
			if _, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{}); err != nil {
				t.Fatalf("SendText: %v", err)
			}
			if req := <-seen; req.path != tt.wantPath {
				t.Fatalf("path = %q, want %q", req.path, tt.wantPath)
			}
		})
	}
}

// roundTripFunc lets a test see what a configured HTTPClient carries.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConfiguredHTTPClientCarriesTheRequest(t *testing.T) {
	fake := fbfake.New(t)
	fake.AddPage(pageID, pageToken)
	var trips atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := facebook.New(facebook.Config{GraphURL: fake.URL(), HTTPClient: hc})

	if _, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{}); err != nil {
		t.Fatalf("SendText: %v", err)
	}
	if n := trips.Load(); n != 1 {
		t.Fatalf("configured client carried %d requests, want 1", n)
	}
}

func TestSendThroughFakeRecordsEverySend(t *testing.T) {
	fake, c := newFake(t, 0)
	ctx := t.Context()

	ids := make([]string, 0, 3)
	for _, send := range []func() (string, error){
		func() (string, error) {
			return c.SendText(ctx, pageID, pageToken, psid, "Chị ơi, đơn hàng đã giao ạ", facebook.SendOptions{})
		},
		func() (string, error) {
			return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentImage, imageURL, facebook.SendOptions{})
		},
		func() (string, error) {
			return c.SendText(ctx, pageID, pageToken, psid, "Em trả lời muộn, xin lỗi chị", facebook.SendOptions{HumanAgent: true})
		},
	} {
		id, err := send()
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		ids = append(ids, id)
	}

	if want := []string{"m_fake_000001", "m_fake_000002", "m_fake_000003"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("message IDs = %v, want %v", ids, want)
	}
	want := []fbfake.Sent{
		{PageID: pageID, PSID: psid, MessagingType: "RESPONSE", Text: "Chị ơi, đơn hàng đã giao ạ", MessageID: "m_fake_000001"},
		{PageID: pageID, PSID: psid, MessagingType: "RESPONSE", Attachment: &fbfake.Attachment{Type: "image", URL: imageURL}, MessageID: "m_fake_000002"},
		{PageID: pageID, PSID: psid, MessagingType: "MESSAGE_TAG", Tag: "HUMAN_AGENT", Text: "Em trả lời muộn, xin lỗi chị", MessageID: "m_fake_000003"},
	}
	if got := fake.Sent(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Sent() = %+v\nwant     %+v", got, want)
	}
}

func TestSendRefusesInvalidRequestsWithoutCallingFacebook(t *testing.T) {
	tests := []struct {
		name       string
		send       func(context.Context, *facebook.Client) (string, error)
		wantReason string
	}{
		{"EmptyText", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendText(ctx, pageID, pageToken, psid, "", facebook.SendOptions{})
		}, "The message has no text."},
		{"TextOver2000Characters", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendText(ctx, pageID, pageToken, psid, strings.Repeat("ệ", 2001), facebook.SendOptions{})
		}, "The message is longer than Messenger's 2000 characters."},
		{"MissingPageID", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendText(ctx, "", pageToken, psid, "xin chào", facebook.SendOptions{})
		}, "The Facebook page ID is missing."},
		{"MissingToken", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendText(ctx, pageID, "", psid, "xin chào", facebook.SendOptions{})
		}, "The Facebook page has no access token; reconnect the page."},
		{"MissingPSID", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendText(ctx, pageID, pageToken, "", "xin chào", facebook.SendOptions{})
		}, "The customer has no Messenger ID."},
		{"UnknownAttachmentKind", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendAttachment(ctx, pageID, pageToken, psid, "sticker", imageURL, facebook.SendOptions{})
		}, `Messenger cannot send a "sticker" attachment.`},
		{"EmptyAttachmentURL", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentImage, "", facebook.SendOptions{})
		}, "The attachment URL must be an absolute http or https URL."},
		{"RelativeAttachmentURL", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentImage, "/uploads/a.jpg", facebook.SendOptions{})
		}, "The attachment URL must be an absolute http or https URL."},
		{"NonHTTPAttachmentURL", func(ctx context.Context, c *facebook.Client) (string, error) {
			return c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentFile, "file:///etc/passwd", facebook.SendOptions{})
		}, "The attachment URL must be an absolute http or https URL."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t, 0)
			id, err := tt.send(t.Context(), c)
			if id != "" || err == nil {
				t.Fatalf("send = %q, %v; want an error", id, err)
			}
			if !errors.Is(err, facebook.ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
			if !facebook.IsPermanent(err) || facebook.IsTransient(err) {
				t.Errorf("IsPermanent = %v, IsTransient = %v; want permanent", facebook.IsPermanent(err), facebook.IsTransient(err))
			}
			if got := facebook.Reason(err); got != tt.wantReason {
				t.Errorf("Reason = %q, want %q", got, tt.wantReason)
			}
			if n := fake.Requests(); n != 0 {
				t.Errorf("fake saw %d requests, want 0", n)
			}
		})
	}
}

func TestSendAcceptsExactly2000Characters(t *testing.T) {
	fake, c := newFake(t, 0)
	text := strings.Repeat("ệ", facebook.MaxTextLength)
	if _, err := c.SendText(t.Context(), pageID, pageToken, psid, text, facebook.SendOptions{}); err != nil {
		t.Fatalf("SendText: %v", err)
	}
	if sent := fake.Sent(); len(sent) != 1 || sent[0].Text != text {
		t.Fatalf("Sent() = %d messages, want the 2000-character one", len(sent))
	}
}
