package zalofake_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// These tests speak raw HTTP to the fake, so that its contract is checked
// independently of the zalo client.

// post sends a request to the fake and returns the decoded JSON answer.
func post(t *testing.T, fake *zalofake.Server, method string, ep zalofake.Endpoint, header map[string]string, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, fake.URL()+string(ep), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, ep, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, ep, resp.StatusCode, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: answer %q: %v", method, ep, data, err)
	}
	return out
}

func jsonHeader(token string) map[string]string {
	return map[string]string{"access_token": token, "Content-Type": "application/json"}
}

func TestSendRefusesUndocumentedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"UnknownField", `{"recipient":{"user_id":"u1"},"message":{"text":"hi"},"extra":1}`},
		{"NoRecipient", `{"message":{"text":"hi"}}`},
		{"EmptyMessage", `{"recipient":{"user_id":"u1"},"message":{}}`},
		{"BearerStyleNesting", `{"recipient":{"id":"u1"},"message":{"text":"hi"}}`},
		{"ImageWithoutMediaType", `{"recipient":{"user_id":"u1"},"message":{"attachment":{"type":"template",` +
			`"payload":{"template_type":"media","elements":[{"url":"https://x"}]}}}}`},
		{"FileWithUnknownToken", `{"recipient":{"user_id":"u1"},"message":{"attachment":{"type":"file","payload":{"token":"nope"}}}}`},
		{"NotJSON", `recipient=u1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := zalofake.New(t)
			oa := fake.AddOA(zalofake.OA{ID: "oa-1"})

			got := post(t, fake, http.MethodPost, zalofake.SendMessage, jsonHeader(oa.AccessToken), tt.body)

			if got["error"] != float64(-201) {
				t.Errorf("answer = %v, want error -201", got)
			}
			if sent := fake.Sent(); len(sent) != 0 {
				t.Errorf("sent = %+v, want nothing", sent)
			}
		})
	}
}

func TestAccessTokenHeaderIsRequired(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"Missing", map[string]string{"Content-Type": "application/json"}},
		{"Bearer", map[string]string{"Authorization": "Bearer access-oa-1-1", "Content-Type": "application/json"}},
		{"Wrong", jsonHeader("access-oa-2-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := zalofake.New(t)
			fake.AddOA(zalofake.OA{ID: "oa-1"})

			got := post(t, fake, http.MethodPost, zalofake.SendMessage, tt.header,
				`{"recipient":{"user_id":"u1"},"message":{"text":"hi"}}`)

			if got["error"] != float64(-216) {
				t.Errorf("answer = %v, want error -216", got)
			}
		})
	}
}

func TestFailNextQueuesPerEndpoint(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1"})
	fake.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-230))
	fake.FailNext(zalofake.SendMessage, 1, zalofake.ErrorCode(-213))
	fake.FailNext(zalofake.UserDetail, 1, zalofake.ErrorCode(-32))
	body := `{"recipient":{"user_id":"u1"},"message":{"text":"hi"}}`

	var codes []any
	for range 3 {
		codes = append(codes, post(t, fake, http.MethodPost, zalofake.SendMessage, jsonHeader(oa.AccessToken), body)["error"])
	}

	if want := fmt.Sprint([]any{-230.0, -213.0, 0.0}); fmt.Sprint(codes) != want {
		t.Errorf("error codes = %v, want %v", codes, want)
	}
	if n := len(fake.Requests()); n != 3 {
		t.Errorf("recorded %d requests, want 3, failures included", n)
	}
}

func TestTokenEndpointIsSingleUse(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1", AccessToken: "AT", RefreshToken: "RT"})
	header := map[string]string{"secret_key": fake.AppSecret(), "Content-Type": "application/x-www-form-urlencoded"}
	form := url.Values{"refresh_token": {oa.RefreshToken}, "app_id": {fake.AppID()}, "grant_type": {"refresh_token"}}.Encode()

	first := post(t, fake, http.MethodPost, zalofake.AccessToken, header, form)
	second := post(t, fake, http.MethodPost, zalofake.AccessToken, header, form)

	want := map[string]any{"access_token": "access-oa-1-2", "refresh_token": "refresh-oa-1-2", "expires_in": "90000"}
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Errorf("first refresh = %v, want %v", first, want)
	}
	if second["error"] != float64(-14014) {
		t.Errorf("second refresh = %v, want error -14014", second)
	}
	if n := fake.RefreshCount(); n != 1 {
		t.Errorf("RefreshCount = %d, want 1", n)
	}
}

func TestConnectionResetDropsTheConnection(t *testing.T) {
	fake := zalofake.New(t)
	fake.FailNext(zalofake.SendMessage, 1, zalofake.ConnectionReset())

	resp, err := http.Post(fake.URL()+string(zalofake.SendMessage), "application/json", strings.NewReader("{}"))

	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a connection error", resp.StatusCode)
	}
}

func TestSlowAnswerStopsWhenTheClientGivesUp(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1"})
	fake.FailNext(zalofake.SendMessage, 1, zalofake.Slow(time.Hour))
	client := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, fake.URL()+string(zalofake.SendMessage),
		strings.NewReader(`{"recipient":{"user_id":"u1"},"message":{"text":"hi"}}`))
	req.Header["access_token"] = []string{oa.AccessToken}
	req.Header.Set("Content-Type", "application/json")

	start := time.Now()
	resp, err := client.Do(req)

	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a timeout", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s", elapsed)
	}
	// Cleanup must not wait for the hour: the fake wakes the sleeper.
}

func TestSlowAnswerCompletesWithinTheClientTimeout(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1"})
	fake.FailNext(zalofake.SendMessage, 1, zalofake.Slow(20*time.Millisecond))

	got := post(t, fake, http.MethodPost, zalofake.SendMessage, jsonHeader(oa.AccessToken),
		`{"recipient":{"user_id":"u1"},"message":{"text":"hi"}}`)

	if got["error"] != float64(0) || len(fake.Sent()) != 1 {
		t.Errorf("answer = %v, sent %d; want success and one message", got, len(fake.Sent()))
	}
}

func TestUnknownPathIs404(t *testing.T) {
	fake := zalofake.New(t)

	resp, err := http.Get(fake.URL() + "/v2.0/oa/unknown")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", resp.StatusCode)
	}
}

func TestConcurrentSendsAreAllRecorded(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1"})
	const n = 50

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"recipient":{"user_id":"u%d"},"message":{"text":"hi"}}`, i)
			req, _ := http.NewRequest(http.MethodPost, fake.URL()+string(zalofake.SendMessage), strings.NewReader(body))
			req.Header["access_token"] = []string{oa.AccessToken}
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			_ = fake.Sent()
			_ = fake.Requests()
		})
	}
	wg.Wait()

	sent := fake.Sent()
	ids := map[string]bool{}
	for _, m := range sent {
		ids[m.MessageID] = true
	}
	if len(sent) != n || len(ids) != n {
		t.Errorf("recorded %d messages with %d distinct IDs, want %d", len(sent), len(ids), n)
	}
}

