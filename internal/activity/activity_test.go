package activity_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entactivity "github.com/dakenh/dakenh/ent/activity"
	// The runtime registers the schema's policies, hooks and defaults.
	_ "github.com/dakenh/dakenh/ent/runtime"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestSecretKey(t *testing.T) {
	for k, secret := range map[string]bool{
		"accessToken": true, "refresh_token": true, "webhookSecret": true, "appSecret": true, "password": true,
		"newPassword": true, "keyHash": true, "key": true, "apiKey": true, "APIKey": true, "api_key": true,
		"accessKey": true, "privateKey": true, "accesstoken": true, "verifyToken": true, "signature": true,
		"credentials": true, "passwordHash": true, "pageAccessToken": true,
		"name": false, "prefix": false, "keyPrefix": false, "apiKeyId": false, "fieldKey": false, "scopes": false,
		"changes": false, "from": false, "to": false, "chatPermission": false, "alsoChanged": false, "monkey": false,
	} {
		if got := activity.SecretKey(k); got != secret {
			t.Errorf("SecretKey(%q) = %v, want %v", k, got, secret)
		}
	}
}

func TestChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	later := t0.Add(time.Hour)
	type role string
	type thing struct {
		Name        string     `json:"name,omitempty"`
		Role        role       `json:"role,omitempty"`
		Timeout     int        `json:"offer_timeout_seconds,omitempty"`
		Expires     *time.Time `json:"expires_at,omitempty"`
		AccessToken string     `json:"access_token,omitempty"`
		Sealed      []byte     `json:"-"`
		UpdatedAt   time.Time  `json:"updated_at,omitempty"`
		Edges       struct{}   `json:"edges"`
	}
	for _, tc := range []struct {
		name          string
		before, after any
		want          string
	}{
		{"Nothing", thing{Name: "a", Timeout: 30}, thing{Name: "a", Timeout: 30, UpdatedAt: later}, `{}`},
		{"Fields", &thing{Name: "a", Timeout: 30, Role: "AGENT"}, &thing{Name: "b", Timeout: 0, Role: "ADMIN"},
			`{"name":{"from":"a","to":"b"},"offerTimeoutSeconds":{"from":30,"to":0},"role":{"from":"AGENT","to":"ADMIN"}}`},
		{"SecretsNever", thing{AccessToken: "old", Sealed: []byte("x")}, thing{AccessToken: "new", Sealed: []byte("y")}, `{}`},
		{"PointerTimes", thing{Expires: &t0}, thing{Expires: &later},
			`{"expiresAt":{"from":"2026-12-01T09:00:00Z","to":"2026-12-01T10:00:00Z"}}`},
		{"SameInstant", thing{Expires: &t0}, thing{Expires: new(t0.In(time.FixedZone("ICT", 7*3600)))}, `{}`},
		{"Cleared", thing{Expires: &t0}, thing{}, `{"expiresAt":{"from":"2026-12-01T09:00:00Z","to":null}}`},
		{"Maps", map[string]any{"agent_ids": []string{"a"}, "name": "x", "gone": 1}, map[string]any{"agent_ids": []string{"a", "b"}, "name": "x"},
			`{"agentIds":{"from":["a"],"to":["a","b"]},"gone":{"from":1,"to":null}}`},
		{"NilListIsEmpty", map[string]any{"windows": nil}, map[string]any{"windows": []string{}}, `{}`},
		{"FromNil", nil, map[string]any{"name": "x", "password": "p"}, `{"name":{"from":null,"to":"x"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(activity.Changes(tc.before, tc.after))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got %s, want %s", b, tc.want)
			}
		})
	}
}

// org is a fresh organization with an OWNER, an AGENT and an API key.
type org struct {
	client                *ent.Client
	id, owner, agent, key gid.ID
}

func newOrg(t *testing.T) *org {
	t.Helper()
	client := dbtest.Open(t).Client
	ctx := viewer.SystemContext(t.Context(), "")
	o := client.Organization.Create().SetName("Hoa Lan").SaveX(ctx)
	in := viewer.SystemContext(t.Context(), o.ID)
	user := func(email string, role viewer.Role) gid.ID {
		return client.User.Create().SetName(email).SetEmail(email).SetPasswordHash("x").SetRole(role).SaveX(in).ID
	}
	k := client.APIKey.Create().SetName("partner").SetPrefix("dk_abc").SetKeyHash([]byte("hash")).
		SetScopes([]viewer.Scope{viewer.ScopeRead, viewer.ScopeWrite}).SaveX(in)
	return &org{client: client, id: o.ID, owner: user("owner@hoa.vn", viewer.RoleOwner), agent: user("agent@hoa.vn", viewer.RoleAgent), key: k.ID}
}

func (o *org) as(t *testing.T, v *viewer.Viewer) context.Context {
	v.OrgID = o.id
	return viewer.NewContext(t.Context(), v)
}

// record records e in a transaction of ctx and commits it, or rolls back
// when commit is false.
func (o *org) record(t *testing.T, ctx context.Context, e activity.Entry, commit bool) error {
	t.Helper()
	tx, err := o.client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := activity.Record(ctx, tx, e); err != nil {
		_ = tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}

func (o *org) entries(t *testing.T) []*ent.Activity {
	t.Helper()
	return o.client.Activity.Query().Order(entactivity.ByID()).AllX(viewer.SystemContext(t.Context(), o.id))
}

func TestRecord(t *testing.T) {
	o := newOrg(t)
	owner := o.as(t, &viewer.Viewer{UserID: o.owner, Role: viewer.RoleOwner})
	key := o.as(t, &viewer.Viewer{APIKeyID: o.key, Scopes: []viewer.Scope{viewer.ScopeWrite}})
	system := viewer.SystemContext(t.Context(), o.id)

	t.Run("OK", func(t *testing.T) {
		if err := o.record(t, owner, activity.Entry{Action: activity.RuleUpdated, SubjectID: "rul_x",
			Details: map[string]any{"name": "A", "changes": activity.Changes(map[string]any{"name": "a"}, map[string]any{"name": "A"})}}, true); err != nil {
			t.Fatal(err)
		}
		if err := o.record(t, key, activity.Entry{Action: activity.TagCreated}, true); err != nil {
			t.Fatal(err)
		}
		if err := o.record(t, system, activity.Entry{Action: activity.CallOperatorRemoved}, true); err != nil {
			t.Fatal(err)
		}
		got := o.entries(t)
		if len(got) != 3 {
			t.Fatalf("%d entries", len(got))
		}
		b, _ := json.Marshal(got[0].Details)
		if got[0].Action != "RULE_UPDATED" || *got[0].ActorID != o.owner || got[0].APIKeyID != nil || *got[0].SubjectID != "rul_x" ||
			string(b) != `{"changes":{"name":{"from":"a","to":"A"}},"name":"A"}` {
			t.Errorf("user entry %+v %s", got[0], b)
		}
		if got[1].ActorID != nil || *got[1].APIKeyID != o.key || got[1].SubjectID != nil || got[1].ChannelID != nil {
			t.Errorf("API key entry %+v", got[1])
		}
		if got[2].ActorID != nil || got[2].APIKeyID != nil {
			t.Errorf("system entry %+v", got[2])
		}
	})

	n := len(o.entries(t))
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		details map[string]any
		want    string
	}{
		{"ErrSecretKey", owner, map[string]any{"accessToken": "x"}, "details.accessToken looks like a secret"},
		{"ErrNestedSecretKey", owner, map[string]any{"changes": map[string]any{"webhookSecret": activity.Change{From: "a", To: "b"}}}, "details.changes.webhookSecret"},
		{"ErrSecretInList", owner, map[string]any{"items": []any{map[string]any{"password": "p"}}}, "details.items[0].password"},
		{"ErrNotJSON", owner, map[string]any{"f": func() {}}, "not JSON"},
		{"ErrNoViewer", t.Context(), nil, "needs a viewer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := o.record(t, tc.ctx, activity.Entry{Action: activity.ChannelConnected, Details: tc.details}, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("RolledBackWithItsTransaction", func(t *testing.T) {
		if err := o.record(t, owner, activity.Entry{Action: activity.RuleCreated}, false); err != nil {
			t.Fatal(err)
		}
	})
	if got := len(o.entries(t)); got != n {
		t.Fatalf("refused or rolled back entries were written: %d more", got-n)
	}

	t.Run("NobodyWritesThroughTheAPI", func(t *testing.T) {
		if err := o.client.Activity.Create().SetAction("FORGED").Exec(owner); err == nil {
			t.Fatal("an OWNER created an entry directly")
		}
		if _, err := o.client.Activity.Delete().Exec(owner); err == nil {
			t.Fatal("an OWNER deleted entries")
		}
	})
	t.Run("AdminsRead", func(t *testing.T) {
		if _, err := o.client.Activity.Query().All(owner); err != nil {
			t.Fatalf("OWNER: %v", err)
		}
		agent := o.as(t, &viewer.Viewer{UserID: o.agent, Role: viewer.RoleAgent})
		for name, ctx := range map[string]context.Context{"AGENT": agent, "APIKey": key} {
			if _, err := o.client.Activity.Query().All(ctx); err == nil {
				t.Errorf("%s read the log", name)
			}
		}
	})
}
