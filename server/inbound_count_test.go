package main

import (
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/dbtest"
)

func TestInboundStatementCountExplore(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	w := newWebhookEnvOn(t, db)
	user := "u-count-1"
	w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": w.msgID("c"), "text": "Xin chào"}))
	counter.Reset()
	w.process()
	t.Logf("first message: %d statements\n%s", counter.Count(), strings.Join(counter.Queries(), "\n"))
	w.sendZalo(w.userEvent("user_send_text", user, map[string]any{"msg_id": w.msgID("c"), "text": "Còn hàng không?"}))
	counter.Reset()
	w.process()
	t.Logf("next message: %d statements\n%s", counter.Count(), strings.Join(counter.Queries(), "\n"))
}
