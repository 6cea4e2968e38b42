// Package zalofake is a local Zalo server for tests: an httptest server that
// answers the OA Open API and OAuth v4 paths of docs/providers.md, so that
// tests of any package can run the zalo adapter over real HTTP.
//
// The fake checks what the real service would refuse (access_token header,
// exact request bodies, secret_key, single-use refresh tokens) and answers
// in Zalo's formats, error envelopes included. It records what it received,
// and FailNext injects failures: HTTP errors, slow answers, error codes and
// dropped connections.
//
// It deliberately does not import package zalo, so that the two encode and
// decode the documented formats independently and each checks the other.
//
// Codes the fake answers, besides injected ones:
//
//	-216    wrong, unknown or expired access token (ExpireToken)
//	-201    request body, query or upload not as documented; unknown user
//	-14014  unknown or already used refresh token
//	-14020  expired refresh token (ExpireRefreshToken)
//	-14003  wrong app ID or secret_key, unknown grant, bad or reused code,
//	        code verifier whose S256 is not the consent's code_challenge
//	        (the real code for these cases is not documented)
//
// The consent page (Permission) answers a redirect, not JSON: to
// redirect_uri with code, oa_id and state, or error=access_denied when the
// admin refuses (Consent); a wrong app_id, an unregistered redirect_uri or
// a missing code_challenge or state get HTTP 400, as no redirect is safe.
package zalofake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint is the path of an endpoint the fake serves.
type Endpoint string

// The endpoints of the fake, by path.
const (
	// SendMessage is POST /v3.0/oa/message/cs.
	SendMessage Endpoint = "/v3.0/oa/message/cs"
	// UploadFile is POST /v2.0/oa/upload/file.
	UploadFile Endpoint = "/v2.0/oa/upload/file"
	// UserDetail is GET /v3.0/oa/user/detail.
	UserDetail Endpoint = "/v3.0/oa/user/detail"
	// AccessToken is POST /v4/oa/access_token, for code exchanges and
	// refreshes.
	AccessToken Endpoint = "/v4/oa/access_token"
	// RequestConsent is POST /v2.0/oa/call/requestconsent, the call
	// permission request.
	RequestConsent Endpoint = "/v2.0/oa/call/requestconsent"
	// CallOutbound is POST /v3.0/oa/call/outbound, the call link.
	CallOutbound Endpoint = "/v3.0/oa/call/outbound"
	// Permission is GET /v4/oa/permission, the consent page: it redirects
	// the browser to redirect_uri with a code, the OA's id and the state
	// (see Consent).
	Permission Endpoint = "/v4/oa/permission"
	// OAProfile is GET /v2.0/oa/getoa, the OA's own profile.
	OAProfile Endpoint = "/v2.0/oa/getoa"
	// TemplateMessage is POST /v3.0/oa/message/template, a template
	// message by Zalo user ID (oamessage.go).
	TemplateMessage Endpoint = "/v3.0/oa/message/template"
)

// CallLinkTTL is the ttl, in seconds, of the call links the fake issues
// (Zalo's links live 48 hours).
const CallLinkTTL = 48 * 3600

// Defaults of a new fake.
const (
	// DefaultAppID is the app ID the fake accepts until SetApp.
	DefaultAppID = "fake-app-id"
	// DefaultAppSecret is the app secret the fake accepts until SetApp.
	DefaultAppSecret = "fake-app-secret"
	// TokenLifetime is the expires_in of the tokens the fake issues, in
	// seconds (Zalo: about 25 hours).
	TokenLifetime = 90000
	// SignatureHeader carries the signature of a webhook post.
	SignatureHeader = "X-ZEvent-Signature"
)

// maxRequestBytes bounds the request bodies the fake reads.
const maxRequestBytes = 32 << 20

// OA is an Official Account known to the fake, with its current tokens.
type OA struct {
	ID string
	// Name is the name OAProfile answers; empty means "OA <ID>".
	Name         string
	AccessToken  string
	RefreshToken string
}

// User is the profile UserDetail answers for a user.
type User struct {
	DisplayName string
	Avatar      string
	IsFollower  bool
	Tags        []string
	// Shared is sent as shared_info; nil leaves it out.
	Shared *SharedInfo
}

