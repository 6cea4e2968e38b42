// Package fbfake is a local stand-in for the Facebook Graph API: the Send
// API, and Facebook Login's token exchange, /me/accounts and
// subscribed_apps (pages.go). It
// follows the Messenger contract of docs/providers.md over real HTTP, so that
// tests anywhere run the facebook adapter unchanged against it:
//
//	fake := fbfake.New(t)
//	fake.AddPage("111", "EAA-page-token")
//	client := facebook.New(facebook.Config{GraphURL: fake.URL()})
//
// It is stricter than Facebook where strictness catches adapter mistakes: it
// accepts only the request fields the contract names. It checks the page
// token, records what it accepted, can fail on demand (FailNext) and can
// close a customer's 24 hour window (SetWindowClosed). It also signs webhook
// bodies as Facebook does (SignedWebhook). A Fake is safe for concurrent use.
package fbfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// APIVersion is the Graph API version the fake serves; requests for any
// other version get Graph's "unknown path" error.
const APIVersion = "v25.0"

// Graph error codes and subcodes the fake answers with.
const (
	CodeUnknown          = 1
	CodeService          = 2
	CodePermission       = 10
	CodeInvalidParameter = 100
	CodeInvalidToken     = 190
	CodeUnknownPath      = 2500
	// SubcodeOutsideWindow comes with CodePermission for a RESPONSE to a
	// customer whose window is closed.
	SubcodeOutsideWindow = 2018278
	// SubcodeNoObject comes with CodeInvalidParameter for a page the token
	// cannot reach.
	SubcodeNoObject = 33
)

// Sent is one message the fake accepted.
type Sent struct {
	// PageID is the page the message was sent from.
	PageID string
	// PSID is the recipient.
	PSID string
	// MessagingType is "RESPONSE" or "MESSAGE_TAG".
	MessagingType string
	// Tag is "HUMAN_AGENT" for MESSAGE_TAG sends, else "".
	Tag string
	// Text is the text of a text message.
	Text string
	// Attachment is the attachment of an attachment message, else nil.
	Attachment *Attachment
	// MessageID is the message_id the fake answered.
	MessageID string
}

// Attachment is the attachment of a Sent message.
type Attachment struct {
	// Type is image, file, audio or video.
	Type string
	// URL is the payload URL.
	URL string
}

// Failure is one way FailNext makes a request fail; build it with
// ServerError, Slow, GraphError or ConnectionReset.
type Failure struct {
	kind    failureKind
	status  int
	code    int
	subcode int
	delay   time.Duration
}

type failureKind int

const (
	failServerError failureKind = iota + 1
	failSlow
	failGraphError
	failConnectionReset
)

// ServerError answers HTTP 500 with a non-JSON body, as a failing proxy in
// front of the Graph API does.
func ServerError() Failure {
	return Failure{kind: failServerError, status: http.StatusInternalServerError}
}

// Slow delays the answer by d, then handles the request normally; it gives up
// without answering or recording anything as soon as the client cancels the
// request. A d longer than the client's timeout makes the client time out.
func Slow(d time.Duration) Failure { return Failure{kind: failSlow, delay: d} }

// GraphError answers the Graph error envelope with code and subcode (0 for
// none), with HTTP 500 for codes 1 and 2 and 400 otherwise, as the Graph API
// does.
func GraphError(code, subcode int) Failure {
	status := http.StatusBadRequest
	if code == CodeUnknown || code == CodeService {
		status = http.StatusInternalServerError
	}
	return Failure{kind: failGraphError, status: status, code: code, subcode: subcode}
}

// ConnectionReset reads the request, then resets the TCP connection without
// answering.
func ConnectionReset() Failure { return Failure{kind: failConnectionReset} }

// String names the failure, for subtest names and messages.
func (f Failure) String() string {
	switch f.kind {
	case failServerError:
		return "ServerError"
	case failSlow:
		return fmt.Sprintf("Slow(%s)", f.delay)
	case failGraphError:
		return fmt.Sprintf("GraphError(%d,%d)", f.code, f.subcode)
	case failConnectionReset:
		return "ConnectionReset"
	}
	return "NoFailure"
}

// Fake is a running fake Graph API.
type Fake struct {
	tb  testing.TB
	srv *httptest.Server
	// closing is closed when the test ends, so slow handlers return and the
	// server can shut down.
	closing chan struct{}

	mu            sync.Mutex
	pageTokens    map[string]string // page ID → token
	closedWindows map[string]bool   // PSID → window closed
	failures      []Failure
	sent          []Sent
	requests      int
	messages      int // numbers message IDs
	traces        int // numbers fbtrace IDs

	// Facebook Login (pages.go).
	appID, appSecret  string
	users             map[string][]UserPage // short-lived user token → pages
	pageSize          int
	subscribeFailures map[string]Failure  // page ID → failure of subscribed_apps POST
	subscriptions     map[string][]string // page ID → the app's subscribed fields
}

