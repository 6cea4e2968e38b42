package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	entcall "github.com/dakenh/dakenh/ent/call"
	"github.com/dakenh/dakenh/ent/channel"
	entevent "github.com/dakenh/dakenh/ent/event"
	"github.com/dakenh/dakenh/ent/privacy"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/zalo/zalofake"
)

// callEnv is a webhookEnv on the test clock whose OA has a customer who
// wrote to it and has a phone number. The clock shows Saturday
// 2026-11-21, 16:00 in Vietnam.
type callEnv struct {
	*webhookEnv
	customer gid.ID
	zaloUser string
}

func newCallEnv(t *testing.T) *callEnv {
	t.Helper()
	c := &callEnv{webhookEnv: newWebhookEnv(t, onTheTestClock), zaloUser: "zu-caller-1"}
	c.customer = c.customerWhoWrote(c.zaloUser, "0912345678")
	return c
}

// customerWhoWrote makes a Zalo user write to the OA and gives the
// customer it became the phone number.
func (c *callEnv) customerWhoWrote(zaloUser, phone string) gid.ID {
	c.t.Helper()
	c.sendZalo(c.userEvent("user_send_text", zaloUser, map[string]any{"msg_id": c.msgID("zm"), "text": "Cho tôi hỏi"}))
	c.process()
	id := c.identityOf(c.oa, zaloUser).CustomerID
	if phone != "" {
		c.must(c.tn.adminToken, `mutation($id: ID!, $p: String!) { updateCustomer(id: $id, input: {phone: $p}) { id } }`,
			map[string]any{"id": id, "p": phone}, nil)
	}
	return id
}

// The operations under test.
const (
	callSettingsQuery = `query($c: ID!) { callSettings(channelId: $c) {
		channel { id } enabled timezone windows { weekdays start end } closedDates outOfHoursReply busyReply } }`
	updateCallSettingsMutation = `mutation($c: ID!, $in: CallSettingsInput!) { updateCallSettings(channelId: $c, input: $in) {
		enabled timezone windows { weekdays start end } closedDates outOfHoursReply busyReply } }`
	addCallOperatorMutation = `mutation($in: AddCallOperatorInput!) { addCallOperator(input: $in) {
		id role channel { id } user { id } addedBy { id } createdAt } }`
	callOperatorsQuery            = `query($c: ID!) { callOperators(channelId: $c) { id role user { id } } }`
	requestCallPermissionMutation = `mutation($in: RequestCallPermissionInput!) { requestCallPermission(input: $in) {
		id status reason callType requestedBy { id } requestedAt grantedAt expiresAt channel { id } customer { id } } }`
	callPermissionQuery = `query($c: ID!, $u: ID!) { callPermission(channelId: $c, customerId: $u) {
		id status reason callType requestedAt grantedAt expiresAt } }`
	startCallMutation = `mutation($in: StartCallInput!) { startCall(input: $in) {
		link qrCode expiresAt call { id direction kind status result operator { id } customer { id } channel { id }
		startedAt answeredAt endedAt durationSeconds recordingUrl providerCallId } } }`
)

// everyDay is a window open 08:00–20:00 every day.
var everyDay = []map[string]any{{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}, "start": "08:00", "end": "20:00"}}

type settingsOut struct {
	Channel  struct{ ID gid.ID }
	Enabled  bool
	Timezone string
	Windows  []struct {
		Weekdays   []string
		Start, End string
	}
	ClosedDates     []string
	OutOfHoursReply string
	BusyReply       string
}

type permissionOut struct {
	ID          gid.ID
	Status      string
	Reason      string
	CallType    string
	RequestedBy *struct{ ID string }
	RequestedAt time.Time
	GrantedAt   *time.Time
	ExpiresAt   *time.Time
}

type ticketOut struct {
	Link, QRCode string
	ExpiresAt    time.Time
	Call         struct {
		ID                           gid.ID
		Direction, Kind, Status      string
		Result                       *string
		Operator                     *struct{ ID string }
		Customer, Channel            struct{ ID gid.ID }
		StartedAt                    time.Time
		AnsweredAt, EndedAt          *time.Time
		DurationSeconds              *int
		RecordingURL, ProviderCallID *string
	}
}

