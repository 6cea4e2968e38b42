package zalofake_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// consentRedirect visits the consent page and returns where it sends the
// browser, or fails when it answers status instead.
func consentRedirect(t *testing.T, fake *zalofake.Server, q url.Values, status int) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(fake.URL() + string(zalofake.Permission) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("consent page: status %d, want %d", resp.StatusCode, status)
	}
	if status != http.StatusFound {
		return nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "crm.example" || loc.Path != "/oauth/zalo/callback" {
		t.Fatalf("consent redirected to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestConsentAndPKCEExchange(t *testing.T) {
	fake := zalofake.New(t)
	fake.AddOA(zalofake.OA{ID: "oa-1"})
	fake.RegisterRedirectURI("https://crm.example/oauth/zalo/callback")
	const verifier = "a-verifier-of-forty-three-characters-0123456"
	q := url.Values{
		"app_id": {zalofake.DefaultAppID}, "redirect_uri": {"https://crm.example/oauth/zalo/callback"},
		"code_challenge": {zalofake.Challenge(verifier)}, "state": {"st-1"},
	}
	exchange := func(code, v string) map[string]any {
		form := url.Values{"code": {code}, "app_id": {zalofake.DefaultAppID}, "grant_type": {"authorization_code"}, "code_verifier": {v}}
		return post(t, fake, http.MethodPost, zalofake.AccessToken, map[string]string{
			"secret_key": zalofake.DefaultAppSecret, "Content-Type": "application/x-www-form-urlencoded",
		}, form.Encode())
	}

	t.Run("Denied", func(t *testing.T) {
		back := consentRedirect(t, fake, q, http.StatusFound)
		if back.Get("error") != "access_denied" || back.Get("code") != "" || back.Get("state") != "st-1" {
			t.Errorf("denied consent redirected with %v", back)
		}
	})
	t.Run("UnregisteredRedirectURI", func(t *testing.T) {
		bad := url.Values{}
		for k, v := range q {
			bad[k] = v
		}
		bad.Set("redirect_uri", "https://evil.example/cb")
		consentRedirect(t, fake, bad, http.StatusBadRequest)
	})
	t.Run("WrongVerifier", func(t *testing.T) {
		fake.Consent("oa-1")
		back := consentRedirect(t, fake, q, http.StatusFound)
		if a := exchange(back.Get("code"), "not-the-verifier"); a["error"] != float64(-14003) {
			t.Errorf("exchange with a wrong verifier answered %v, want -14003", a)
		}
	})
	t.Run("OK", func(t *testing.T) {
		fake.Consent("oa-1")
		back := consentRedirect(t, fake, q, http.StatusFound)
		if back.Get("oa_id") != "oa-1" || back.Get("state") != "st-1" || back.Get("code") == "" {
			t.Fatalf("consent redirected with %v", back)
		}
		a := exchange(back.Get("code"), verifier)
		if a["access_token"] != fake.OA("oa-1").AccessToken {
			t.Fatalf("exchange answered %v", a)
		}
		if again := exchange(back.Get("code"), verifier); again["error"] != float64(-14003) {
			t.Errorf("a reused code answered %v, want -14003", again)
		}
		p := post(t, fake, http.MethodGet, zalofake.OAProfile, map[string]string{"access_token": fake.OA("oa-1").AccessToken}, "")
		if d, _ := p["data"].(map[string]any); d["oa_id"] != "oa-1" || d["name"] != "OA oa-1" {
			t.Errorf("OA profile answered %v", p)
		}
	})
}
