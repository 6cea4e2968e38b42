package fbfake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
)

const (
	pageID    = "104395712345678"
	pageToken = "EAAGm0PX4ZCpsBAKZBpage0token0for0tests"
	psid      = "6789012345678901"
)

func newFake(t *testing.T) (*fbfake.Fake, *facebook.Client) {
	t.Helper()
	fake := fbfake.New(t)
	fake.AddPage(pageID, pageToken)
	return fake, facebook.New(facebook.Config{GraphURL: fake.URL()})
}

func TestClosedWindowNeedsHumanAgentTag(t *testing.T) {
	fake, c := newFake(t)
	ctx := t.Context()
	fake.SetWindowClosed(psid, true)

	_, err := c.SendText(ctx, pageID, pageToken, psid, "Chị ơi?", facebook.SendOptions{})
	if !facebook.IsOutsideWindow(err) || !facebook.IsPermanent(err) {
		t.Fatalf("RESPONSE into a closed window: err = %v, want outside-window and permanent", err)
	}
	id, err := c.SendText(ctx, pageID, pageToken, psid, "Chị ơi?", facebook.SendOptions{HumanAgent: true})
	if err != nil {
		t.Fatalf("HUMAN_AGENT into a closed window: %v", err)
	}
	if _, err := c.SendText(ctx, pageID, pageToken, "other-psid", "Xin chào", facebook.SendOptions{}); err != nil {
		t.Fatalf("RESPONSE to another customer: %v", err)
	}
	fake.SetWindowClosed(psid, false)
	if _, err := c.SendAttachment(ctx, pageID, pageToken, psid, facebook.AttachmentImage, "https://cdn.dakenh.vn/a.jpg", facebook.SendOptions{}); err != nil {
		t.Fatalf("RESPONSE after the window reopened: %v", err)
	}

	want := []fbfake.Sent{
		{PageID: pageID, PSID: psid, MessagingType: "MESSAGE_TAG", Tag: "HUMAN_AGENT", Text: "Chị ơi?", MessageID: id},
		{PageID: pageID, PSID: "other-psid", MessagingType: "RESPONSE", Text: "Xin chào", MessageID: "m_fake_000002"},
		{PageID: pageID, PSID: psid, MessagingType: "RESPONSE", Attachment: &fbfake.Attachment{Type: "image", URL: "https://cdn.dakenh.vn/a.jpg"}, MessageID: "m_fake_000003"},
	}
	if got := fake.Sent(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Sent() = %+v\nwant     %+v", got, want)
	}
	if fake.Requests() != 4 {
		t.Fatalf("Requests() = %d, want 4", fake.Requests())
	}
}

func TestFailNextFailsInOrderThenRecovers(t *testing.T) {
	fake, c := newFake(t)
	fake.FailNext(2, fbfake.ServerError())
	fake.FailNext(1, fbfake.GraphError(613, 0))

	var codes []int
	for range 3 {
		_, err := c.SendText(t.Context(), pageID, pageToken, psid, "alo", facebook.SendOptions{})
		var apiErr *facebook.APIError
		if !facebook.IsTransient(err) || !errors.As(err, &apiErr) {
			t.Fatalf("err = %v, want a transient Graph error", err)
		}
		codes = append(codes, apiErr.HTTPStatus*1000+apiErr.Code)
	}
	if want := []int{500000, 500000, 400613}; !reflect.DeepEqual(codes, want) {
		t.Fatalf("status*1000+code = %v, want %v", codes, want)
	}
	if _, err := c.SendText(t.Context(), pageID, pageToken, psid, "alo", facebook.SendOptions{}); err != nil {
		t.Fatalf("fourth send: %v", err)
	}
	if got := fake.Requests(); got != 4 {
		t.Fatalf("Requests() = %d, want 4", got)
	}
	if got := len(fake.Sent()); got != 1 {
		t.Fatalf("len(Sent()) = %d, want 1", got)
	}
}