func TestSignedEventSignsPlainSHA256(t *testing.T) {
	fake := zalofake.New(t)
	raw := `{"app_id":"app-1","event_name":"follow","timestamp":"1700000000000"}`

	body, header := fake.SignedEvent("app-1", "sec", raw)

	sum := sha256.Sum256([]byte("app-1" + raw + "1700000000000" + "sec"))
	if want := "mac=" + hex.EncodeToString(sum[:]); header != want {
		t.Errorf("header = %q, want %q", header, want)
	}
	if string(body) != raw {
		t.Errorf("body = %s, want the raw event unchanged", body)
	}
}

func TestSentReturnsCopies(t *testing.T) {
	fake := zalofake.New(t)
	oa := fake.AddOA(zalofake.OA{ID: "oa-1"})
	post(t, fake, http.MethodPost, zalofake.SendMessage, jsonHeader(oa.AccessToken),
		`{"recipient":{"user_id":"u1"},"message":{"text":"a","attachment":{"type":"template",`+
			`"payload":{"template_type":"media","elements":[{"media_type":"image","url":"https://x/a.jpg"}]}}}}`)

	first := fake.Sent()
	first[0].Attachment.URL = "changed"

	if got := fake.Sent()[0].Attachment.URL; got != "https://x/a.jpg" {
		t.Errorf("attachment URL = %q after changing a returned copy", got)
	}
}
