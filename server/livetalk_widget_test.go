package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dakenh/dakenh/internal/gid"
)

// shopPage serves a business's website: any path is a page with the
// widget's snippet for src and the key key holds when it is asked.
func shopPage(t *testing.T, src string, key *atomic.Pointer[string]) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cửa hàng</title>
<style>button { background: red !important; }</style></head>
<body><h1>Bảng giá</h1>
<script>window.warnings = []; const warn = console.warn;
console.warn = (...args) => { window.warnings.push(args.join(" ")); warn.apply(console, args); };</script>
<script src="%s" data-key="%s" async></script></body></html>`, src, *key.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// inWidget evaluates js with r bound to the widget's shadow root (null
// when the widget is not on the page).
func inWidget[T any](js string) chromedp.Action[T] {
	return chromedp.Evaluate[T](`(() => { const h = document.querySelector("[data-dakenh-livetalk]");
		const r = h ? h.shadowRoot : null; ` + js + ` })()`)
}

// pollWidget waits until js, with r the widget's shadow root, is true.
func pollWidget(js string) chromedp.Action[chromedp.Void] {
	return poll(`(() => { const h = document.querySelector("[data-dakenh-livetalk]");
		const r = h ? h.shadowRoot : null; if (!r) return false; ` + js + ` })()`)
}

// poll waits until the page's expression is true.
func poll(expression string) chromedp.Action[chromedp.Void] {
	p := chromedp.Poll[bool](expression, chromedp.WithPollingTimeout(time.Minute))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := p(ctx, t)
		return chromedp.Void{}, err
	}
}

// chatShows is a JavaScript test that the chat window shows a message
// with text.
func chatShows(text string) string {
	return `return [...r.querySelectorAll(".body .msg")].some(m => m.textContent === ` + jsString(text) + `);`
}

// TestLiveTalkWidgetInBrowser loads the widget's snippet into a business's
// page in headless Chromium: the start button and the page's greeting
// show, the visitor fills the required name and starts a chat, the
// START auto-message and then the agent's reply (sent through the staff
// API) appear, the visitor's own message reaches the agent's inbox, and a
// reload resumes the chat with its history. A page on an origin the
// channel does not allow gets no widget.
func TestLiveTalkWidgetInBrowser(t *testing.T) {
	e := newEnv(t)
	e.app.startWorkers()
	tn := e.newTenant("LiveTalk Widget")
	src := e.srv.URL + "/livetalk/widget.js"
	// The channel allows the shop's origin, known once the shop listens;
	// the shop's pages then carry the channel's key.
	var key atomic.Pointer[string]
	shop := shopPage(t, src, &key)
	ch := e.createLiveTalk(tn.adminToken, "Website", shop.URL)
	key.Store(ch.WidgetKey)
	if !strings.Contains(*ch.IntegrationSnippet, `/livetalk/widget.js" data-key="`+*ch.WidgetKey+`"`) {
		t.Fatalf("snippet %s", *ch.IntegrationSnippet)
	}
	e.must(tn.adminToken, createAutoMessageMutation, map[string]any{"in": map[string]any{
		"channelId": ch.ID, "kind": "START", "contents": []string{"Cảm ơn bạn đã liên hệ!"},
	}}, nil)
	e.must(tn.adminToken, createAutoMessageMutation, map[string]any{"in": map[string]any{
		"channelId": ch.ID, "kind": "GREETING", "title": "Chào bạn", "path": "/pricing", "contents": []string{"Cần tư vấn giá?"}, "delaySeconds": 1,
	}}, nil)

	// The admin's settings: the widget on the left, the phone asked too,
	// a signature with its link and a Zalo link.
	e.must(tn.adminToken, `mutation($c: ID!, $in: LiveTalkSettingsInput!) { updateLiveTalkSettings(channelId: $c, input: $in) { title } }`,
		map[string]any{"c": ch.ID, "in": map[string]any{
			"title": "Cửa hàng Hoa", "position": "BOTTOM_LEFT", "buttonText": "Nhắn cho shop", "representative": "AGENTS",
			"visibleFields": []string{"NAME", "PHONE"}, "requiredFields": []string{"NAME"},
			"signature": map[string]any{"text": "Hỗ trợ bởi [[Hoa]]", "linkUrl": "https://hoa.example.vn/about"},
			"links":     []map[string]any{{"kind": "ZALO", "url": "https://zalo.me/0903123456", "description": "Zalo của shop"}},
		}}, nil)

	ctx := browserTab(t)
	var mu sync.Mutex
	var thrown []string
	// The listener is set up before the browser starts (with the first
	// action), not beside it.
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			mu.Lock()
			thrown = append(thrown, ev.ExceptionDetails.Text+" "+describe(ev.ExceptionDetails.Exception))
			mu.Unlock()
		}
	}()
	fail := func(step string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, inWidget[string](`return r ? r.innerHTML : document.body.innerHTML;`))
		warnings, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.warnings`))
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: %v (widget: %s; thrown: %v; warnings: %v)", step, err, html, thrown, warnings)
	}

	// The page's greeting pops up; the start button is drawn in the shadow
	// root, out of reach of the page's own styles.
	if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL+"/pricing")); err != nil {
		fail("navigate", err)
	}
	err := chromedp.Do(ctx,
		pollWidget(`const p = r.querySelector(".popup"); return !!p && !p.hidden && p.textContent.includes("Cần tư vấn giá?");`),
	)
	if err != nil {
		fail("greeting", err)
	}
	look, err := chromedp.Run(ctx, inWidget[map[string]string](`const s = getComputedStyle(r.querySelector(".start"));
		const a = r.querySelector(".foot a"), l = r.querySelector(".foot .link");
		return {bg: s.backgroundColor, left: s.left, label: r.querySelector(".start").textContent,
			title: r.querySelector(".head b").textContent, sig: a ? a.textContent + " " + a.href : "", link: l ? l.textContent + " " + l.href : ""};`))
	if err != nil || look["bg"] == "rgb(255, 0, 0)" || look["left"] != "20px" || look["label"] != "Nhắn cho shop" || look["title"] != "Cửa hàng Hoa" ||
		look["sig"] != "Hoa https://hoa.example.vn/about" || look["link"] != "Zalo của shop https://zalo.me/0903123456" {
		fail("the widget's look", fmt.Errorf("%v, %v", look, err))
	}

	// The visitor opens the window; the name is required.
	err = chromedp.Do(ctx,
		inWidget[chromedp.Void](`r.querySelector(".start").click();`),
		pollWidget(`const f = r.querySelector(".start-form"); return !!f && !r.querySelector(".window").hidden;`),
	)
	if err != nil {
		fail("opening the window", err)
	}
	fields, err := chromedp.Run(ctx, inWidget[[]string](`return [...r.querySelectorAll(".start-form input")].map(i => i.name + (i.required ? "*" : ""));`))
	if err != nil || strings.Join(fields, " ") != "name* phone" {
		fail("the start form's fields", fmt.Errorf("%v, %v", fields, err))
	}
	err = chromedp.Do(ctx,
		inWidget[chromedp.Void](`r.querySelector("input[name=name]").value = "Chị Mai";
			r.querySelector("input[name=phone]").value = "0903 123 456";
			r.querySelector(".start-form button[type=submit]").click();`),
		pollWidget(chatShows("Cảm ơn bạn đã liên hệ!")),
		inWidget[chromedp.Void](`r.querySelector("input[name=text]").value = "Cho em hỏi giá áo dài";
			r.querySelector(".send button[type=submit]").click();`),
		pollWidget(chatShows("Cho em hỏi giá áo dài")),
	)
	if err != nil {
		fail("starting the chat", err)
	}

	// The agent sees the visitor's chat in the inbox and replies.
	var conv struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					ID       string
					Customer struct{ Name, Phone string }
					Messages struct {
						Edges []struct{ Node struct{ Text string } }
					}
				}
			}
		}
	}
	e.must(tn.agentToken, `{ conversations(first: 5) { edges { node { id customer { name phone }
		messages(last: 5) { edges { node { text } } } } } } }`, nil, &conv)
	if n := len(conv.Conversations.Edges); n != 1 {
		t.Fatalf("%d conversations", n)
	}
	c := conv.Conversations.Edges[0].Node
	if c.Customer.Name != "Chị Mai" || c.Customer.Phone != "+84903123456" {
		t.Fatalf("customer %+v", c.Customer)
	}
	if texts := fmt.Sprint(c.Messages.Edges); !strings.Contains(texts, "Cho em hỏi giá áo dài") {
		t.Fatalf("the agent sees %s", texts)
	}
	e.must(tn.agentToken, `mutation($c: ID!, $t: String!) { sendMessage(input: {conversationId: $c, text: $t}) { id } }`,
		map[string]any{"c": c.ID, "t": "Dạ, áo dài giá 850.000đ ạ"}, nil)
	if err := chromedp.Do(ctx, pollWidget(chatShows("Dạ, áo dài giá 850.000đ ạ"))); err != nil {
		fail("the agent's reply", err)
	}
	// The agents represent the window: the reply says who wrote it.
	who, err := chromedp.Run(ctx, inWidget[string](`const w = r.querySelector(".body .who"); return w ? w.textContent : "";`))
	if err != nil || who != "User AGENT" {
		fail("the reply's author", fmt.Errorf("%q, %v", who, err))
	}

	// A reload resumes the chat: its history, and what comes next.
	err = chromedp.Do(ctx,
		chromedp.Reload(),
		inWidget[chromedp.Void](`if (r) r.querySelector(".start").click();`),
		pollWidget(chatShows("Dạ, áo dài giá 850.000đ ạ")),
	)
	if err != nil {
		fail("the reload", err)
	}
	e.must(tn.agentToken, `mutation($c: ID!, $t: String!) { sendMessage(input: {conversationId: $c, text: $t}) { id } }`,
		map[string]any{"c": c.ID, "t": "Chị cần size nào ạ?"}, nil)
	if err := chromedp.Do(ctx, pollWidget(chatShows("Chị cần size nào ạ?"))); err != nil {
		fail("a reply after the reload", err)
	}

	// The same snippet on a page of another origin: the visitor API
	// refuses it, and no widget is drawn.
	other := shopPage(t, src, &key)
	if err := chromedp.Do(ctx, chromedp.Navigate(other.URL+"/")); err != nil {
		fail("the other origin's page", err)
	}
	if err := chromedp.Do(ctx, poll(`window.warnings.some(w => w.startsWith("dakenh LiveTalk:"))`)); err != nil {
		fail("the other origin: no refusal reported", err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector("[data-dakenh-livetalk]")`))
	if err != nil || drawn {
		fail("the other origin", fmt.Errorf("widget drawn: %v, %v", drawn, err))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(thrown) > 0 {
		t.Errorf("the page threw: %v", thrown)
	}
}