// New starts a fake that stops when tb's test ends.
func New(tb testing.TB) *Fake {
	tb.Helper()
	f := &Fake{
		tb:            tb,
		closing:       make(chan struct{}),
		pageTokens:    make(map[string]string),
		closedWindows: make(map[string]bool),

		users:             make(map[string][]UserPage),
		subscribeFailures: make(map[string]Failure),
		subscriptions:     make(map[string][]string),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+APIVersion+"/{page}/messages", f.handleSend)
	mux.HandleFunc("GET /"+APIVersion+"/oauth/access_token", f.handleExchange)
	mux.HandleFunc("GET /"+APIVersion+"/me/accounts", f.handleAccounts)
	mux.HandleFunc("GET /"+APIVersion+"/{page}/subscribed_apps", f.handleSubscribedApps)
	mux.HandleFunc("POST /"+APIVersion+"/{page}/subscribed_apps", f.handleSubscribedApps)
	mux.HandleFunc("/", f.handleUnknown)
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		close(f.closing)
		f.srv.Close()
	})
	return f
}

// URL returns the fake's base URL, scheme and host only, for
// facebook.Config.GraphURL.
func (f *Fake) URL() string { return f.srv.URL }

// AddPage lets token send as pageID, replacing the page's previous token.
func (f *Fake) AddPage(pageID, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageTokens[pageID] = token
}

// SetWindowClosed closes (or reopens) the 24 hour window of psid: while it is
// closed, a RESPONSE to psid fails with code 10, subcode 2018278, and only a
// MESSAGE_TAG send with the HUMAN_AGENT tag succeeds.
func (f *Fake) SetWindowClosed(psid string, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if closed {
		f.closedWindows[psid] = true
	} else {
		delete(f.closedWindows, psid)
	}
}

// FailNext makes the next n requests to the Send API fail with failure,
// after any failures queued before.
func (f *Fake) FailNext(n int, failure Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure)
	}
}

// Sent returns the messages accepted so far, oldest first.
func (f *Fake) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Sent, len(f.sent))
	for i, s := range f.sent {
		if s.Attachment != nil {
			a := *s.Attachment
			s.Attachment = &a
		}
		out[i] = s
	}
	return out
}

