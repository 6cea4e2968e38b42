package auth_test

import (
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/loginattempt"
	"github.com/dakenh/dakenh/ent/session"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestPrune(t *testing.T) {
	const day = 24 * time.Hour
	// Prune runs at now; sessions last the default 30 days, failures count
	// for the default 15 minutes, ended sessions are kept for a week.
	now := t0.Add(60 * day)
	sessions := []struct {
		name    string
		issued  time.Time
		revoked time.Time // zero: never revoked
		kept    bool
	}{
		{name: "Active", issued: now.Add(-time.Hour), kept: true},
		{name: "ExpiredSixDaysAgo", issued: now.Add(-36 * day), kept: true},
		{name: "ExpiredEightDaysAgo", issued: now.Add(-38 * day), kept: false},
		{name: "RevokedSixDaysAgo", issued: now.Add(-10 * day), revoked: now.Add(-6 * day), kept: true},
		// Not expired, so only the revocation rule can delete it.
		{name: "RevokedEightDaysAgo", issued: now.Add(-10 * day), revoked: now.Add(-8 * day), kept: false},
		{name: "RevokedTodayExpiredLongAgo", issued: now.Add(-40 * day), revoked: now.Add(-time.Hour), kept: false},
	}
	attempts := []struct {
		name string
		at   time.Time
		kept bool
	}{
		{name: "FailedJustNow", at: now, kept: true},
		{name: "FailedFourteenMinutesAgo", at: now.Add(-14 * time.Minute), kept: true},
		{name: "FailedSixteenMinutesAgo", at: now.Add(-16 * time.Minute), kept: false},
		{name: "FailedYesterday", at: now.Add(-day), kept: false},
	}

	e := newEnv(t)
	org := e.org(t, "Công ty")
	u := e.user(t, org, viewer.RoleAgent, "nv@example.com", "mật-khẩu-nhân-viên")
	ids := make(map[string]gid.ID)
	for _, s := range sessions {
		e.clock.Set(s.issued)
		issued, err := e.auth.IssueSession(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.auth.Authenticate(t.Context(), issued.Token)
		if err != nil {
			t.Fatalf("%s: Authenticate: %v", s.name, err)
		}
		ids[s.name] = v.SessionID
		if !s.revoked.IsZero() {
			e.clock.Set(s.revoked)
			if err := e.auth.Logout(viewer.NewContext(t.Context(), v)); err != nil {
				t.Fatalf("%s: Logout: %v", s.name, err)
			}
		}
	}
	for _, a := range attempts {
		e.clock.Set(a.at)
		// One failure writes three rows: the account and address pair's, the
		// account's and the address's.
		if _, err := e.auth.Login(t.Context(), "nv@example.com", "mật-khẩu-sai", a.name); err == nil {
			t.Fatalf("%s: login with a wrong password succeeded", a.name)
		}
	}
	e.clock.Set(now)

	n, err := e.auth.Prune(t.Context())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	wantRemoved := 0
	for _, s := range sessions {
		if !s.kept {
			wantRemoved++
		}
	}
	for _, a := range attempts {
		if !a.kept {
			wantRemoved += 3
		}
	}
	if n != wantRemoved {
		t.Errorf("Prune removed %d rows, want %d", n, wantRemoved)
	}

	sys := viewer.SystemContext(t.Context(), "")
	for _, s := range sessions {
		t.Run("Session"+s.name, func(t *testing.T) {
			exists, err := e.client.Session.Query().Where(session.ID(ids[s.name])).Exist(sys)
			if err != nil {
				t.Fatal(err)
			}
			if exists != s.kept {
				t.Fatalf("session exists = %v, want %v", exists, s.kept)
			}
		})
	}
	for _, a := range attempts {
		t.Run("Attempt"+a.name, func(t *testing.T) {
			got, err := e.client.LoginAttempt.Query().Where(loginattempt.Key("ip:" + a.name)).Count(sys)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[a.kept]; got != want {
				t.Fatalf("address rows = %d, want %d", got, want)
			}
		})
	}

	t.Run("SecondRunRemovesNothing", func(t *testing.T) {
		n, err := e.auth.Prune(t.Context())
		if err != nil || n != 0 {
			t.Fatalf("Prune = %d, %v; want 0, nil", n, err)
		}
	})
}