// TestLiveTalkWidgetScript: the script is served to any page (no Origin
// needed), as JavaScript, with a cache lifetime and an ETag that answers
// 304.
func TestLiveTalkWidgetScript(t *testing.T) {
	e := newEnv(t)
	res, err := http.Get(e.srv.URL + "/livetalk/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	h := res.Header
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") ||
		h.Get("Cache-Control") != "public, max-age=3600" || h.Get("ETag") == "" || !strings.Contains(string(body), "/livetalk/graphql") {
		t.Fatalf("%d %v", res.StatusCode, h)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/livetalk/widget.js", nil)
	req.Header.Set("If-None-Match", h.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", again.StatusCode)
	}
	post, err := http.Post(e.srv.URL+"/livetalk/widget.js", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", post.StatusCode)
	}
}

// TestLiveTalkWidgetCallInBrowser: a visitor calls from the widget in
// headless Chromium (fake camera and microphone). The widget shows the
// call buttons the settings enable; the agent is rung and answers; the
// browser's real SDP offer reaches the agent's callEvents and its ICE
// candidates follow; the agent hangs up and the widget shows the call
// ended. That call used the month's last minutes: the widget hides its
// call buttons.
func TestLiveTalkWidgetCallInBrowser(t *testing.T) {
	l := newLiveEnv(t)
	l.app.startWorkers()
	src := l.srv.URL + "/livetalk/widget.js"
	var key atomic.Pointer[string]
	shop := shopPage(t, src, &key)
	ch := l.createLiveTalk(l.tn.adminToken, "Website calls", shop.URL)
	key.Store(ch.WidgetKey)
	l.must(l.tn.adminToken, updateLiveTalkMutation, map[string]any{"c": ch.ID, "in": map[string]any{"functions": []string{"CHAT", "AUDIO"}}}, nil)
	l.online(l.tn.agentID)
	agent := l.follow(t, l.tn.agentToken)

	ctx := browserTab(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
	)
	fail := func(step string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, inWidget[string](`return r ? r.innerHTML : document.body.innerHTML;`))
		t.Fatalf("%s: %v (widget: %s)", step, err, html)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(shop.URL+"/"),
		pollWidget(`return !!r.querySelector(".start");`),
		inWidget[chromedp.Void](`r.querySelector(".start").click();
			r.querySelector("input[name=name]").value = "Anh Tuấn";
			r.querySelector(".start-form button[type=submit]").click();`),
		pollWidget(`const a = r.querySelector(".call-audio"), v = r.querySelector(".call-video"); return !!a && !a.hidden && v.hidden;`),
	)
	if err != nil {
		fail("the call buttons", err)
	}
	// The agent takes the chat, so the agent alone is rung.
	var convs struct {
		Conversations struct {
			Edges []struct{ Node struct{ ID gid.ID } }
		}
	}
	l.must(l.tn.ownerToken, `query($c: ID!) { conversations(first: 1, where: {hasChannelWith: {id: $c}}) { edges { node { id } } } }`,
		map[string]any{"c": ch.ID}, &convs)
	if len(convs.Conversations.Edges) != 1 {
		t.Fatalf("conversations %+v", convs)
	}
	l.assign(convs.Conversations.Edges[0].Node.ID, l.tn.agentID)

	if err := chromedp.Do(ctx, inWidget[chromedp.Void](`r.querySelector(".call-audio").click();`)); err != nil {
		fail("calling", err)
	}
	var ev liveEventOut
	agent.next(&ev)
	if ev.CallEvents.Type != "RINGING" || ev.CallEvents.Call.Kind != "AUDIO" {
		t.Fatalf("agent rung %+v", ev.CallEvents)
	}
	callID := ev.CallEvents.Call.ID
	l.clock.Advance(2 * time.Second)
	l.must(l.tn.agentToken, answerLiveCall, map[string]any{"id": callID}, nil)
	var offer, candidates int
	for offer == 0 || candidates == 0 {
		agent.next(&ev)
		s := ev.CallEvents.Signal
		switch {
		case ev.CallEvents.Type == "ANSWERED":
		case ev.CallEvents.Type == "SIGNAL" && s != nil && s.From == "VISITOR" && s.Kind == "OFFER" && strings.HasPrefix(s.Data, "v=0") && strings.Contains(s.Data, "m=audio"):
			offer++
		case ev.CallEvents.Type == "SIGNAL" && s != nil && s.From == "VISITOR" && s.Kind == "ICE_CANDIDATE" && strings.Contains(s.Data, `"candidate"`):
			candidates++
		default:
			t.Fatalf("agent's event %+v", ev.CallEvents)
		}
	}
	if err := chromedp.Do(ctx, pollWidget(`return r.querySelector(".call-state").textContent === "Đã kết nối" && !r.querySelector(".hang-up").hidden;`)); err != nil {
		fail("the answered call", err)
	}
	// Three minutes of talk use the month's three.
	l.clock.Advance(3 * time.Minute)
	l.must(l.tn.agentToken, hangUpLiveCall, map[string]any{"id": callID}, nil)
	if err := chromedp.Do(ctx, pollWidget(`return r.querySelector(".call-state").textContent === "Cuộc gọi đã kết thúc" &&
		r.querySelector(".hang-up").hidden && r.querySelector(".call-audio").hidden;`)); err != nil {
		fail("the ended call", err)
	}
	if c := l.call(callID); c.Status != "ENDED" || c.Result == nil || *c.Result != "ANSWERED" || c.DurationSeconds == nil || *c.DurationSeconds != 180 {
		t.Fatalf("call %+v", c)
	}
	var w struct{ Widget struct{ CallsAvailable bool } }
	l.visitorGQL(shop.URL, "", callsAvailableQ, map[string]any{"k": *ch.WidgetKey}).decode(t, &w)
	if w.Widget.CallsAvailable {
		t.Fatal("calls still available with no minutes left")
	}
}