func (c *callEnv) settings(token string, in map[string]any) *gqlResponse {
	c.t.Helper()
	return c.gql(token, updateCallSettingsMutation, map[string]any{"c": c.oa.ID, "in": in})
}

func (c *callEnv) addOperator(token, userID, role string) *gqlResponse {
	c.t.Helper()
	return c.gql(token, addCallOperatorMutation, map[string]any{"in": map[string]any{"channelId": c.oa.ID, "userId": userID, "role": role}})
}

func (c *callEnv) requestPermission(token string, customer gid.ID) *gqlResponse {
	c.t.Helper()
	return c.gql(token, requestCallPermissionMutation, map[string]any{"in": map[string]any{
		"channelId": c.oa.ID, "customerId": customer, "reason": "CONSULTATION", "callType": "AUDIO",
	}})
}

func (c *callEnv) permission(customer gid.ID) *permissionOut {
	c.t.Helper()
	var out struct{ CallPermission *permissionOut }
	c.must(c.tn.adminToken, callPermissionQuery, map[string]any{"c": c.oa.ID, "u": customer}, &out)
	return out.CallPermission
}

func (c *callEnv) startCall(token string, customer gid.ID, kind string) *gqlResponse {
	c.t.Helper()
	return c.gql(token, startCallMutation, map[string]any{"in": map[string]any{"channelId": c.oa.ID, "customerId": customer, "kind": kind}})
}

// consent posts a call permission webhook about phone (Zalo's 84… form)
// and processes it.
func (c *callEnv) consent(name, phone string, fields map[string]any) {
	c.t.Helper()
	ev := map[string]any{
		"app_id": testZaloAppID, "oa_id": testOAID, "event_name": name, "phone": phone,
		"timestamp": strconv.FormatInt(ms(c.clock.Now().Add(-time.Second)), 10),
	}
	for k, v := range fields {
		ev[k] = v
	}
	c.sendZalo(ev)
	c.process()
}

// grant makes the customer allow the OA's calls, until expired (0: Zalo
// gives no end).
func (c *callEnv) grant(phone string, expired int64) {
	c.t.Helper()
	c.consent("user_reply_consent", phone, map[string]any{
		"user_consent": "ALLOW", "confirmed_time": strconv.FormatInt(ms(c.clock.Now().Add(-time.Second)), 10),
		"expired_time": strconv.FormatInt(expired, 10),
	})
}

// runTimers moves the clock by d and runs the timers of app that came due.
func (c *callEnv) runTimers(app *App, d time.Duration) int {
	c.t.Helper()
	c.clock.Advance(d)
	n, err := app.timers.RunDue(context.Background())
	if err != nil {
		c.t.Fatalf("RunDue: %v", err)
	}
	return n
}

// callEvents returns the types of the CALL events after seq, with the
// last seq.
func (c *callEnv) callEvents(after int64) ([]string, int64) {
	c.t.Helper()
	evs, err := c.db.Client.Event.Query().
		Where(entevent.OrganizationID(c.org), entevent.SeqGT(after)).
		Order(entevent.BySeq()).
		All(privacy.DecisionContext(c.sys(), privacy.Allow))
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	last := after
	for _, e := range evs {
		last = e.Seq
		if e.Topic != entevent.TopicCALL {
			continue
		}
		subject := e.CallID
		if subject == "" {
			subject = e.CallPermissionID
		}
		if subject == "" || e.ChannelID != c.oa.ID {
			c.t.Fatalf("CALL event %s names no subject or channel: %+v", e.Type, e)
		}
		out = append(out, e.Type)
	}
	return out, last
}

// reasonOf returns the code and extensions.reason of the first error.
func reasonOf(r *gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	reason, _ := r.Errors[0].Extensions["reason"].(string)
	return r.code() + "/" + reason
}