// SharedInfo is the contact information a user shared with the OA.
type SharedInfo struct {
	Name    string
	Phone   string
	Address string
}

// SentMessage is a consultation message the fake accepted.
type SentMessage struct {
	// OAID is the OA whose token sent it.
	OAID string
	// UserID is recipient.user_id.
	UserID string
	// Text is message.text (a caption for an image).
	Text string
	// Attachment is message.attachment; nil for text messages.
	Attachment *Attachment
	// MessageID is the message_id the fake answered.
	MessageID string
}

// Attachment is the attachment of a SentMessage.
type Attachment struct {
	// Type is "image" for a media template image, "file" for a file,
	// "form" for a request_user_info template.
	Type string
	// URL is the image URL (a form's image_url).
	URL string
	// Title is a form's title.
	Title string
	// FileToken is the token of the uploaded file.
	FileToken string
	// Filename is the name the file was uploaded under.
	Filename string
}

// Upload is a file the fake accepted.
type Upload struct {
	OAID     string
	Filename string
	Content  []byte
	// Token is the data.token the fake answered.
	Token string
}

// ConsentRequest is a call permission request the fake accepted.
type ConsentRequest struct {
	OAID       string
	Phone      string
	CallType   string
	ReasonCode int
}

// CallLinkRequest is a call link the fake issued.
type CallLinkRequest struct {
	OAID     string
	UserID   string
	CallType string
	AgentID  string
	// Link and QRCode are what the fake answered.
	Link   string
	QRCode string
}

// Request is an HTTP request the fake received, failed ones included.
type Request struct {
	Method string
	Path   string
	// RawQuery is the query string as sent.
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Server is a fake Zalo. It is safe for concurrent use.
type Server struct {
	tb      testing.TB
	srv     *httptest.Server
	closing chan struct{} // closed at cleanup, to wake slow answers

	mu        sync.Mutex
	appID     string
	appSecret string
	oas       map[string]*oaState // by OA ID
	users     map[string]User
	codes     map[string]authCode
	spent     map[string]bool // refresh tokens already used
	failures  map[Endpoint][]Failure
	sent      []SentMessage
	uploads   []Upload
	consents  []ConsentRequest
	callLinks []CallLinkRequest
	requests  []Request
	// consentOA is the OA the next consents grant; "" denies them.
	consentOA string
	// redirectURIs are the callback URLs registered for the app; empty
	// accepts any.
	redirectURIs []string
	refreshes    int
	seq          int
	// The ZNS side (zns.go).
	zns           map[string]*znsState // by OA ID
	refusedPhones map[string]int
	znsSent       []ZNSMessage
	templateSent  []TemplateSent
	now           func() time.Time
}

// oaState is an OA and the state of its tokens.
type oaState struct {
	OA
	accessExpired  bool
	refreshExpired bool
	generation     int
}

// authCode is an authorization code issued by a consent or by
// AuthorizationCode, with the PKCE challenge its exchange must answer.
type authCode struct {
	oaID          string
	codeChallenge string
}

// New starts a fake Zalo that lives until the end of the test.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		tb:        tb,
		closing:   make(chan struct{}),
		appID:     DefaultAppID,
		appSecret: DefaultAppSecret,
		oas:       map[string]*oaState{},
		users:     map[string]User{},
		codes:     map[string]authCode{},
		spent:     map[string]bool{},
		failures:  map[Endpoint][]Failure{},

		zns:           map[string]*znsState{},
		refusedPhones: map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(func() {
		close(s.closing)
		s.srv.Close()
	})
	return s
}

// URL returns the base URL of the fake, for both the Open API and OAuth.
func (s *Server) URL() string { return s.srv.URL }

// SetApp sets the app ID and secret the token endpoint accepts.
func (s *Server) SetApp(appID, appSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appID, s.appSecret = appID, appSecret
}

// AppID returns the app ID the token endpoint accepts.
func (s *Server) AppID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appID
}

// AppSecret returns the app secret the token endpoint accepts.
func (s *Server) AppSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appSecret
}

