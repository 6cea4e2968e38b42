package zalo_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

func TestSendMessage(t *testing.T) {
	tests := []struct {
		name     string
		send     func(c *zalo.Client, token string) (string, error)
		wantBody string
		wantSent zalofake.SentMessage
	}{
		{
			name: "TextKeepsHTMLAndVietnamese",
			send: func(c *zalo.Client, token string) (string, error) {
				return c.SendText(t.Context(), token, "u-1", `Chào anh <Nam> & "chị"`)
			},
			wantBody: `{"recipient":{"user_id":"u-1"},"message":{"text":"Chào anh <Nam> & \"chị\""}}`,
			wantSent: zalofake.SentMessage{OAID: "oa-1", UserID: "u-1", Text: `Chào anh <Nam> & "chị"`},
		},
		{
			name: "ImageWithCaption",
			send: func(c *zalo.Client, token string) (string, error) {
				return c.SendImage(t.Context(), token, "u-2", "https://cdn.example.vn/a.jpg?x=1&y=2", "Hoá đơn")
			},
			wantBody: `{"recipient":{"user_id":"u-2"},"message":{"text":"Hoá đơn","attachment":{"type":"template",` +
				`"payload":{"template_type":"media","elements":[{"media_type":"image","url":"https://cdn.example.vn/a.jpg?x=1&y=2"}]}}}}`,
			wantSent: zalofake.SentMessage{
				OAID: "oa-1", UserID: "u-2", Text: "Hoá đơn",
				Attachment: &zalofake.Attachment{Type: "image", URL: "https://cdn.example.vn/a.jpg?x=1&y=2"},
			},
		},
		{
			name: "ImageWithoutCaptionHasNoText",
			send: func(c *zalo.Client, token string) (string, error) {
				return c.SendImage(t.Context(), token, "u-3", "https://cdn.example.vn/b.png", "")
			},
			wantBody: `{"recipient":{"user_id":"u-3"},"message":{"attachment":{"type":"template",` +
				`"payload":{"template_type":"media","elements":[{"media_type":"image","url":"https://cdn.example.vn/b.png"}]}}}}`,
			wantSent: zalofake.SentMessage{
				OAID: "oa-1", UserID: "u-3",
				Attachment: &zalofake.Attachment{Type: "image", URL: "https://cdn.example.vn/b.png"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, oa := newFake(t)
			c := newClient(t, fake)

			id, err := tt.send(c, oa.AccessToken)
			if err != nil {
				t.Fatalf("send: %v", err)
			}

			req := lastRequest(t, fake)
			assertMessageRequest(t, req, oa.AccessToken)
			if got := string(req.Body); got != tt.wantBody {
				t.Errorf("body =\n%s\nwant\n%s", got, tt.wantBody)
			}
			sent := fake.Sent()
			if len(sent) != 1 {
				t.Fatalf("fake recorded %d messages, want 1", len(sent))
			}
			if id != sent[0].MessageID || id == "" {
				t.Errorf("message ID = %q, want the fake's %q", id, sent[0].MessageID)
			}
			tt.wantSent.MessageID = sent[0].MessageID
			if !reflect.DeepEqual(sent[0], tt.wantSent) {
				t.Errorf("sent = %+v, want %+v", sent[0], tt.wantSent)
			}
		})
	}
}

// assertMessageRequest checks the method, path and headers of a
// consultation message.
func assertMessageRequest(t *testing.T, req zalofake.Request, token string) {
	t.Helper()
	if req.Method != http.MethodPost || req.Path != "/v3.0/oa/message/cs" || req.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want POST /v3.0/oa/message/cs", req.Method, req.Path, req.RawQuery)
	}
	if got := req.Header.Values("access_token"); len(got) != 1 || got[0] != token {
		t.Errorf("access_token header = %q, want [%q]", got, token)
	}
	if got := req.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization header = %q, want none (Zalo takes the bare access_token)", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
}

func TestUploadFileThenSendFile(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	content := []byte("%PDF-1.7 báo giá")

	fileToken, err := c.UploadFile(t.Context(), oa.AccessToken, "báo giá.pdf", bytes.NewReader(content))
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}

	up := lastRequest(t, fake)
	if up.Method != http.MethodPost || up.Path != "/v2.0/oa/upload/file" {
		t.Errorf("upload request = %s %s, want POST /v2.0/oa/upload/file", up.Method, up.Path)
	}
	if got := up.Header.Get("access_token"); got != oa.AccessToken {
		t.Errorf("access_token header = %q, want %q", got, oa.AccessToken)
	}
	parts := multipartParts(t, up)
	if len(parts) != 1 || parts[0].field != "file" || parts[0].filename != "báo giá.pdf" ||
		!bytes.Equal(parts[0].content, content) {
		t.Errorf("multipart parts = %+v, want one field %q named %q with the content", parts, "file", "báo giá.pdf")
	}
	uploads := fake.Uploads()
	if len(uploads) != 1 || uploads[0].Token != fileToken {
		t.Fatalf("fake uploads = %+v, want one with token %q", uploads, fileToken)
	}

	id, err := c.SendFile(t.Context(), oa.AccessToken, "u-1", fileToken)
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	req := lastRequest(t, fake)
	assertMessageRequest(t, req, oa.AccessToken)
	wantBody := `{"recipient":{"user_id":"u-1"},"message":{"attachment":{"type":"file","payload":{"token":"` + fileToken + `"}}}}`
	if got := string(req.Body); got != wantBody {
		t.Errorf("body =\n%s\nwant\n%s", got, wantBody)
	}
	want := zalofake.SentMessage{
		OAID: "oa-1", UserID: "u-1", MessageID: id,
		Attachment: &zalofake.Attachment{Type: "file", FileToken: fileToken, Filename: "báo giá.pdf"},
	}
	if sent := fake.Sent(); len(sent) != 1 || !reflect.DeepEqual(sent[0], want) {
		t.Errorf("sent = %+v, want [%+v]", sent, want)
	}
}

