package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestMinutesCommand: the operator's command shows, sets and grants an
// organization's call minutes; each change is the organization's to see
// in callMinutes and its activity log, and bad input changes nothing.
func TestMinutesCommand(t *testing.T) {
	l := newLiveEnv(t) // the server's default quota is liveQuota
	org := string(l.org)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := minutesCommand(context.Background(), l.db, Config{CallMinutesQuota: liveQuota}, args, &out)
		return out.String(), err
	}
	if out, err := run("show", org); err != nil || !strings.Contains(out, "quota 3, bonus 0, used 0, remaining 3") {
		t.Fatalf("show: %q, %v", out, err)
	}
	if out, err := run("plan", org, "500"); err != nil || !strings.Contains(out, "quota 500, bonus 0") {
		t.Fatalf("plan: %q, %v", out, err)
	}
	if out, err := run("grant", org, "30", "referral", "reward"); err != nil || !strings.Contains(out, "quota 500, bonus 30, used 0, remaining 530") {
		t.Fatalf("grant: %q, %v", out, err)
	}
	if m := l.minutes(l.tn.ownerToken); m.QuotaMinutes != 500 || m.BonusMinutes != 30 || m.RemainingMinutes != 530 {
		t.Fatalf("callMinutes %+v", m)
	}
	var log struct {
		ActivityLog struct {
			Edges []struct{ Node struct{ Action string } }
		}
	}
	l.must(l.tn.ownerToken, `{ activityLog(first: 10) { edges { node { action } } } }`, nil, &log)
	var actions []string
	for _, e := range log.ActivityLog.Edges {
		actions = append(actions, e.Node.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "CALL_BONUS_MINUTES_GRANTED") || !strings.Contains(got, "CALL_MINUTES_PLAN_CHANGED") {
		t.Fatalf("activity %s", got)
	}
	if out, err := run("plan", org, "default"); err != nil || !strings.Contains(out, "quota 3, bonus 30") {
		t.Fatalf("plan default: %q, %v", out, err)
	}

	for _, args := range [][]string{
		{}, {"show"}, {"grant", org}, {"refund", org, "5"}, {"show", org, "extra"},
	} {
		if _, err := run(args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want the usage", args, err)
		}
	}
	for _, args := range [][]string{
		{"grant", "usr_01JD3Q2V5Z8N4M7K1P6R9T0W2X", "5"}, // not an organization
		{"grant", org, "five"},
		{"grant", org, "0"},
		{"plan", org, "-1"},
		{"grant", "org_01JD3Q2V5Z8N4M7K1P6R9T0W2X", "5"}, // no such organization
	} {
		if _, err := run(args...); err == nil || errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a refusal", args, err)
		}
	}
	if m := l.minutes(l.tn.ownerToken); m.QuotaMinutes != 3 || m.BonusMinutes != 30 {
		t.Fatalf("refusals changed the minutes: %+v", m)
	}
}
