package automessage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entautomessage "github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/ent/channel"
	_ "github.com/dakenh/dakenh/ent/runtime" // policies, hooks and defaults
	"github.com/dakenh/dakenh/graph"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/automessage"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// org is an organization with an OWNER, an AGENT and a Zalo OA channel.
type org struct {
	id           gid.ID
	owner, agent *ent.User
	ch           *ent.Channel
}

// newOrg creates an organization, its users and a channel connected by the
// OWNER, on client.
func newOrg(t *testing.T, client *ent.Client, name string) *org {
	t.Helper()
	sys := viewer.SystemContext(context.Background(), "")
	o := &org{id: client.Organization.Create().SetName(name).SaveX(sys).ID}
	sys = viewer.SystemContext(context.Background(), o.id)
	user := func(role viewer.Role) *ent.User {
		id := gid.New("User")
		return client.User.Create().SetID(id).SetName(string(role)).
			SetEmail(strings.ToLower(string(id)) + "@example.vn").SetPasswordHash("x").SetRole(role).SaveX(sys)
	}
	o.owner, o.agent = user(viewer.RoleOwner), user(viewer.RoleAgent)
	o.ch = o.newChannel(t, client)
	return o
}

// newChannel connects another Zalo OA to the organization.
func (o *org) newChannel(t *testing.T, client *ent.Client) *ent.Channel {
	t.Helper()
	return client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID(string(gid.New("Channel"))).
		SetName("Shop OA").SetConnectedByID(o.owner.ID).SetLastConnectedAt(time.Now()).
		SaveX(viewer.SystemContext(context.Background(), o.id))
}

// as returns a context acting as u.
func (o *org) as(u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: o.id, UserID: u.ID, Role: u.Role})
}

func ptr[T any](v T) *T { return &v }

// presented returns the API error err is presented as, as the server's
// error presenter classifies it, or nil for nil.
func presented(err error) *apierr.Error {
	if err == nil {
		return nil
	}
	if e, ok := apierr.As(err); ok {
		return e
	}
	if e := graph.ClassifyError(err); e != nil {
		return e
	}
	return &apierr.Error{Code: apierr.Internal, Err: err}
}

// code returns the extensions.code err is presented with, "" for nil.
func code(err error) string {
	if e := presented(err); e != nil {
		return string(e.Code)
	}
	return ""
}

// field returns the extensions.field err is presented with.
func field(err error) string {
	if e := presented(err); e != nil {
		return e.Field
	}
	return ""
}