// Requests returns how many requests reached the Send API, failed ones
// included, so tests can count retries.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// SignedWebhook returns a webhook body and its X-Hub-Signature-256 value as
// Facebook would send them for appSecret. A payload of type []byte,
// json.RawMessage or string is the body as is; anything else is encoded as
// JSON.
func (f *Fake) SignedWebhook(appSecret string, payload any) (body []byte, header string) {
	f.tb.Helper()
	switch p := payload.(type) {
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	case string:
		body = []byte(p)
	default:
		var err error
		if body, err = json.Marshal(payload); err != nil {
			f.tb.Fatalf("fbfake: encode webhook payload: %v", err)
		}
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return body, "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// sendRequest is the Send API body as the contract describes it, and nothing
// more: unknown fields are refused.
type sendRequest struct {
	Recipient *struct {
		ID string `json:"id"`
	} `json:"recipient"`
	MessagingType string `json:"messaging_type"`
	Tag           string `json:"tag"`
	Message       *struct {
		Text       string `json:"text"`
		Attachment *struct {
			Type    string `json:"type"`
			Payload *struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachment"`
	} `json:"message"`
}

func (f *Fake) handleSend(w http.ResponseWriter, r *http.Request) {
	failure := f.nextFailure()
	switch failure.kind {
	case failServerError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(failure.status)
		_, _ = io.WriteString(w, "<html><body>500 Internal Server Error</body></html>")
		return
	case failGraphError:
		f.writeError(w, failure.status, failure.code, failure.subcode, graphMessage(failure.code, failure.subcode))
		return
	case failConnectionReset:
		resetConnection(w, r)
		return
	case failSlow:
		select {
		case <-time.After(failure.delay):
		case <-r.Context().Done():
			return
		case <-f.closing:
			return
		}
	}

	pageID := r.PathValue("page")
	token := r.URL.Query().Get("access_token")
	f.mu.Lock()
	pageToken, pageKnown, tokenKnown := f.pageTokenLocked(pageID, token)
	f.mu.Unlock()
	switch {
	case !tokenKnown:
		// Graph's "Malformed access token …" quotes the token; the fake does
		// it for every bad token so tests prove the adapter redacts it.
		f.writeError(w, http.StatusBadRequest, CodeInvalidToken, 0, "Malformed access token "+token)
		return
	case !pageKnown || pageToken != token:
		f.writeError(w, http.StatusBadRequest, CodeInvalidParameter, SubcodeNoObject, fmt.Sprintf(
			"Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", pageID))
		return
	}

	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		f.invalidParameter(w, "Content-Type must be application/json")
		return
	}
	var req sendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.invalidParameter(w, "Invalid JSON: "+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		f.invalidParameter(w, "Invalid JSON: data after the object")
		return
	}
	sent, problem := validate(pageID, &req)
	if problem != "" {
		f.invalidParameter(w, problem)
		return
	}

	f.mu.Lock()
	if f.closedWindows[sent.PSID] && sent.Tag != "HUMAN_AGENT" {
		f.mu.Unlock()
		f.writeError(w, http.StatusBadRequest, CodePermission, SubcodeOutsideWindow, graphMessage(CodePermission, SubcodeOutsideWindow))
		return
	}
	f.messages++
	sent.MessageID = fmt.Sprintf("m_fake_%06d", f.messages)
	f.sent = append(f.sent, sent)
	f.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": sent.PSID, "message_id": sent.MessageID})
}

// validate checks a decoded body against the contract and returns what was
// sent, or the Graph-style message explaining why it is refused.
func validate(pageID string, req *sendRequest) (Sent, string) {
	if req.Recipient == nil || req.Recipient.ID == "" {
		return Sent{}, "(#100) The parameter recipient is required"
	}
	switch {
	case req.MessagingType == "RESPONSE" && req.Tag == "":
	case req.MessagingType == "MESSAGE_TAG" && req.Tag == "HUMAN_AGENT":
	case req.MessagingType == "MESSAGE_TAG":
		return Sent{}, "(#100) Param tag must be HUMAN_AGENT with messaging_type MESSAGE_TAG"
	case req.Tag != "":
		return Sent{}, "(#100) Param tag requires messaging_type MESSAGE_TAG"
	default:
		return Sent{}, "(#100) Param messaging_type must be RESPONSE or MESSAGE_TAG"
	}
	if req.Message == nil {
		return Sent{}, "(#100) The parameter message is required"
	}
	s := Sent{PageID: pageID, PSID: req.Recipient.ID, MessagingType: req.MessagingType, Tag: req.Tag}
	m := req.Message
	switch {
	case m.Text != "" && m.Attachment != nil:
		return Sent{}, "(#100) Only one of message.text and message.attachment may be set"
	case m.Text != "":
		if utf8.RuneCountInString(m.Text) > 2000 {
			return Sent{}, "(#100) Length of param message[text] must be less than or equal to 2000"
		}
		s.Text = m.Text
	case m.Attachment != nil:
		a := m.Attachment
		switch a.Type {
		case "image", "file", "audio", "video":
		default:
			return Sent{}, fmt.Sprintf("(#100) Unsupported attachment type %q", a.Type)
		}
		if a.Payload == nil || a.Payload.URL == "" {
			return Sent{}, "(#100) The parameter message[attachment][payload][url] is required"
		}
		if u, err := url.Parse(a.Payload.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Sent{}, "(#100) Param message[attachment][payload][url] must be a valid URL"
		}
		s.Attachment = &Attachment{Type: a.Type, URL: a.Payload.URL}
	default:
		return Sent{}, "(#100) Message must have text or an attachment"
	}
	return s, ""
}

// handleUnknown answers every path and method the fake does not serve the
// way the Graph API answers an unknown path.
func (f *Fake) handleUnknown(w http.ResponseWriter, r *http.Request) {
	f.writeError(w, http.StatusBadRequest, CodeUnknownPath, 0, "Unknown path components: "+r.URL.Path)
}

func (f *Fake) nextFailure() Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if len(f.failures) == 0 {
		return Failure{}
	}
	failure := f.failures[0]
	f.failures = f.failures[1:]
	return failure
}

func (f *Fake) invalidParameter(w http.ResponseWriter, message string) {
	f.writeError(w, http.StatusBadRequest, CodeInvalidParameter, 0, message)
}

// writeError answers the Graph error envelope.
func (f *Fake) writeError(w http.ResponseWriter, status, code, subcode int, message string) {
	f.mu.Lock()
	f.traces++
	trace := fmt.Sprintf("Afake%06d", f.traces)
	f.mu.Unlock()
	body := map[string]any{
		"message":    message,
		"type":       "OAuthException",
		"code":       code,
		"fbtrace_id": trace,
	}
	if subcode != 0 {
		body["error_subcode"] = subcode
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// graphMessage is the message the Graph API gives with code and subcode.
func graphMessage(code, subcode int) string {
	switch {
	case code == CodeInvalidToken:
		return "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
	case code == CodePermission && subcode == SubcodeOutsideWindow:
		return "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview"
	case code == 551:
		return "(#551) This person isn't available right now."
	case code == 4:
		return "(#4) Application request limit reached"
	case code == 17:
		return "(#17) User request limit reached"
	case code == 32:
		return "(#32) Page request limit reached"
	case code == 613:
		return "(#613) Calls to this api have exceeded the rate limit."
	case code == CodeUnknown:
		return "An unknown error has occurred."
	case code == CodeService:
		return "An unexpected error has occurred. Please retry your request later."
	}
	return fmt.Sprintf("(#%d) Error", code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// resetConnection reads the whole request so the client is waiting for the
// answer, then closes the connection with a TCP RST instead of an answer.
func resetConnection(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not over HTTP/1.1: the closest thing is to abort the handler.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close with RST, not FIN
	}
	_ = conn.Close()
}
