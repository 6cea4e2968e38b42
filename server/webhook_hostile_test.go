package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/identity"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/viewer"
)

// TestHostileWebhookValuesAreStoredAndProcessed: signed events whose
// values the database cannot hold as they are (NUL characters, ids longer
// than their columns) are answered 200, processed on the first attempt,
// and deduplicated like any other; the raw payload keeps the original.
func TestHostileWebhookValuesAreStoredAndProcessed(t *testing.T) {
	w := newWebhookEnv(t)
	longUser := strings.Repeat("u", 500)
	longMsg := strings.Repeat("m", 1000)
	zaloEvents := []map[string]any{
		w.userEvent("user_send_text", "nul\x00user", map[string]any{"msg_id": "nul\x00msg", "text": "xin\x00 chào"}),
		w.userEvent("user_send_text", longUser, map[string]any{"msg_id": longMsg, "text": "id dài"}),
		w.userEvent("user_send_text\x00", "someone", map[string]any{"msg_id": "m\x00", "text": "x"}),
	}
	for _, ev := range zaloEvents {
		w.sendZalo(ev)
	}
	// Zalo retries the long one: the same row, the same message.
	w.sendZalo(zaloEvents[1])
	w.sendFacebook(fbMessage(testPageID, "ps\x00id", "m\x00id", "chào\x00 shop", w.clock.Now().Add(-time.Second)))

	w.process()
	rows := w.webhookRows("")
	if len(rows) != 4 {
		t.Fatalf("%d webhook rows, want 4", len(rows))
	}
	for _, r := range rows {
		if r.ProcessedAt == nil || r.Attempts != 0 || strings.ContainsRune(r.DedupeKey, 0) || strings.ContainsRune(r.EventName, 0) {
			t.Errorf("row %s (%q): processed %v, attempts %d, last error %q", r.ID, r.EventName, r.ProcessedAt, r.Attempts, r.LastError)
		}
	}
	if got := w.messageByProviderID(w.oa, "nulmsg"); got.Text != "xin chào" {
		t.Errorf("text %q, want the NUL removed", got.Text)
	}
	if w.identityOf(w.oa, "nuluser") == nil {
		t.Error("no identity for the user id without its NUL")
	}
	long := w.db.Client.Identity.Query().
		Where(identity.ChannelID(w.oa.ID), identity.ExternalIDHasPrefix("sha256:")).AllX(w.sys())
	if len(long) != 1 {
		t.Fatalf("%d identities with a hashed id, want 1", len(long))
	}
	n := w.db.Client.Message.Query().
		Where(message.ChannelID(w.oa.ID), message.ProviderMessageIDHasPrefix("sha256:")).CountX(w.sys())
	if n != 1 {
		t.Errorf("%d messages with a hashed provider id, want 1 (the retry deduplicated)", n)
	}
	var raw []byte
	for _, r := range rows {
		if strings.Contains(string(r.Payload), longMsg) {
			raw = r.Payload
		}
	}
	if raw == nil {
		t.Error("the raw payload lost the original long id")
	}
	if got := w.messageByProviderID(w.page, "mid"); got.Text != "chào shop" {
		t.Errorf("Messenger text %q", got.Text)
	}
}