func TestCallSettings(t *testing.T) {
	c := newCallEnv(t)
	t.Run("Defaults", func(t *testing.T) {
		var out struct{ CallSettings settingsOut }
		c.must(c.tn.adminToken, callSettingsQuery, map[string]any{"c": c.oa.ID}, &out)
		s := out.CallSettings
		if s.Enabled || s.Timezone != "Asia/Ho_Chi_Minh" || len(s.Windows) != 0 || len(s.ClosedDates) != 0 || s.Channel.ID != c.oa.ID {
			t.Fatalf("defaults = %+v", s)
		}
	})
	good := map[string]any{
		"enabled": true,
		"windows": []map[string]any{
			{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI"}, "start": "08:00", "end": "12:00"},
			{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI"}, "start": "13:30", "end": "17:30"},
			{"weekdays": []string{"SAT"}, "start": "08:00", "end": "11:00"},
		},
		"closedDates":     []string{"2027-02-06", "2027-02-07"},
		"outOfHoursReply": "Tổng đài làm việc 8:00–17:30, thứ Hai đến thứ Sáu.",
		"busyReply":       "Các tư vấn viên đang bận, chúng tôi sẽ gọi lại.",
	}
	t.Run("OK", func(t *testing.T) {
		var out struct{ UpdateCallSettings settingsOut }
		c.settings(c.tn.adminToken, good).decode(t, &out)
		s := out.UpdateCallSettings
		if !s.Enabled || len(s.Windows) != 3 || s.Windows[1].Start != "13:30" || s.Windows[2].Weekdays[0] != "SAT" ||
			len(s.ClosedDates) != 2 || s.BusyReply == "" || s.Timezone != "Asia/Ho_Chi_Minh" {
			t.Fatalf("saved %+v", s)
		}
		// Fields left out keep their value.
		c.settings(c.tn.ownerToken, map[string]any{"timezone": "Asia/Bangkok"}).decode(t, &out)
		if out.UpdateCallSettings.Timezone != "Asia/Bangkok" || len(out.UpdateCallSettings.Windows) != 3 || !out.UpdateCallSettings.Enabled {
			t.Fatalf("partial update %+v", out.UpdateCallSettings)
		}
	})
	var before struct{ CallSettings settingsOut }
	c.must(c.tn.adminToken, callSettingsQuery, map[string]any{"c": c.oa.ID}, &before)
	win := func(start, end string, days ...string) []map[string]any {
		if days == nil {
			days = []string{}
		}
		return []map[string]any{{"weekdays": []string{"MON"}, "start": "08:00", "end": "17:00"}, {"weekdays": days, "start": start, "end": end}}
	}
	for _, tc := range []struct {
		name  string
		in    map[string]any
		field string
	}{
		{"ErrEndBeforeStart", map[string]any{"enabled": false, "windows": win("17:00", "08:00", "TUE")}, "input.windows[1].end"},
		{"ErrEndEqualsStart", map[string]any{"windows": win("09:00", "09:00", "TUE")}, "input.windows[1].end"},
		{"ErrBadTime", map[string]any{"windows": win("9h", "17:00", "TUE")}, "input.windows[1].start"},
		{"ErrNoWeekday", map[string]any{"windows": win("09:00", "17:00")}, "input.windows[1].weekdays"},
		{"ErrUnknownWeekday", map[string]any{"windows": win("09:00", "17:00", "TUE", "FUNDAY")}, "input.windows[1].weekdays[1]"},
		{"ErrUnknownZone", map[string]any{"enabled": false, "timezone": "Asia/Hanoi"}, "input.timezone"},
		{"ErrBadClosedDate", map[string]any{"closedDates": []string{"2027-02-06", "2027-13-01"}}, "input.closedDates[1]"},
		{"ErrReplyTooLong", map[string]any{"busyReply": string(make([]byte, 2001))}, "input.busyReply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.settings(c.tn.adminToken, tc.in)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %q %+v, want BAD_USER_INPUT on %s", r.code(), r.Errors, tc.field)
			}
			var after struct{ CallSettings settingsOut }
			c.must(c.tn.adminToken, callSettingsQuery, map[string]any{"c": c.oa.ID}, &after)
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("settings changed: %+v, were %+v", after, before)
			}
		})
	}
	t.Run("ErrAgent", func(t *testing.T) {
		for _, q := range []*gqlResponse{
			c.settings(c.tn.agentToken, good),
			c.gql(c.tn.agentToken, callSettingsQuery, map[string]any{"c": c.oa.ID}),
		} {
			if q.code() != "FORBIDDEN" {
				t.Fatalf("agent: %q %+v", q.code(), q.Errors)
			}
		}
	})
	t.Run("ErrNotZaloOA", func(t *testing.T) {
		r := c.gql(c.tn.adminToken, updateCallSettingsMutation, map[string]any{"c": c.page.ID, "in": good})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "channelId" {
			t.Fatalf("page: %q %+v", r.code(), r.Errors)
		}
	})
}