// TestRefusesRequestsOutsideTheContract speaks raw HTTP to show the fake is
// strict about what the contract names.
func TestRefusesRequestsOutsideTheContract(t *testing.T) {
	const text = `{"recipient":{"id":"6789012345678901"},"messaging_type":"RESPONSE","message":{"text":"alo"}}`
	messages := "/v25.0/" + pageID + "/messages"
	tests := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string
		body        string
		wantStatus  int
		wantCode    int
		wantSubcode int
	}{
		{"Accepted", "POST", messages, pageToken, "application/json", text, 200, 0, 0},
		{"CharsetIsFine", "POST", messages, pageToken, "application/json; charset=utf-8", text, 200, 0, 0},
		{"MissingToken", "POST", messages, "", "application/json", text, 400, 190, 0},
		{"UnknownToken", "POST", messages, "EAAnot0a0known0token0at0all", "application/json", text, 400, 190, 0},
		{"TokenOfNoSuchPage", "POST", "/v25.0/999/messages", pageToken, "application/json", text, 400, 100, 33},
		{"OtherVersion", "POST", "/v19.0/" + pageID + "/messages", pageToken, "application/json", text, 400, 2500, 0},
		{"GET", "GET", messages, pageToken, "application/json", "", 400, 2500, 0},
		{"FormEncoded", "POST", messages, pageToken, "application/x-www-form-urlencoded", text, 400, 100, 0},
		{"NotJSON", "POST", messages, pageToken, "application/json", `recipient=1`, 400, 100, 0},
		{"TrailingData", "POST", messages, pageToken, "application/json", text + `{}`, 400, 100, 0},
		{"UnknownField", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"alo","quick_replies":[]}}`, 400, 100, 0},
		{"MissingRecipient", "POST", messages, pageToken, "application/json",
			`{"messaging_type":"RESPONSE","message":{"text":"alo"}}`, 400, 100, 0},
		{"MissingMessagingType", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"message":{"text":"alo"}}`, 400, 100, 0},
		{"UpdateIsNotInTheContract", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"UPDATE","message":{"text":"alo"}}`, 400, 100, 0},
		{"TagWithoutMessageTag", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","tag":"HUMAN_AGENT","message":{"text":"alo"}}`, 400, 100, 0},
		{"MessageTagWithoutTag", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","message":{"text":"alo"}}`, 400, 100, 0},
		{"OtherTag", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","tag":"POST_PURCHASE_UPDATE","message":{"text":"alo"}}`, 400, 100, 0},
		{"MissingMessage", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE"}`, 400, 100, 0},
		{"EmptyMessage", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{}}`, 400, 100, 0},
		{"TextAndAttachment", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"a","attachment":{"type":"image","payload":{"url":"https://x/a.jpg"}}}}`, 400, 100, 0},
		{"TextTooLong", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"` + strings.Repeat("a", 2001) + `"}}`, 400, 100, 0},
		{"TemplateAttachment", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"template","payload":{"url":"https://x"}}}}`, 400, 100, 0},
		{"AttachmentWithoutURL", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"image","payload":{}}}}`, 400, 100, 0},
		{"AttachmentRelativeURL", "POST", messages, pageToken, "application/json",
			`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"image","payload":{"url":"/a.jpg"}}}}`, 400, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fbfake.New(t)
			fake.AddPage(pageID, pageToken)
			target := fake.URL() + tt.path
			if tt.token != "" {
				target += "?access_token=" + tt.token
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, target, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.wantStatus, raw)
			}
			if tt.wantStatus == 200 {
				if want := `{"message_id":"m_fake_000001","recipient_id":"6789012345678901"}` + "\n"; string(raw) != want {
					t.Fatalf("answer = %s, want %s", raw, want)
				}
				return
			}
			var env struct {
				Error struct {
					Message   string `json:"message"`
					Type      string `json:"type"`
					Code      int    `json:"code"`
					Subcode   int    `json:"error_subcode"`
					FBTraceID string `json:"fbtrace_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatalf("answer %s is not the error envelope: %v", raw, err)
			}
			e := env.Error
			if e.Code != tt.wantCode || e.Subcode != tt.wantSubcode || e.Type != "OAuthException" || e.Message == "" || e.FBTraceID == "" {
				t.Fatalf("error = %+v, want code %d subcode %d with type, message and fbtrace_id", e, tt.wantCode, tt.wantSubcode)
			}
			if len(fake.Sent()) != 0 {
				t.Fatalf("Sent() = %v, want nothing recorded", fake.Sent())
			}
		})
	}
}

func TestConcurrentSendsAreAllRecorded(t *testing.T) {
	fake, c := newFake(t)
	const n = 50
	fake.FailNext(5, fbfake.GraphError(2, 0))

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.SendText(t.Context(), pageID, pageToken, fmt.Sprintf("psid-%02d", i), "alo", facebook.SendOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	failed := 0
	for err := range errs {
		if err != nil {
			if !facebook.IsTransient(err) {
				t.Errorf("err = %v, want only the transient failures queued", err)
			}
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("%d sends failed, want 5", failed)
	}
	sent := fake.Sent()
	ids := make(map[string]bool)
	for _, s := range sent {
		ids[s.MessageID] = true
	}
	if len(sent) != n-5 || len(ids) != n-5 {
		t.Fatalf("Sent() has %d messages with %d distinct IDs, want %d", len(sent), len(ids), n-5)
	}
	if fake.Requests() != n {
		t.Fatalf("Requests() = %d, want %d", fake.Requests(), n)
	}
}

func TestSentReturnsACopy(t *testing.T) {
	fake, c := newFake(t)
	if _, err := c.SendAttachment(t.Context(), pageID, pageToken, psid, facebook.AttachmentFile, "https://cdn.dakenh.vn/a.pdf", facebook.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	first := fake.Sent()
	first[0].Attachment.URL = "changed"
	first[0].Text = "changed"
	if again := fake.Sent(); again[0].Attachment.URL != "https://cdn.dakenh.vn/a.pdf" || again[0].Text != "" {
		t.Fatalf("Sent() = %+v after changing an earlier copy, want it unchanged", again[0])
	}
}

func TestSignedWebhook(t *testing.T) {
	const secret = "app-secret"
	fake := fbfake.New(t)
	tests := []struct {
		name     string
		payload  any
		wantBody string
	}{
		{"StringIsVerbatim", `{"object":"page", "entry":[]}`, `{"object":"page", "entry":[]}`},
		{"BytesAreVerbatim", []byte(`{"object":"page"}`), `{"object":"page"}`},
		{"RawMessageIsVerbatim", json.RawMessage(`{"object":"page"}`), `{"object":"page"}`},
		{"ValueIsJSON", map[string]any{"object": "page", "entry": []any{}}, `{"entry":[],"object":"page"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, header := fake.SignedWebhook(secret, tt.payload)
			if string(body) != tt.wantBody {
				t.Errorf("body = %s, want %s", body, tt.wantBody)
			}
			if !strings.HasPrefix(header, "sha256=") || len(header) != len("sha256=")+64 {
				t.Errorf("header = %q, want sha256= and 64 hex digits", header)
			}
			if err := facebook.VerifySignature(header, body, secret); err != nil {
				t.Errorf("VerifySignature: %v", err)
			}
		})
	}
}