func TestCreate(t *testing.T) {
	db := dbtest.Open(t)
	tenancy.Guard(db.Client)
	o := newOrg(t, db.Client, "Hoa Lan")
	other := newOrg(t, db.Client, "Other")
	second := o.newChannel(t, db.Client)
	owner := o.as(o.owner)

	greeting := func(path string) automessage.CreateInput {
		return automessage.CreateInput{ChannelID: o.ch.ID, Kind: entautomessage.KindGREETING,
			Title: ptr("Chào mừng"), Path: ptr(path), Contents: []string{"Shop có thể giúp gì ạ?"}, DelaySeconds: ptr(5)}
	}
	seq := func(kind entautomessage.Kind, delay int, contents ...string) automessage.CreateInput {
		return automessage.CreateInput{ChannelID: o.ch.ID, Kind: kind, Contents: contents, DelaySeconds: ptr(delay)}
	}
	with := func(in automessage.CreateInput, f func(*automessage.CreateInput)) automessage.CreateInput {
		f(&in)
		return in
	}
	// Each case runs after the ones before it: the OK cases fill the
	// channel that the conflict cases then clash with.
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		in    automessage.CreateInput
		code  apierr.Code
		field string
	}{
		{"OKGreeting", owner, greeting("/"), "", ""},
		{"OKGreetingOtherPath", owner, greeting("/khuyen-mai"), "", ""},
		{"OKGreetingSamePathOtherChannel", owner, with(greeting("/"), func(in *automessage.CreateInput) { in.ChannelID = second.ID }), "", ""},
		{"OKStart", owner, with(seq(entautomessage.KindSTART, 0, "Xin chào", "Shop đây ạ"), func(in *automessage.CreateInput) { in.IntervalSeconds = ptr(30) }), "", ""},
		{"OKNoReplyAt60", owner, seq(entautomessage.KindNO_REPLY, 60, "Anh chị chờ chút ạ"), "", ""},
		{"OKOfflineAt60", owner, seq(entautomessage.KindOFFLINE, 60, "Shop đang offline"), "", ""},
		{"ErrGreetingPathTaken", owner, greeting("/khuyen-mai"), apierr.Conflict, "path"},
		{"ErrGreetingPathTakenAfterTrim", owner, greeting("  /khuyen-mai "), apierr.Conflict, "path"},
		{"ErrGreetingNoPath", owner, with(greeting(""), func(in *automessage.CreateInput) { in.Path = nil }), apierr.BadUserInput, "path"},
		{"ErrGreetingBlankPath", owner, greeting("   "), apierr.BadUserInput, "path"},
		{"ErrGreetingPathNotAPath", owner, greeting("khuyen-mai"), apierr.BadUserInput, "path"},
		{"ErrGreetingPathWithSpace", owner, greeting("/khuyen mai"), apierr.BadUserInput, "path"},
		{"ErrGreetingTwoContents", owner, with(greeting("/a"), func(in *automessage.CreateInput) { in.Contents = []string{"a", "b"} }), apierr.BadUserInput, "contents"},
		{"ErrGreetingInterval", owner, with(greeting("/b"), func(in *automessage.CreateInput) { in.IntervalSeconds = ptr(10) }), apierr.BadUserInput, "intervalSeconds"},
		{"ErrNoReplyDelayUnder60", owner, seq(entautomessage.KindNO_REPLY, 59, "x"), apierr.BadUserInput, "delaySeconds"},
		{"ErrNoReplyNoDelay", owner, with(seq(entautomessage.KindNO_REPLY, 0, "x"), func(in *automessage.CreateInput) { in.DelaySeconds = nil }), apierr.BadUserInput, "delaySeconds"},
		{"ErrOfflineDelayUnder60", owner, seq(entautomessage.KindOFFLINE, 30, "x"), apierr.BadUserInput, "delaySeconds"},
		{"ErrNegativeDelay", owner, seq(entautomessage.KindSTART, -1, "x"), apierr.BadUserInput, "delaySeconds"},
		{"ErrDelayOverAWeek", owner, seq(entautomessage.KindSTART, 7*24*3600+1, "x"), apierr.BadUserInput, "delaySeconds"},
		{"ErrNegativeInterval", owner, with(seq(entautomessage.KindSTART, 0, "x"), func(in *automessage.CreateInput) { in.IntervalSeconds = ptr(-5) }), apierr.BadUserInput, "intervalSeconds"},
		{"ErrStartNoContents", owner, seq(entautomessage.KindSTART, 0), apierr.BadUserInput, "contents"},
		{"ErrNoReplyBlankContent", owner, seq(entautomessage.KindNO_REPLY, 60, "ok", "  "), apierr.BadUserInput, "contents"},
		{"ErrContentTooLong", owner, seq(entautomessage.KindOFFLINE, 60, strings.Repeat("ă", inbox.MaxTextLength+1)), apierr.BadUserInput, "contents"},
		{"ErrPathOnStart", owner, with(seq(entautomessage.KindSTART, 0, "x"), func(in *automessage.CreateInput) { in.Path = ptr("/") }), apierr.BadUserInput, "path"},
		{"ErrResendOnOffline", owner, with(seq(entautomessage.KindOFFLINE, 60, "x"), func(in *automessage.CreateInput) { in.ResendAsMessage = ptr(true) }), apierr.BadUserInput, "resendAsMessage"},
		{"ErrSecondStart", owner, seq(entautomessage.KindSTART, 0, "again"), apierr.Conflict, ""},
		{"ErrUnknownKind", owner, seq("LATER", 0, "x"), apierr.BadUserInput, "kind"},
		{"ErrAgent", o.as(o.agent), with(seq(entautomessage.KindSTART, 0, "x"), func(in *automessage.CreateInput) { in.ChannelID = second.ID }), apierr.Forbidden, ""},
		{"ErrOtherOrgsChannel", owner, with(seq(entautomessage.KindSTART, 0, "x"), func(in *automessage.CreateInput) { in.ChannelID = other.ch.ID }), apierr.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Client.AutoMessage.Query().CountX(viewer.SystemContext(context.Background(), ""))
			a, err := automessage.Create(tc.ctx, db.Client, tc.in)
			if got := code(err); got != string(tc.code) {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if tc.code == "" {
				if a.Path != nil && *a.Path != strings.TrimSpace(*tc.in.Path) {
					t.Errorf("path %q stored untrimmed", *a.Path)
				}
				return
			}
			if tc.field != "" && field(err) != tc.field {
				t.Errorf("field %q, want %q", field(err), tc.field)
			}
			if after := db.Client.AutoMessage.Query().CountX(viewer.SystemContext(context.Background(), "")); after != before {
				t.Errorf("%d auto-messages stored by a refused create", after-before)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	db := dbtest.Open(t)
	tenancy.Guard(db.Client)
	o := newOrg(t, db.Client, "Hoa Lan")
	other := newOrg(t, db.Client, "Other")
	owner := o.as(o.owner)
	create := func(in automessage.CreateInput) *ent.AutoMessage {
		in.ChannelID = o.ch.ID
		a, err := automessage.Create(owner, db.Client, in)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	home := create(automessage.CreateInput{Kind: entautomessage.KindGREETING, Path: ptr("/"), Contents: []string{"Chào"}})
	sale := create(automessage.CreateInput{Kind: entautomessage.KindGREETING, Path: ptr("/sale"), Contents: []string{"Giảm giá"}})
	noReply := create(automessage.CreateInput{Kind: entautomessage.KindNO_REPLY, DelaySeconds: ptr(90), Contents: []string{"Chờ chút ạ"}})

	for _, tc := range []struct {
		name  string
		ctx   context.Context
		id    gid.ID
		in    automessage.UpdateInput
		code  apierr.Code
		field string
	}{
		{"OKNoReplyDelay", owner, noReply.ID, automessage.UpdateInput{DelaySeconds: ptr(60), Contents: []string{" Một ", "Hai"}}, "", ""},
		{"OKGreetingKeepsItsOwnPath", owner, home.ID, automessage.UpdateInput{Path: ptr("/"), DelaySeconds: ptr(0)}, "", ""},
		{"OKDisable", owner, sale.ID, automessage.UpdateInput{Enabled: ptr(false)}, "", ""},
		{"ErrNoReplyDelayUnder60", owner, noReply.ID, automessage.UpdateInput{DelaySeconds: ptr(59)}, apierr.BadUserInput, "delaySeconds"},
		{"ErrNoReplyNoContents", owner, noReply.ID, automessage.UpdateInput{Contents: []string{}}, apierr.BadUserInput, "contents"},
		{"ErrNoReplyPath", owner, noReply.ID, automessage.UpdateInput{Path: ptr("/x")}, apierr.BadUserInput, "path"},
		{"ErrGreetingPathTaken", owner, home.ID, automessage.UpdateInput{Path: ptr("/sale")}, apierr.Conflict, "path"},
		{"ErrGreetingPathCleared", owner, home.ID, automessage.UpdateInput{Path: ptr(" ")}, apierr.BadUserInput, "path"},
		{"ErrAgent", o.as(o.agent), noReply.ID, automessage.UpdateInput{DelaySeconds: ptr(120)}, apierr.Forbidden, ""},
		{"ErrOtherOrg", other.as(other.owner), noReply.ID, automessage.UpdateInput{DelaySeconds: ptr(120)}, apierr.NotFound, ""},
		{"ErrUnknown", owner, gid.New("AutoMessage"), automessage.UpdateInput{DelaySeconds: ptr(120)}, apierr.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := viewer.SystemContext(context.Background(), o.id)
			before, _ := db.Client.AutoMessage.Get(sys, tc.id)
			a, err := automessage.Update(tc.ctx, db.Client, tc.id, tc.in)
			if got := code(err); got != string(tc.code) {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if tc.code == "" {
				if tc.in.Contents != nil && strings.Join(a.Contents, "|") != "Một|Hai" {
					t.Errorf("contents %q, want trimmed", a.Contents)
				}
				return
			}
			if tc.field != "" && field(err) != tc.field {
				t.Errorf("field %q, want %q", field(err), tc.field)
			}
			if after, _ := db.Client.AutoMessage.Get(sys, tc.id); before != nil && !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("a refused update changed the row: %+v", after)
			}
		})
	}

	t.Run("ErrBulkUpdateOfARuledField", func(t *testing.T) {
		if err := db.Client.AutoMessage.Update().SetDelaySeconds(1).Exec(owner); err == nil {
			t.Fatal("a bulk update set every delay to 1 s, NO_REPLY's included")
		}
	})
	t.Run("BulkDisable", func(t *testing.T) {
		if err := db.Client.AutoMessage.Update().SetEnabled(false).Exec(owner); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDelete(t *testing.T) {
	db := dbtest.Open(t)
	o := newOrg(t, db.Client, "Hoa Lan")
	other := newOrg(t, db.Client, "Other")
	a, err := automessage.Create(o.as(o.owner), db.Client, automessage.CreateInput{
		ChannelID: o.ch.ID, Kind: entautomessage.KindSTART, Contents: []string{"Xin chào"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		code apierr.Code
	}{
		{"ErrAgent", o.as(o.agent), apierr.Forbidden},
		{"ErrOtherOrg", other.as(other.owner), apierr.NotFound},
		{"OK", o.as(o.owner), ""},
		{"ErrGone", o.as(o.owner), apierr.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(db.Client.AutoMessage.DeleteOneID(a.ID).Exec(tc.ctx)); got != string(tc.code) {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestShowsPopup(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    ent.AutoMessage
		want bool
	}{
		{"Greeting", ent.AutoMessage{Kind: entautomessage.KindGREETING, DelaySeconds: 5, Enabled: true}, true},
		{"GreetingDelay0IsHidden", ent.AutoMessage{Kind: entautomessage.KindGREETING, DelaySeconds: 0, Enabled: true}, false},
		{"GreetingDisabled", ent.AutoMessage{Kind: entautomessage.KindGREETING, DelaySeconds: 5}, false},
		{"Start", ent.AutoMessage{Kind: entautomessage.KindSTART, DelaySeconds: 5, Enabled: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := automessage.ShowsPopup(&tc.a); got != tc.want {
				t.Fatalf("ShowsPopup = %v, want %v", got, tc.want)
			}
		})
	}
}