func TestCallOperators(t *testing.T) {
	c := newCallEnv(t)
	users := make([]string, 10)
	for i := range users {
		users[i], _, _ = c.createUser(c.tn.ownerToken, "AGENT")
	}
	t.Run("AtMostFiveUnderConcurrency", func(t *testing.T) {
		results := make([]*gqlResponse, len(users))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				token := c.tn.adminToken
				if i%2 == 1 {
					token = c.tn.ownerToken // two admins at once
				}
				results[i] = c.addOperator(token, u, "CUSTOMER_CARE")
			}()
		}
		close(start)
		wg.Wait()
		added, limited := 0, 0
		for i, r := range results {
			switch reasonOf(r) {
			case "":
				added++
			case "FAILED_PRECONDITION/OPERATOR_LIMIT":
				limited++
			default:
				t.Errorf("add %d: %s %+v", i, reasonOf(r), r.Errors)
			}
		}
		var out struct{ CallOperators []struct{ ID string } }
		c.must(c.tn.agentToken, callOperatorsQuery, map[string]any{"c": c.oa.ID}, &out)
		if added != 5 || limited != 5 || len(out.CallOperators) != 5 {
			t.Fatalf("added %d, refused %d, listed %d; want 5, 5, 5", added, limited, len(out.CallOperators))
		}
	})
	var ops struct {
		CallOperators []struct {
			ID   gid.ID
			Role string
			User struct{ ID string }
		}
	}
	c.must(c.tn.adminToken, callOperatorsQuery, map[string]any{"c": c.oa.ID}, &ops)
	t.Run("ErrSameUserTwice", func(t *testing.T) {
		if r := c.addOperator(c.tn.adminToken, ops.CallOperators[0].User.ID, "ADMIN"); r.code() != "CONFLICT" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
	})
	t.Run("ErrAgentAdds", func(t *testing.T) {
		if r := c.addOperator(c.tn.agentToken, c.tn.agentID, "CUSTOMER_CARE"); r.code() != "FORBIDDEN" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
	})
	t.Run("DeactivatedUserStopsBeingOne", func(t *testing.T) {
		gone := ops.CallOperators[1].User.ID
		c.must(c.tn.ownerToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": gone}, nil)
		var out struct {
			CallOperators []struct{ User struct{ ID string } }
		}
		c.must(c.tn.adminToken, callOperatorsQuery, map[string]any{"c": c.oa.ID}, &out)
		for _, o := range out.CallOperators {
			if o.User.ID == gone {
				t.Fatal("a deactivated user is still listed")
			}
		}
		// The place is free again: the admin becomes the fifth.
		var added struct {
			AddCallOperator struct {
				Role    string
				User    struct{ ID string }
				AddedBy struct{ ID string }
			}
		}
		c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, &added)
		if a := added.AddCallOperator; a.Role != "ADMIN" || a.User.ID != c.tn.adminID || a.AddedBy.ID != c.tn.adminID {
			t.Fatalf("added %+v", a)
		}
		if r := c.addOperator(c.tn.ownerToken, gone, "CUSTOMER_CARE"); r.code() == "" {
			t.Fatal("a deactivated user was added")
		}
	})
	t.Run("Remove", func(t *testing.T) {
		var out struct{ RemoveCallOperator gid.ID }
		c.must(c.tn.adminToken, `mutation($id: ID!) { removeCallOperator(id: $id) }`, map[string]any{"id": ops.CallOperators[0].ID}, &out)
		if out.RemoveCallOperator != ops.CallOperators[0].ID {
			t.Fatalf("removed %s", out.RemoveCallOperator)
		}
		if r := c.gql(c.tn.adminToken, `mutation($id: ID!) { removeCallOperator(id: $id) }`, map[string]any{"id": ops.CallOperators[0].ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("second remove: %s", reasonOf(r))
		}
		if r := c.addOperator(c.tn.adminToken, ops.CallOperators[0].User.ID, "CUSTOMER_CARE"); r.code() != "" {
			t.Fatalf("re-adding after removal: %s", reasonOf(r))
		}
	})
}

