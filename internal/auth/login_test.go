package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/viewer"
)

const (
	chuEmail    = "chu@example.com"
	chuPassword = "mật-khẩu-của-chủ"
	window      = 15 * time.Minute // the default Options.FailureWindow
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		password string
		// deactivate deactivates the account first.
		deactivate bool
		want       apierr.Code
	}{
		{name: "OK", email: chuEmail, password: chuPassword},
		{name: "OKEmailCaseAndSpaceInsensitive", email: "  Chu@Example.COM ", password: chuPassword},
		{name: "ErrWrongPassword", email: chuEmail, password: "mật-khẩu-sai", want: apierr.Unauthenticated},
		{name: "ErrPasswordCaseSensitive", email: chuEmail, password: "MẬT-KHẨU-CỦA-CHỦ", want: apierr.Unauthenticated},
		{name: "ErrUnknownEmail", email: "ai.do@example.com", password: chuPassword, want: apierr.Unauthenticated},
		{name: "ErrDeactivated", email: chuEmail, password: chuPassword, deactivate: true, want: apierr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			org := e.org(t, "Công ty")
			u := e.user(t, org, viewer.RoleOwner, chuEmail, chuPassword)
			if tt.deactivate {
				if err := u.Update().SetActive(false).Exec(viewer.SystemContext(t.Context(), org)); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(time.Hour)
			now := e.clock.Now()

			s, err := e.auth.Login(t.Context(), tt.email, tt.password, "203.0.113.7")
			checkErr(t, err, tt.want, "")
			if tt.want != "" {
				if s != nil {
					t.Fatalf("session = %+v, want nil with an error", s)
				}
				// Every failure counts once against the account and once
				// against the address.
				if n := e.attempts(t, "email:"+tt.email); n != 1 {
					t.Fatalf("failures recorded for the account = %d, want 1", n)
				}
				if n := e.attempts(t, "ip:203.0.113.7"); n != 1 {
					t.Fatalf("failures recorded for the address = %d, want 1", n)
				}
				return
			}
			if s.User.ID != u.ID {
				t.Fatalf("session user = %s, want %s", s.User.ID, u.ID)
			}
			if want := now.Add(defaultSessionTTL); !s.ExpiresAt.Equal(want) {
				t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
			}
			if s.User.LastLoginAt == nil || !s.User.LastLoginAt.Equal(now) {
				t.Fatalf("returned last_login_at = %v, want %v", s.User.LastLoginAt, now)
			}
			stored, err := e.client.User.Get(viewer.SystemContext(t.Context(), org), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.LastLoginAt == nil || !stored.LastLoginAt.Equal(now) {
				t.Fatalf("stored last_login_at = %v, want %v", stored.LastLoginAt, now)
			}
			v, err := e.auth.Authenticate(t.Context(), s.Token)
			if err != nil {
				t.Fatalf("Authenticate the new session: %v", err)
			}
			if v.UserID != u.ID || v.OrgID != org || v.Role != viewer.RoleOwner {
				t.Fatalf("viewer = %+v, want user %s of %s as OWNER", v, u.ID, org)
			}
		})
	}
}

// TestLoginFailuresLookAlike proves a caller cannot tell an unknown email
// from a wrong password (or a deactivated account) by the error.
func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	org := e.org(t, "Công ty")
	e.user(t, org, viewer.RoleOwner, chuEmail, chuPassword)
	off := e.user(t, org, viewer.RoleAgent, "nghi.viec@example.com", "mật-khẩu-cũ-nhé")
	if err := off.Update().SetActive(false).Exec(viewer.SystemContext(t.Context(), org)); err != nil {
		t.Fatal(err)
	}
	attempts := []struct{ name, email, password string }{
		{"WrongPassword", chuEmail, "mật-khẩu-sai"},
		{"UnknownEmail", "khong.co@example.com", "mật-khẩu-sai"},
		{"UnknownEmailRightPasswordOfAnother", "khong.co@example.com", chuPassword},
		{"Deactivated", "nghi.viec@example.com", "mật-khẩu-cũ-nhé"},
	}
	var first *apierr.Error
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			_, err := e.auth.Login(t.Context(), a.email, a.password, "")
			var got *apierr.Error
			if !errors.As(err, &got) {
				t.Fatalf("error = %v, want an *apierr.Error", err)
			}
			want := apierr.Error{Code: apierr.Unauthenticated, Message: "invalid email or password"}
			if *got != want {
				t.Fatalf("error = %+v, want %+v", *got, want)
			}
			if first == nil {
				first = got
			}
			if got.Error() != first.Error() {
				t.Fatalf("Error() = %q, want the same text as the first failure %q", got.Error(), first.Error())
			}
		})
	}
}

// loginStep is one login attempt in a scenario: move the clock, try, check.
type loginStep struct {
	advance  time.Duration
	email    string
	password string
	addr     string
	want     apierr.Code // "" means the login succeeds
}