// AddOA registers an OA, or replaces one with the same ID, and returns it
// with its tokens. Empty tokens are generated: "access-<ID>-1" and
// "refresh-<ID>-1"; each refresh or code exchange then issues
// "access-<ID>-<n>" and "refresh-<ID>-<n>" with the next n.
func (s *Server) AddOA(oa OA) OA {
	s.tb.Helper()
	if oa.ID == "" {
		s.tb.Fatalf("zalofake: AddOA: empty OA ID")
	}
	st := &oaState{OA: oa, generation: 1}
	if st.AccessToken == "" {
		st.AccessToken = fmt.Sprintf("access-%s-1", oa.ID)
	}
	if st.RefreshToken == "" {
		st.RefreshToken = fmt.Sprintf("refresh-%s-1", oa.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oas[oa.ID] = st
	return st.OA
}

// OA returns the OA with its current tokens.
func (s *Server) OA(oaID string) OA {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oaLocked(oaID).OA
}

// ExpireToken makes the OA's current access token invalid: the next call
// with it gets error -216, until a refresh issues a new one.
func (s *Server) ExpireToken(oaID string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oaLocked(oaID).accessExpired = true
}

// ExpireRefreshToken makes the OA's current refresh token expired: refreshing
// with it gets error -14020.
func (s *Server) ExpireRefreshToken(oaID string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oaLocked(oaID).refreshExpired = true
}

// AuthorizationCode simulates an admin's consent: it returns a single-use
// code that the token endpoint exchanges for new tokens of the OA, given
// codeVerifier.
func (s *Server) AuthorizationCode(oaID, codeVerifier string) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oaLocked(oaID)
	s.seq++
	code := "code-" + strconv.Itoa(s.seq)
	s.codes[code] = authCode{oaID: oaID, codeChallenge: Challenge(codeVerifier)}
	return code
}

// Challenge is the S256 PKCE challenge of a code verifier: the unpadded
// base64url SHA-256 of it.
func Challenge(codeVerifier string) string {
	sum := sha256.Sum256([]byte(codeVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Consent makes the consent page grant the OA: the next visits to
// Permission redirect with a code for it. An empty oaID makes the admin
// refuse: the redirect then carries error=access_denied and no code.
func (s *Server) Consent(oaID string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if oaID != "" {
		s.oaLocked(oaID)
	}
	s.consentOA = oaID
}

// RegisterRedirectURI registers a callback URL of the app: once any is
// registered, the consent page refuses the others, as Zalo does.
func (s *Server) RegisterRedirectURI(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirectURIs = append(s.redirectURIs, uri)
}

// SetUser sets the profile UserDetail answers for userID, for every OA.
func (s *Server) SetUser(userID string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.Tags = slices.Clone(u.Tags)
	s.users[userID] = u
}

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		if m.Attachment != nil {
			a := *m.Attachment
			m.Attachment = &a
		}
		out[i] = m
	}
	return out
}

// Uploads returns the files accepted so far, oldest first.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploads))
	for i, u := range s.uploads {
		u.Content = slices.Clone(u.Content)
		out[i] = u
	}
	return out
}

// ConsentRequests returns the call permission requests the fake accepted,
// in order.
func (s *Server) ConsentRequests() []ConsentRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.consents)
}

// CallLinks returns the call links the fake issued, in order.
func (s *Server) CallLinks() []CallLinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.callLinks)
}

