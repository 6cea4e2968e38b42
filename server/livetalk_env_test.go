package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// visitorGQL posts to the visitor API from a page on origin ("" sends no
// Origin), with a visitor token ("" for none).
func (e *env) visitorGQL(origin, token, query string, vars map[string]any) *gqlResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/livetalk/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Visitor "+token)
	}
	return e.send(req)
}

// visitorSession is startChat's answer.
type visitorSession struct {
	Token          string
	ConversationID string `json:"conversationId"`
}

// startChat starts a chat on key's channel from origin and returns the
// visitor's session.
func (e *env) startChat(origin, key string, in map[string]any) visitorSession {
	e.t.Helper()
	in["key"] = key
	var out struct{ StartChat visitorSession }
	e.visitorGQL(origin, "", `mutation($in: StartChatInput!) { startChat(input: $in) { token conversationId } }`,
		map[string]any{"in": in}).decode(e.t, &out)
	return out.StartChat
}

// visitorSubscriber follows visitorEvents over a real WebSocket.
type visitorSubscriber struct{ *subscriber }

// visitorDial opens a visitor API WebSocket from origin.
func visitorDial(t *testing.T, e *env, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: patience}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/livetalk/graphql", h)
}

// visitorEvents subscribes to visitorEvents with token from origin, after
// the cursor after ("" for now).
func visitorEvents(t *testing.T, e *env, origin, token, after string) *visitorSubscriber {
	t.Helper()
	c, _, err := visitorDial(t, e, origin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &subscriber{t: t, conn: c}
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Visitor " + token}})
	if m := s.read(); m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	vars := map[string]any{}
	if after != "" {
		vars["after"] = after
	}
	_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($after: Cursor) { visitorEvents(after: $after) { cursor type message { id author authorName text delivered } agent { id name } } }`,
		"variables": vars,
	}})
	return &visitorSubscriber{s}
}

// visitorEvent is one visitorEvents item.
type visitorEvent struct {
	Cursor  string
	Type    string
	Message *struct {
		ID, Author string
		AuthorName *string `json:"authorName"`
		Text       string
		Delivered  bool
	}
	Agent *struct{ ID, Name string }
}

// nextEvent returns the next event.
func (s *visitorSubscriber) nextEvent() visitorEvent {
	s.t.Helper()
	var out struct{ VisitorEvents visitorEvent }
	s.next(&out)
	return out.VisitorEvents
}

// waitMessage reads events until a message with text comes, and returns it.
func (s *visitorSubscriber) waitMessage(text string) visitorEvent {
	s.t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		ev := s.nextEvent()
		if ev.Type == "MESSAGE" && ev.Message != nil && ev.Message.Text == text {
			return ev
		}
	}
	s.t.Fatalf("no message %q", text)
	return visitorEvent{}
}