// TestDeadWebhookEventsAreParkedAndReplayed: an event that fails every
// attempt is parked after inbox.MaxEventAttempts and no longer claimed;
// admins list it with its error and replay it once the cause is gone.
func TestDeadWebhookEventsAreParkedAndReplayed(t *testing.T) {
	w := newWebhookEnv(t)
	user := "user-dead"
	w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": w.msgID("u"), "text": "Cho hỏi"}))
	w.process()
	conv := w.db.Client.Message.Query().Where(message.ChannelID(w.oa.ID)).OnlyX(w.sys()).ConversationID
	// A delivery that never ends holds the channel, so an echo waits for
	// it on every attempt (see TestZaloInbound's EchoBeforeTheSendIsRecorded).
	held := w.db.Client.Message.Create().SetConversationID(conv).SetChannelID(w.oa.ID).
		SetDirection(message.DirectionOUTBOUND).SetText("Đang gửi").SetStatus(message.StatusQUEUED).
		SetSenderType(message.SenderTypeSYSTEM).SetLeaseUntil(w.clock.Now().Add(100 * 24 * time.Hour)).SaveX(w.sys())
	echoed := w.msgID("oa")
	w.sendZalo(w.oaEvent("oa_send_text", user, map[string]any{"msg_id": echoed, "text": "Đang gửi"}))
	row := func() *webhookEventRow {
		r := w.webhookRows(echoed)
		if len(r) != 1 {
			t.Fatalf("%d rows for the echo", len(r))
		}
		return &webhookEventRow{r[0].Attempts, r[0].DeadAt, r[0].NextAttemptAt}
	}
	for attempt := 1; attempt <= inbox.MaxEventAttempts; attempt++ {
		w.process()
		r := row()
		if r.attempts != attempt {
			t.Fatalf("after attempt %d: attempts %d", attempt, r.attempts)
		}
		if (r.deadAt != nil) != (attempt == inbox.MaxEventAttempts) {
			t.Fatalf("after attempt %d: dead at %v", attempt, r.deadAt)
		}
		if r.next != nil {
			w.clock.Set(*r.next)
		}
	}
	w.clock.Advance(24 * time.Hour)
	if n := w.process(); n != 0 || row().attempts != inbox.MaxEventAttempts {
		t.Fatalf("a dead event was claimed again: %d processed, attempts %d", n, row().attempts)
	}

	const list = `query($c: ID, $n: Int!) { deadWebhookEvents(channelId: $c, first: $n) {
		id provider eventName channel { id } attempts lastError deadAt payload } }`
	type deadOut struct {
		DeadWebhookEvents []struct {
			ID, Provider, EventName, Payload string
			Channel                          *struct{ ID gid.ID }
			Attempts                         int
			LastError                        *string
			DeadAt                           *time.Time
		}
	}
	var out deadOut
	w.must(w.tn.adminToken, list, map[string]any{"n": 50}, &out)
	if len(out.DeadWebhookEvents) != 1 {
		t.Fatalf("deadWebhookEvents: %+v", out)
	}
	d := out.DeadWebhookEvents[0]
	if d.Provider != "ZALO" || d.EventName != "oa_send_text" || d.Channel == nil || d.Channel.ID != w.oa.ID ||
		d.Attempts != inbox.MaxEventAttempts || d.LastError == nil || !strings.Contains(*d.LastError, "echo") ||
		d.DeadAt == nil || !strings.Contains(d.Payload, echoed) {
		t.Fatalf("dead event %+v", d)
	}
	w.must(w.tn.adminToken, list, map[string]any{"c": w.page.ID, "n": 50}, &out)
	if len(out.DeadWebhookEvents) != 0 {
		t.Errorf("another channel's filter listed %+v", out)
	}
	other := w.newTenant("Other Webhook Org")
	w.must(other.ownerToken, list, map[string]any{"n": 50}, &out)
	if len(out.DeadWebhookEvents) != 0 {
		t.Errorf("another organization sees %+v", out)
	}
	const replay = `mutation($id: ID!) { replayWebhookEvent(id: $id) { id attempts deadAt } }`
	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		code               string
	}{
		{"AgentLists", w.tn.agentToken, list, map[string]any{"n": 50}, "FORBIDDEN"},
		{"AgentReplays", w.tn.agentToken, replay, map[string]any{"id": d.ID}, "FORBIDDEN"},
		{"PageTooLarge", w.tn.adminToken, list, map[string]any{"n": 101}, "BAD_USER_INPUT"},
		{"ForeignReplay", other.ownerToken, replay, map[string]any{"id": d.ID}, "NOT_FOUND"},
	} {
		if res := w.gql(tc.token, tc.query, tc.vars); res.code() != tc.code {
			t.Errorf("%s: got %q %+v, want %s", tc.name, res.code(), res.Errors, tc.code)
		}
	}
	if r := row(); r.deadAt == nil || r.attempts != inbox.MaxEventAttempts {
		t.Fatalf("refused calls changed the event: %+v", r)
	}

	// The cause is fixed: the delivery finishes. The replayed echo is then
	// processed like any other.
	w.db.Client.Message.UpdateOneID(held.ID).SetStatus(message.StatusSENT).SetProviderMessageID("sent-elsewhere").
		ClearLeaseUntil().ExecX(w.sys())
	var rep struct {
		ReplayWebhookEvent struct {
			Attempts int
			DeadAt   *time.Time
		}
	}
	w.must(w.tn.ownerToken, replay, map[string]any{"id": d.ID}, &rep)
	if rep.ReplayWebhookEvent.Attempts != 0 || rep.ReplayWebhookEvent.DeadAt != nil {
		t.Fatalf("replayWebhookEvent returned %+v", rep)
	}
	if n := w.process(); n != 1 || w.countMessages(w.oa, echoed) != 1 {
		t.Fatalf("the replayed echo: %d processed, %d messages", n, w.countMessages(w.oa, echoed))
	}
	if res := w.gql(w.tn.ownerToken, replay, map[string]any{"id": d.ID}); res.code() != "NOT_FOUND" {
		t.Errorf("replaying a processed event: %q", res.code())
	}
	w.must(w.tn.adminToken, list, map[string]any{"n": 50}, &out)
	if len(out.DeadWebhookEvents) != 0 {
		t.Errorf("still listed after the replay: %+v", out)
	}
	if n := w.db.Client.WebhookEvent.Query().Where(webhookevent.DeadAtNotNil()).CountX(viewer.SystemContext(t.Context(), "")); n != 0 {
		t.Errorf("%d dead events left", n)
	}
}

type webhookEventRow struct {
	attempts int
	deadAt   *time.Time
	next     *time.Time
}