func repeat(n int, s loginStep) []loginStep {
	out := make([]loginStep, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func steps(groups ...[]loginStep) []loginStep {
	var out []loginStep
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func TestLoginLimits(t *testing.T) {
	const (
		addrA = "198.51.100.1"
		addrB = "198.51.100.2"
		other = "khac@example.com"
	)
	ok := loginStep{email: chuEmail, password: chuPassword, addr: addrA}
	bad := loginStep{email: chuEmail, password: "mật-khẩu-sai", addr: addrA, want: apierr.Unauthenticated}
	with := func(s loginStep, f func(*loginStep)) loginStep { f(&s); return s }
	limited := func(s loginStep) loginStep { s.want = apierr.RateLimited; return s }
	fromB := func(s *loginStep) { s.addr = addrB }
	from := func(addr string) func(*loginStep) { return func(s *loginStep) { s.addr = addr } }
	after := func(d time.Duration) func(*loginStep) { return func(s *loginStep) { s.advance = d } }
	ghost := func(i int) loginStep {
		return loginStep{email: fmt.Sprintf("ma%d@example.com", i), password: "mật-khẩu-sai", addr: addrA, want: apierr.Unauthenticated}
	}
	pair := func(email, addr string) string { return "pair:" + email + " " + addr }

	tests := []struct {
		name  string
		steps []loginStep
		// wantAttempts are the failure rows left per key at the end.
		wantAttempts map[string]int
	}{
		{
			name: "PerAccountAndAddressLimitOf5",
			steps: steps(
				repeat(5, bad),
				[]loginStep{
					limited(ok),     // even the right password
					limited(bad),    // and a refused try is not counted
					with(ok, fromB), // the account from another address
					{email: other, password: chuPassword, addr: addrA}, // another account from the same address
				},
			),
			wantAttempts: map[string]int{pair(chuEmail, addrA): 5, "email:" + chuEmail: 0, "ip:" + addrA: 5, "ip:" + addrB: 0},
		},
		{
			name: "BackoffDoubles",
			steps: steps(
				repeat(5, bad),
				[]loginStep{
					with(bad, after(time.Second)),           // 1 s after the 5th failure: allowed
					limited(with(bad, after(time.Second))),  // the 7th waits 2 s
					with(bad, after(time.Second)),           // 2 s after the 6th
					limited(with(ok, after(3*time.Second))), // the 8th waits 4 s
					with(ok, after(time.Second)),            // and gets in
				},
			),
			wantAttempts: map[string]int{pair(chuEmail, addrA): 0, "email:" + chuEmail: 0, "ip:" + addrA: 7},
		},
		{
			name: "OfficeBehindOneAddress",
			steps: steps(
				// 19 colleagues each fail 5 times from the office's one
				// address: each is held back alone, the rest go on.
				func() []loginStep {
					var out []loginStep
					for i := range 19 {
						out = append(out, repeat(5, ghost(i))...)
					}
					return out
				}(),
				[]loginStep{limited(ghost(3)), ok},
			),
			wantAttempts: map[string]int{"ip:" + addrA: 95, pair("ma3@example.com", addrA): 5},
		},
		{
			name: "PerAccountLimitOf20AcrossAddresses",
			steps: steps(
				func() []loginStep {
					var out []loginStep
					for i := range 20 {
						out = append(out, with(bad, from(fmt.Sprint("203.0.113.", i))))
					}
					return out
				}(),
				[]loginStep{limited(with(ok, fromB)), with(ok, after(time.Second))},
			),
			wantAttempts: map[string]int{"email:" + chuEmail: 0, pair(chuEmail, "203.0.113.7"): 1},
		},
		{
			name: "FailuresLeaveTheWindow",
			steps: steps(
				repeat(5, bad),
				// All five have left the window: five more are free.
				[]loginStep{with(bad, after(window+time.Second))},
				repeat(4, bad),
				[]loginStep{limited(ok)},
			),
			wantAttempts: map[string]int{pair(chuEmail, addrA): 10, "email:" + chuEmail: 10},
		},
		{
			name: "SuccessClearsAccountFailures",
			steps: steps(
				repeat(4, bad),
				[]loginStep{ok},
				// Without the reset these would reach the limit after one.
				repeat(4, bad),
				[]loginStep{ok},
				// The count restarted at zero and still limits at five.
				repeat(5, bad),
				[]loginStep{limited(ok)},
			),
			// Address failures are not cleared by a success.
			wantAttempts: map[string]int{pair(chuEmail, addrA): 5, "email:" + chuEmail: 5, "ip:" + addrA: 13},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			org := e.org(t, "Công ty")
			e.user(t, org, viewer.RoleOwner, chuEmail, chuPassword)
			e.user(t, org, viewer.RoleAgent, other, chuPassword)
			for i, st := range tt.steps {
				e.clock.Advance(st.advance)
				s, err := e.auth.Login(t.Context(), st.email, st.password, st.addr)
				if got := apierr.CodeOf(err); got != st.want {
					t.Fatalf("step %d (%s from %s): error = %v (code %q), want code %q", i+1, st.email, st.addr, err, got, st.want)
				}
				if st.want == "" && s == nil {
					t.Fatalf("step %d: no session", i+1)
				}
				if st.want == apierr.RateLimited {
					var ae *apierr.Error
					errors.As(err, &ae)
					if ae.Message != "too many failed logins; try again later" {
						t.Fatalf("step %d: message = %q", i+1, ae.Message)
					}
				}
			}
			for key, want := range tt.wantAttempts {
				if got := e.attempts(t, key); got != want {
					t.Errorf("attempts[%q] = %d, want %d", key, got, want)
				}
			}
		})
	}
}

func TestLoginLimitOptions(t *testing.T) {
	e := newEnv(t)
	svc := newService(e, auth.Options{MaxFailuresPerAccountAddress: 1, MaxFailuresPerAccount: 2, MaxFailuresPerAddress: 3,
		FailureWindow: time.Minute, Backoff: 10 * time.Second})
	org := e.org(t, "Công ty")
	e.user(t, org, viewer.RoleOwner, chuEmail, chuPassword)
	try := func(email, password, addr string, want apierr.Code) {
		t.Helper()
		_, err := svc.Login(t.Context(), email, password, addr)
		checkErr(t, err, want, "")
	}
	try(chuEmail, "sai-mật-khẩu", "a", apierr.Unauthenticated)
	try(chuEmail, chuPassword, "a", apierr.RateLimited) // the pair's limit of 1
	try(chuEmail, "sai-mật-khẩu", "b", apierr.Unauthenticated)
	try(chuEmail, chuPassword, "c", apierr.RateLimited) // the account's limit of 2
	try("x@example.com", "sai-mật-khẩu", "a", apierr.Unauthenticated)
	try("y@example.com", "sai-mật-khẩu", "a", apierr.Unauthenticated)
	try("z@example.com", "sai-mật-khẩu", "a", apierr.RateLimited) // the address's limit of 3
	e.clock.Advance(10 * time.Second)
	try(chuEmail, chuPassword, "c", "") // the backoff has passed
	e.clock.Advance(time.Minute + time.Second)
	try(chuEmail, chuPassword, "a", "") // and so has the window
}

// TestLoginKeysFit logs in with an email far longer than any account's:
// the failure is recorded under a hashed key, never an error.
func TestLoginKeysFit(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 400) + "@example.com"
	_, err := e.auth.Login(t.Context(), long, "mật-khẩu", "198.51.100.1")
	checkErr(t, err, apierr.Unauthenticated, "")
}

// TestLoginIgnoresNoBytesPast72 guards against bcrypt's truncation: a
// 72-byte password followed by anything else is a wrong password.
func TestLoginIgnoresNoBytesPast72(t *testing.T) {
	e := newEnv(t)
	org := e.org(t, "Công ty")
	pw72 := strings.Repeat("ệ", 24) // 72 bytes
	e.user(t, org, viewer.RoleOwner, chuEmail, pw72)
	if _, err := e.auth.Login(t.Context(), chuEmail, pw72, "10.0.0.1"); err != nil {
		t.Fatalf("the exact password: %v", err)
	}
	if _, err := e.auth.Login(t.Context(), chuEmail, pw72+"anything", "10.0.0.1"); apierr.CodeOf(err) != apierr.Unauthenticated {
		t.Fatalf("a longer password logged in: %v", err)
	}
}

// TestLoginLimitHoldsUnderConcurrency sends a burst of wrong passwords for
// one account at once: no more of them may reach the password check than
// the limit allows, and only those are recorded.
func TestLoginLimitHoldsUnderConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(i int) string
		opts auth.Options
		key  string
	}{
		{"OneAccountManyAddresses", func(i int) string { return fmt.Sprint("10.0.0.", i) },
			auth.Options{MaxFailuresPerAccount: 5, MaxFailuresPerAddress: 1000, FailureWindow: time.Minute}, "email:" + chuEmail},
		{"OneAccountOneAddress", func(int) string { return "10.0.0.1" },
			auth.Options{MaxFailuresPerAccountAddress: 5, MaxFailuresPerAddress: 1000, FailureWindow: time.Minute}, "pair:" + chuEmail + " 10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			svc := newService(e, tc.opts)
			org := e.org(t, "Công ty")
			e.user(t, org, viewer.RoleOwner, chuEmail, chuPassword)

			const burst = 30
			codes := make(chan apierr.Code, burst)
			var wg sync.WaitGroup
			for i := range burst {
				wg.Go(func() {
					_, err := svc.Login(t.Context(), chuEmail, "sai-mật-khẩu", tc.addr(i))
					codes <- apierr.CodeOf(err)
				})
			}
			wg.Wait()
			close(codes)
			checked := 0
			for c := range codes {
				switch c {
				case apierr.Unauthenticated:
					checked++
				case apierr.RateLimited:
				default:
					t.Fatalf("unexpected outcome %q", c)
				}
			}
			// The clock stands still: the backoff lets none past the limit.
			if checked > 5 {
				t.Errorf("%d of %d concurrent guesses reached the password check, want at most 5", checked, burst)
			}
			if got := e.attempts(t, tc.key); got != checked {
				t.Errorf("%d failures recorded for %d checked guesses", got, checked)
			}
		})
	}
}