// Requests returns every request received so far, oldest first, the failed
// and refused ones included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// RefreshCount returns how many refreshes succeeded.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// SignedEvent encodes event as a webhook post of the app and signs it as
// Zalo does, returning the body and the X-ZEvent-Signature header value.
//
// A []byte, json.RawMessage or string event is used verbatim; anything else
// is JSON-encoded, with app_id set to appID and timestamp set to now when
// missing. The body's app_id must be appID.
func (s *Server) SignedEvent(appID, secret string, event any) (body []byte, header string) {
	s.tb.Helper()
	switch v := event.(type) {
	case []byte:
		body = slices.Clone(v)
	case json.RawMessage:
		body = slices.Clone(v)
	case string:
		body = []byte(v)
	default:
		b, err := json.Marshal(event)
		if err != nil {
			s.tb.Fatalf("zalofake: SignedEvent: %v", err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			s.tb.Fatalf("zalofake: SignedEvent: event is not a JSON object: %v", err)
		}
		if _, ok := fields["app_id"]; !ok {
			fields["app_id"], _ = json.Marshal(appID)
		}
		if _, ok := fields["timestamp"]; !ok {
			fields["timestamp"], _ = json.Marshal(strconv.FormatInt(time.Now().UnixMilli(), 10))
		}
		body, _ = json.Marshal(fields)
	}

	var head struct {
		AppID     json.RawMessage `json:"app_id"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		s.tb.Fatalf("zalofake: SignedEvent: body is not a JSON object: %v", err)
	}
	if got := scalarText(head.AppID); got != appID {
		s.tb.Fatalf("zalofake: SignedEvent: body's app_id is %q, want %q", got, appID)
	}
	return body, "mac=" + Signature(appID, body, scalarText(head.Timestamp), secret)
}

// Signature returns the hex mac Zalo puts in X-ZEvent-Signature: the plain
// SHA-256 of appID + body + timestamp + secret.
func Signature(appID string, body []byte, timestamp, secret string) string {
	h := sha256.New()
	h.Write([]byte(appID))
	h.Write(body)
	h.Write([]byte(timestamp))
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

// scalarText returns the text of a JSON string or number.
func scalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// oaLocked returns the OA or fails the test.
func (s *Server) oaLocked(oaID string) *oaState {
	s.tb.Helper()
	st, ok := s.oas[oaID]
	if !ok {
		s.tb.Fatalf("zalofake: unknown OA %q; call AddOA first", oaID)
	}
	return st
}

// issueLocked gives the OA a new pair of tokens. The old refresh token is
// spent, and only the new access token is valid from now on.
func (s *Server) issueLocked(st *oaState) {
	if st.RefreshToken != "" {
		s.spent[st.RefreshToken] = true
	}
	st.generation++
	st.AccessToken = fmt.Sprintf("access-%s-%d", st.ID, st.generation)
	st.RefreshToken = fmt.Sprintf("refresh-%s-%d", st.ID, st.generation)
	st.accessExpired, st.refreshExpired = false, false
}

// nextIDLocked returns a new identifier with the given prefix.
func (s *Server) nextIDLocked(prefix string) string {
	s.seq++
	return prefix + strconv.Itoa(s.seq)
}

// CallEnded is the webhook Zalo sends when a call of an OA ends:
// user_call_oa for a call the user placed, oa_call_user (Outbound) for one
// the OA placed, in the shape of docs/providers.md.
type CallEnded struct {
	OAID, UserID, CallID string
	// Phone names the user by number (84…); UserID may then be empty.
	Phone    string
	Outbound bool
	// Video makes call_type VIDEO (else AUDIO).
	Video bool
	// Init is init_time; Duration, Talk are call_duration and talk_time,
	// Waiting is waiting_time.
	Init                    time.Time
	Duration, Talk, Waiting time.Duration
	StatusCode              int
	AgentID, RecordingURL   string
	// Timestamp is when Zalo sends the event; zero means Init + Duration.
	Timestamp time.Time
}

// Event returns the webhook's JSON fields, for SignedEvent.
func (c CallEnded) Event(appID string) map[string]any {
	name, typ := "user_call_oa", "AUDIO"
	if c.Outbound {
		name = "oa_call_user"
	}
	if c.Video {
		typ = "VIDEO"
	}
	ts := c.Timestamp
	if ts.IsZero() {
		ts = c.Init.Add(c.Duration)
	}
	ev := map[string]any{
		"app_id": appID, "oa_id": c.OAID, "event_name": name,
		"call_id": c.CallID, "call_type": typ,
		"init_time":     strconv.FormatInt(c.Init.UnixMilli(), 10),
		"call_duration": c.Duration.Milliseconds(),
		"talk_time":     c.Talk.Milliseconds(),
		"waiting_time":  int64(c.Waiting.Seconds()),
		"status_code":   c.StatusCode,
		"timestamp":     strconv.FormatInt(ts.UnixMilli(), 10),
	}
	if c.UserID != "" {
		ev["user_id"] = c.UserID
	}
	if c.Phone != "" {
		ev["phone"] = c.Phone
	}
	if c.AgentID != "" {
		ev["agent_id"] = c.AgentID
	}
	if c.RecordingURL != "" {
		ev["recording_url"] = c.RecordingURL
	}
	return ev
}