func TestCallPermission(t *testing.T) {
	c := newCallEnv(t)
	const phone = "84912345678"
	if r := c.requestPermission(c.tn.adminToken, c.customer); reasonOf(r) != "FAILED_PRECONDITION/NOT_CALL_OPERATOR" {
		t.Fatalf("not an operator: %s %+v", reasonOf(r), r.Errors)
	}
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	if c.permission(c.customer) != nil {
		t.Fatal("a permission before any request")
	}
	_, seq := c.callEvents(0)

	t.Run("ErrProviderRefuses", func(t *testing.T) {
		c.zfake.FailNext(zalofake.RequestConsent, 1, zalofake.ErrorCode(-230))
		if r := c.requestPermission(c.tn.adminToken, c.customer); reasonOf(r) != "FAILED_PRECONDITION/PROVIDER_REFUSED" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
		if c.permission(c.customer) != nil {
			t.Fatal("a refused request was recorded")
		}
	})
	t.Run("Requested", func(t *testing.T) {
		var out struct{ RequestCallPermission permissionOut }
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, &out)
		p := out.RequestCallPermission
		if p.Status != "REQUESTED" || p.Reason != "CONSULTATION" || p.CallType != "AUDIO" || p.RequestedBy == nil ||
			p.RequestedBy.ID != c.tn.adminID || !p.RequestedAt.Equal(c.clock.Now()) || p.ExpiresAt != nil {
			t.Fatalf("requested %+v", p)
		}
		sent := c.zfake.ConsentRequests()
		if len(sent) != 1 || sent[0] != (zalofake.ConsentRequest{OAID: testOAID, Phone: phone, CallType: "audio", ReasonCode: 101}) {
			t.Fatalf("Zalo received %+v", sent)
		}
		evs, last := c.callEvents(seq)
		if fmt.Sprint(evs) != "[PERMISSION_REQUESTED]" {
			t.Fatalf("events %v", evs)
		}
		seq = last
	})
	t.Run("ErrPending", func(t *testing.T) {
		c.clock.Advance(23 * time.Hour)
		if r := c.requestPermission(c.tn.adminToken, c.customer); reasonOf(r) != "FAILED_PRECONDITION/PERMISSION_PENDING" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
		if len(c.zfake.ConsentRequests()) != 1 {
			t.Fatal("asked again while pending")
		}
	})
	t.Run("GrantedFor48Hours", func(t *testing.T) {
		c.consent("oa_send_consent", phone, map[string]any{"request_type": "SENT"})
		granted := c.clock.Now().Add(-time.Second)
		c.grant(phone, 0)
		c.grant(phone, 0) // Zalo's retry: the same post again
		p := c.permission(c.customer)
		if p.Status != "GRANTED" || p.GrantedAt == nil || !p.GrantedAt.Equal(granted) || !p.ExpiresAt.Equal(granted.Add(48*time.Hour)) {
			t.Fatalf("granted %+v", p)
		}
		evs, last := c.callEvents(seq)
		if fmt.Sprint(evs) != "[PERMISSION_GRANTED]" {
			t.Fatalf("events %v", evs)
		}
		seq = last
	})
	t.Run("ExpiresAcrossARestart", func(t *testing.T) {
		if c.runTimers(c.app, 47*time.Hour) != 0 || c.permission(c.customer).Status != "GRANTED" {
			t.Fatal("expired early")
		}
		// Another server on the same database — the first one stopped —
		// finds the timer and runs it once.
		c.app.Stop()
		restarted := newEnvOn(t, c.db, onTheTestClock(c.webhookEnv))
		if n := c.runTimers(restarted.app, time.Hour); n != 1 {
			t.Fatalf("%d timers ran", n)
		}
		if n := c.runTimers(restarted.app, time.Hour); n != 0 {
			t.Fatalf("%d timers ran again", n)
		}
		if p := c.permission(c.customer); p.Status != "EXPIRED" {
			t.Fatalf("after 48 h: %+v", p)
		}
		evs, last := c.callEvents(seq)
		if fmt.Sprint(evs) != "[PERMISSION_EXPIRED]" {
			t.Fatalf("events %v", evs)
		}
		seq = last
	})
	t.Run("UntilProviderExpiredTime", func(t *testing.T) {
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
		end := c.clock.Now().Add(5 * time.Hour)
		c.grant(phone, ms(end))
		p := c.permission(c.customer)
		if p.Status != "GRANTED" || !p.ExpiresAt.Equal(end) {
			t.Fatalf("granted %+v, want until %s", p, end)
		}
		c.runTimers(c.app, 5*time.Hour)
		if p := c.permission(c.customer); p.Status != "EXPIRED" {
			t.Fatalf("after expired_time: %+v", p)
		}
		evs, last := c.callEvents(seq)
		if fmt.Sprint(evs) != "[PERMISSION_REQUESTED PERMISSION_GRANTED PERMISSION_EXPIRED]" {
			t.Fatalf("events %v", evs)
		}
		seq = last
	})
	t.Run("Denied", func(t *testing.T) {
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
		c.consent("user_reply_consent", phone, map[string]any{"user_consent": "USER_BLOCKED", "expired_time": "0"})
		// A late grant does not revive a refusal.
		c.grant(phone, 0)
		if p := c.permission(c.customer); p.Status != "DENIED" {
			t.Fatalf("after USER_BLOCKED: %+v", p)
		}
		evs, last := c.callEvents(seq)
		if fmt.Sprint(evs) != "[PERMISSION_REQUESTED PERMISSION_DENIED]" {
			t.Fatalf("events %v", evs)
		}
		seq = last
	})
	t.Run("UnansweredRequestLapses", func(t *testing.T) {
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
		c.clock.Advance(24*time.Hour + time.Second)
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
		c.consent("oa_send_consent", phone, map[string]any{"request_type": "EXPIRED"})
		if p := c.permission(c.customer); p.Status != "EXPIRED" {
			t.Fatalf("after Zalo's EXPIRED: %+v", p)
		}
	})
	t.Run("PhoneInAnyForm", func(t *testing.T) {
		c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
		c.grant("0912345678", 0)
		if p := c.permission(c.customer); p.Status != "GRANTED" {
			t.Fatalf("granted by the national form: %+v", p)
		}
	})
	t.Run("ErrDoNotContact", func(t *testing.T) {
		other := c.customerWhoWrote("zu-dnc", "0987654321")
		c.must(c.tn.adminToken, `mutation($id: ID!) { updateCustomer(id: $id, input: {doNotContact: true}) { id } }`, map[string]any{"id": other}, nil)
		if r := c.requestPermission(c.tn.adminToken, other); reasonOf(r) != "FAILED_PRECONDITION/DO_NOT_CONTACT" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
	})
	t.Run("RefreshesARefusedToken", func(t *testing.T) {
		other := c.customerWhoWrote("zu-refresh", "0977123456")
		c.zfake.ExpireToken(testOAID)
		before := c.zfake.RefreshCount()
		var out struct{ RequestCallPermission permissionOut }
		c.requestPermission(c.tn.adminToken, other).decode(t, &out)
		sent := c.zfake.ConsentRequests()
		if out.RequestCallPermission.Status != "REQUESTED" || c.zfake.RefreshCount() != before+1 || sent[len(sent)-1].Phone != "84977123456" {
			t.Fatalf("after a refused token: %+v, %d refreshes, Zalo received %+v", out, c.zfake.RefreshCount()-before, sent)
		}
	})
	t.Run("ErrProviderUnavailable", func(t *testing.T) {
		other := c.customerWhoWrote("zu-outage", "0977654321")
		c.zfake.FailNext(zalofake.RequestConsent, 1, zalofake.Status(503))
		if r := c.requestPermission(c.tn.adminToken, other); reasonOf(r) != "FAILED_PRECONDITION/PROVIDER_UNAVAILABLE" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
		if c.permission(other) != nil {
			t.Fatal("a request Zalo never took was recorded")
		}
	})
	t.Run("ErrNoPhone", func(t *testing.T) {
		other := c.customerWhoWrote("zu-nophone", "")
		if r := c.requestPermission(c.tn.adminToken, other); reasonOf(r) != "FAILED_PRECONDITION/NO_PHONE" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
	})
}