type part struct {
	field, filename string
	content         []byte
}

// multipartParts decodes the multipart body of req.
func multipartParts(t *testing.T, req zalofake.Request) []part {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		t.Fatalf("Content-Type = %q, want multipart/form-data", req.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(req.Body), params["boundary"])
	var parts []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		content, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		parts = append(parts, part{field: p.FormName(), filename: p.FileName(), content: content})
	}
}

func TestSendFileRefusesAnotherOAsUpload(t *testing.T) {
	fake, oa := newFake(t)
	other := fake.AddOA(zalofake.OA{ID: "oa-2"})
	c := newClient(t, fake)
	fileToken, err := c.UploadFile(t.Context(), other.AccessToken, "a.pdf", strings.NewReader("x"))
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}

	_, err = c.SendFile(t.Context(), oa.AccessToken, "u-1", fileToken)

	apiErr, ok := errors.AsType[*zalo.APIError](err)
	if !ok || apiErr.Code != zalo.CodeInvalidParameter || class(err) != "permanent" {
		t.Errorf("err = %v (%s), want permanent APIError %d", err, class(err), zalo.CodeInvalidParameter)
	}
}

func TestUploadFileRefusesOversizedFileBeforeSending(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)

	_, err := c.UploadFile(t.Context(), oa.AccessToken, "big.pdf", io.LimitReader(zeros{}, zalo.MaxUploadSize+1))

	if !errors.Is(err, zalo.ErrInvalidArgument) || class(err) != "permanent" {
		t.Errorf("err = %v (%s), want permanent ErrInvalidArgument", err, class(err))
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("fake received %d requests, want 0", n)
	}
}

func TestUploadFileAcceptsMaxUploadSize(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)

	if _, err := c.UploadFile(t.Context(), oa.AccessToken, "max.pdf", io.LimitReader(zeros{}, zalo.MaxUploadSize)); err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	if ups := fake.Uploads(); len(ups) != 1 || len(ups[0].Content) != zalo.MaxUploadSize {
		t.Errorf("uploaded %d files, want one of %d bytes", len(ups), zalo.MaxUploadSize)
	}
}

// zeros reads zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestUploadFileReportsReadError(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	readErr := errors.New("disk on fire")

	_, err := c.UploadFile(t.Context(), oa.AccessToken, "a.pdf", io.MultiReader(strings.NewReader("x"), errReader{readErr}))

	if !errors.Is(err, readErr) || class(err) != "permanent" {
		t.Errorf("err = %v (%s), want the permanent read error", err, class(err))
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("fake received %d requests, want 0", n)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestSendRefusesMissingArgumentsWithoutCalling(t *testing.T) {
	fake, oa := newFake(t)
	c := newClient(t, fake)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"TextWithoutUser", func() error { _, err := c.SendText(ctx, oa.AccessToken, "", "hi"); return err }},
		{"EmptyText", func() error { _, err := c.SendText(ctx, oa.AccessToken, "u-1", ""); return err }},
		{"ImageWithoutURL", func() error { _, err := c.SendImage(ctx, oa.AccessToken, "u-1", "", "x"); return err }},
		{"FileWithoutToken", func() error { _, err := c.SendFile(ctx, oa.AccessToken, "u-1", ""); return err }},
		{"UploadWithoutName", func() error {
			_, err := c.UploadFile(ctx, oa.AccessToken, "", strings.NewReader("x"))
			return err
		}},
		{"DetailWithoutUser", func() error { _, err := c.UserDetail(ctx, oa.AccessToken, ""); return err }},
		{"RefreshWithoutToken", func() error { _, err := c.RefreshToken(ctx, "app", "secret", ""); return err }},
		{"RefreshWithoutSecret", func() error { _, err := c.RefreshToken(ctx, "app", "", "rt"); return err }},
		{"ExchangeWithoutVerifier", func() error { _, err := c.ExchangeCode(ctx, "app", "secret", "code", ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, zalo.ErrInvalidArgument) || class(err) != "permanent" {
				t.Errorf("err = %v (%s), want permanent ErrInvalidArgument", err, class(err))
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("fake received %d requests, want 0", n)
	}
}