func TestStartCall(t *testing.T) {
	c := newCallEnv(t)
	const phone = "84912345678"
	_, seq := c.callEvents(0)
	refused := func(want string) {
		t.Helper()
		if r := c.startCall(c.tn.adminToken, c.customer, "AUDIO"); reasonOf(r) != "FAILED_PRECONDITION/"+want {
			t.Fatalf("got %s %+v, want %s", reasonOf(r), r.Errors, want)
		} else if msg := r.Errors[0].Message; len(msg) < 20 {
			t.Fatalf("%s: the message %q explains nothing", want, msg)
		}
	}
	// Every condition fails at first; each fix reveals the next refusal,
	// in the documented order.
	c.db.Client.Channel.UpdateOneID(c.oa.ID).SetStatus(channel.StatusDISCONNECTED).ExecX(c.sys())
	refused("CALLS_DISABLED")
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": []map[string]any{
		{"weekdays": []string{"MON", "TUE", "WED", "THU", "FRI"}, "start": "08:00", "end": "17:30"},
	}}).decode(t, nil)
	refused("CHANNEL_DISCONNECTED")
	c.db.Client.Channel.UpdateOneID(c.oa.ID).SetStatus(channel.StatusCONNECTED).ExecX(c.sys())
	refused("NOT_CALL_OPERATOR")
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	// Saturday 16:00 in Vietnam: outside a weekday window.
	refused("OUTSIDE_CALL_WINDOW")
	c.settings(c.tn.adminToken, map[string]any{"windows": everyDay, "closedDates": []string{"2026-11-21"}}).decode(t, nil)
	refused("OUTSIDE_CALL_WINDOW") // a closed date
	// The same instant is 01:00 in Los Angeles: outside 08:00–20:00 there.
	c.settings(c.tn.adminToken, map[string]any{"closedDates": []string{}, "timezone": "America/Los_Angeles"}).decode(t, nil)
	refused("OUTSIDE_CALL_WINDOW")
	c.settings(c.tn.adminToken, map[string]any{"timezone": "Asia/Ho_Chi_Minh"}).decode(t, nil)
	refused("NO_CALL_PERMISSION")
	c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
	refused("NO_CALL_PERMISSION") // asked, not answered
	c.grant(phone, ms(c.clock.Now().Add(time.Hour)))
	if r := c.startCall(c.tn.adminToken, c.customer, "VIDEO"); reasonOf(r) != "FAILED_PRECONDITION/NO_CALL_PERMISSION" {
		t.Fatalf("video under an audio permission: %s", reasonOf(r))
	}
	c.runTimers(c.app, time.Hour)
	refused("CALL_PERMISSION_EXPIRED")
	if len(c.zfake.CallLinks()) != 0 {
		t.Fatal("a refused call asked Zalo for a link")
	}

	c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
	c.grant(phone, 0)
	_, seq = c.callEvents(seq)
	issued := c.clock.Now()
	var out struct{ StartCall ticketOut }
	c.startCall(c.tn.adminToken, c.customer, "AUDIO").decode(t, &out)
	tk := out.StartCall
	links := c.zfake.CallLinks()
	if len(links) != 1 || links[0].UserID != c.zaloUser || links[0].CallType != "audio" || links[0].AgentID != c.tn.adminID {
		t.Fatalf("Zalo issued %+v", links)
	}
	if tk.Link != links[0].Link || tk.QRCode != links[0].QRCode || !tk.ExpiresAt.Equal(issued.Add(120*time.Second)) {
		t.Fatalf("ticket %+v, issued at %s", tk, issued)
	}
	call := tk.Call
	if call.Direction != "OUTBOUND" || call.Kind != "AUDIO" || call.Status != "RINGING" || call.Result != nil ||
		call.Operator == nil || call.Operator.ID != c.tn.adminID || call.Customer.ID != c.customer || call.Channel.ID != c.oa.ID ||
		!call.StartedAt.Equal(issued) || call.EndedAt != nil || call.ProviderCallID != nil {
		t.Fatalf("call %+v", call)
	}
	evs, last := c.callEvents(seq)
	if fmt.Sprint(evs) != "[RINGING]" {
		t.Fatalf("events %v", evs)
	}

	t.Run("UnusedTicketIsCancelled", func(t *testing.T) {
		if c.runTimers(c.app, 119*time.Second) != 0 {
			t.Fatal("cancelled before the ticket expired")
		}
		if c.runTimers(c.app, time.Second) != 1 {
			t.Fatal("the ticket's timer did not run")
		}
		got := c.db.Client.Call.GetX(c.sys(), call.ID)
		if got.Status != entcall.StatusENDED || got.Result == nil || *got.Result != entcall.ResultCANCELLED ||
			!got.EndedAt.Equal(tk.ExpiresAt) || got.DurationSeconds == nil || *got.DurationSeconds != 0 {
			t.Fatalf("after expiry %+v", got)
		}
		evs, _ := c.callEvents(last)
		if fmt.Sprint(evs) != "[ENDED]" {
			t.Fatalf("events %v", evs)
		}
	})
	t.Run("ErrNoZaloUser", func(t *testing.T) {
		stranger := c.createCustomer(c.tn.adminToken, map[string]any{"name": "Chưa nhắn tin", "phone": "0901234567"})
		c.db.Client.CallPermission.Create().SetChannelID(c.oa.ID).SetCustomerID(gid.ID(stranger)).SetPhone("84901234567").
			SetReason("CONSULTATION").SetCallType("AUDIO").SetRequestedAt(c.clock.Now()).SetStatus("GRANTED").
			SetGrantedAt(c.clock.Now()).SetExpiresAt(c.clock.Now().Add(time.Hour)).ExecX(c.sys())
		if r := c.startCall(c.tn.adminToken, gid.ID(stranger), "AUDIO"); reasonOf(r) != "FAILED_PRECONDITION/NO_ZALO_USER" {
			t.Fatalf("got %s %+v", reasonOf(r), r.Errors)
		}
	})
	t.Run("ErrAnotherOperatorsAgent", func(t *testing.T) {
		if r := c.startCall(c.tn.agentToken, c.customer, "AUDIO"); reasonOf(r) != "FAILED_PRECONDITION/NOT_CALL_OPERATOR" {
			t.Fatalf("got %s", reasonOf(r))
		}
	})
}

// TestCallEventsStream follows callEvents over a WebSocket while an
// operator asks permission, the customer grants it and a ticket opens a
// call, then resumes from the first event's cursor.
func TestCallEventsStream(t *testing.T) {
	c := newCallEnv(t)
	c.settings(c.tn.adminToken, map[string]any{"enabled": true, "windows": everyDay}).decode(t, nil)
	c.addOperator(c.tn.adminToken, c.tn.adminID, "ADMIN").decode(t, nil)
	const sub = `subscription($after: Cursor) { callEvents(after: $after) { cursor type } }`
	// From the start of the log, so the test does not depend on when the
	// server registers the subscription.
	s := subscribe(t, c.env, c.tn.apiKey, sub, map[string]any{"after": event.Start.String()})
	type ev struct{ CallEvents struct{ Cursor, Type string } }
	c.requestPermission(c.tn.adminToken, c.customer).decode(t, nil)
	c.grant("84912345678", 0)
	c.startCall(c.tn.adminToken, c.customer, "AUDIO").decode(t, nil)
	var got []ev
	for range 3 {
		var e ev
		s.next(&e)
		got = append(got, e)
	}
	if got[0].CallEvents.Type != "PERMISSION_REQUESTED" || got[1].CallEvents.Type != "PERMISSION_GRANTED" || got[2].CallEvents.Type != "RINGING" {
		t.Fatalf("events %+v", got)
	}
	resumed := subscribe(t, c.env, c.tn.apiKey, sub, map[string]any{"after": got[0].CallEvents.Cursor})
	for _, want := range []string{"PERMISSION_GRANTED", "RINGING"} {
		var e ev
		resumed.next(&e)
		if e.CallEvents.Type != want {
			t.Fatalf("resumed with %s, want %s", e.CallEvents.Type, want)
		}
	}
}
