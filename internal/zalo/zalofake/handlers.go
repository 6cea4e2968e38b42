package zalofake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// method returns the HTTP method of the endpoint, and false for a path the
// fake does not serve.
func (ep Endpoint) method() (string, bool) {
	switch ep {
	case SendMessage, UploadFile, AccessToken, RequestConsent, CallOutbound, ZNSSend, TemplateMessage:
		return http.MethodPost, true
	case UserDetail, Permission, OAProfile, ZNSTemplateList, ZNSTemplateDetail, ZNSTemplateDetailOld, ZNSQuota:
		return http.MethodGet, true
	}
	return "", false
}

// serveHTTP records the request, applies an injected failure if one is
// due, and otherwise answers as Zalo would: HTTP 200 with a JSON body, be it
// a success or an error.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		return // the client went away
	}
	ep := Endpoint(r.URL.Path)

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body,
	})
	f, failing := s.takeFailureLocked(ep)
	s.mu.Unlock()

	if failing && f.apply(w, r, ep, s.closing) {
		return
	}
	method, ok := ep.method()
	switch {
	case !ok:
		http.NotFound(w, r)
		return
	case r.Method != method:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	if ep == Permission {
		s.mu.Lock()
		target, problem := s.permissionLocked(r)
		s.mu.Unlock()
		if problem != "" {
			http.Error(w, problem, http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}

	// The answer is built under the lock and written after it, so that a
	// slow reader cannot hold up the other requests.
	s.mu.Lock()
	var answer any
	switch ep {
	case SendMessage:
		answer = s.sendLocked(r, body)
	case TemplateMessage:
		answer = s.templateMessageLocked(r, body)
	case UploadFile:
		answer = s.uploadLocked(r, body)
	case UserDetail:
		answer = s.userDetailLocked(r)
	case AccessToken:
		answer = s.accessTokenLocked(r, body)
	case RequestConsent:
		answer = s.requestConsentLocked(r, body)
	case CallOutbound:
		answer = s.callOutboundLocked(r, body)
	case OAProfile:
		answer = s.oaProfileLocked(r)
	case ZNSTemplateList:
		answer = s.znsTemplateListLocked(r)
	case ZNSTemplateDetail:
		answer = s.znsTemplateDetailLocked(r)
	case ZNSTemplateDetailOld:
		answer = apiError(-106, "This API is no longer supported; use /template/info/v2")
	case ZNSSend:
		answer = s.znsSendLocked(r, body)
	case ZNSQuota:
		answer = s.znsQuotaLocked(r)
	}
	s.mu.Unlock()
	writeJSON(w, answer)
}

// writeJSON answers v with HTTP 200, as Zalo answers everything.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// success is an Open API success envelope.
func success(data any) map[string]any {
	return map[string]any{"error": 0, "message": "Success", "data": data}
}

// apiError is an Open API error envelope.
func apiError(code int, message string) map[string]any {
	return map[string]any{"error": code, "message": message}
}

// tokenInvalid is the answer to a missing, unknown or expired access token.
func tokenInvalid() map[string]any { return apiError(-216, "Access token is invalid") }

// oauthError is an error of the token endpoint.
func oauthError(code int, name, description string) map[string]any {
	return map[string]any{
		"error":             code,
		"error_name":        name,
		"error_reason":      name,
		"error_description": description,
	}
}

// authenticateLocked returns the OA whose valid access token the request
// carries in the bare access_token header.
func (s *Server) authenticateLocked(r *http.Request) (*oaState, bool) {
	token := r.Header.Get("access_token")
	if token == "" {
		return nil, false
	}
	for _, st := range s.oas {
		if st.AccessToken == token && !st.accessExpired {
			return st, true
		}
	}
	return nil, false
}

// decodeStrict decodes JSON into v, refusing fields the documentation does
// not have and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// sendBody is the documented body of POST /v3.0/oa/message/cs.
type sendBody struct {
	Recipient struct {
		UserID string `json:"user_id"`
	} `json:"recipient"`
	Message struct {
		Text       string `json:"text"`
		Attachment *struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		} `json:"attachment"`
	} `json:"message"`
}

// sendLocked answers POST /v3.0/oa/message/cs.
func (s *Server) sendLocked(r *http.Request, body []byte) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return apiError(-201, "Content-Type must be application/json")
	}
	var b sendBody
	if err := decodeStrict(body, &b); err != nil {
		return apiError(-201, "Invalid parameters: "+err.Error())
	}
	if b.Recipient.UserID == "" {
		return apiError(-201, "recipient.user_id is missing")
	}
	msg := SentMessage{OAID: oa.ID, UserID: b.Recipient.UserID, Text: b.Message.Text}
	if a := b.Message.Attachment; a != nil {
		att, reason := s.parseAttachmentLocked(oa.ID, a.Type, a.Payload)
		if reason != "" {
			return apiError(-201, reason)
		}
		msg.Attachment = att
	} else if msg.Text == "" {
		return apiError(-201, "message has neither text nor attachment")
	}
	msg.MessageID = s.nextIDLocked("msg-")
	s.sent = append(s.sent, msg)
	return success(map[string]any{"message_id": msg.MessageID, "user_id": msg.UserID})
}

// parseAttachmentLocked checks an attachment as documented: an image as a
// media template with one element, or a file by the token of an upload of
// the same OA. It returns the reason of a refusal.
func (s *Server) parseAttachmentLocked(oaID, typ string, payload json.RawMessage) (*Attachment, string) {
	switch typ {
	case "template":
		var p struct {
			TemplateType string `json:"template_type"`
			Elements     []struct {
				MediaType string `json:"media_type"`
				URL       string `json:"url"`
				Title     string `json:"title"`
				ImageURL  string `json:"image_url"`
			} `json:"elements"`
		}
		if err := decodeStrict(payload, &p); err != nil {
			return nil, "invalid template payload: " + err.Error()
		}
		if p.TemplateType == "request_user_info" {
			if len(p.Elements) != 1 || p.Elements[0].Title == "" || p.Elements[0].ImageURL == "" ||
				p.Elements[0].MediaType != "" || p.Elements[0].URL != "" {
				return nil, "request_user_info must have one element with a title and an image_url"
			}
			if utf8.RuneCountInString(p.Elements[0].Title) > 100 {
				return nil, "request_user_info title is at most 100 characters"
			}
			return &Attachment{Type: "form", Title: p.Elements[0].Title, URL: p.Elements[0].ImageURL}, ""
		}
		if p.TemplateType != "media" || len(p.Elements) != 1 ||
			p.Elements[0].MediaType != "image" || p.Elements[0].URL == "" ||
			p.Elements[0].Title != "" || p.Elements[0].ImageURL != "" {
			return nil, "template must be media with one image element with a url"
		}
		return &Attachment{Type: "image", URL: p.Elements[0].URL}, ""
	case "file":
		var p struct {
			Token string `json:"token"`
		}
		if err := decodeStrict(payload, &p); err != nil {
			return nil, "invalid file payload: " + err.Error()
		}
		for _, u := range s.uploads {
			if u.Token == p.Token && u.OAID == oaID {
				return &Attachment{Type: "file", FileToken: p.Token, Filename: u.Filename}, ""
			}
		}
		return nil, "unknown file token"
	default:
		return nil, fmt.Sprintf("unknown attachment type %q", typ)
	}
}

// uploadLocked answers POST /v2.0/oa/upload/file.
func (s *Server) uploadLocked(r *http.Request, body []byte) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	file, header, err := r.FormFile("file")
	if err != nil {
		return apiError(-201, "multipart field file is missing: "+err.Error())
	}
	defer file.Close()
	content, err := io.ReadAll(file)
	if err != nil {
		return apiError(-201, "unreadable file")
	}
	up := Upload{OAID: oa.ID, Filename: header.Filename, Content: content, Token: s.nextIDLocked("file-")}
	s.uploads = append(s.uploads, up)
	return success(map[string]any{"token": up.Token})
}

// userDetailLocked answers GET /v3.0/oa/user/detail?data={"user_id":"…"}.
func (s *Server) userDetailLocked(r *http.Request) any {
	if _, ok := s.authenticateLocked(r); !ok {
		return tokenInvalid()
	}
	var q struct {
		UserID string `json:"user_id"`
	}
	if err := decodeStrict([]byte(r.URL.Query().Get("data")), &q); err != nil || q.UserID == "" {
		return apiError(-201, `data must be {"user_id":"…"}`)
	}
	u, ok := s.users[q.UserID]
	if !ok {
		return apiError(-201, "user_id is invalid")
	}
	tags := u.Tags
	if tags == nil {
		tags = []string{} // Zalo sends [], not null
	}
	data := map[string]any{
		"user_id":             q.UserID,
		"user_id_by_app":      "app-" + q.UserID,
		"display_name":        u.DisplayName,
		"avatar":              u.Avatar,
		"user_is_follower":    u.IsFollower,
		"tags_and_notes_info": map[string]any{"tag_names": tags, "notes": []string{}},
	}
	if u.Shared != nil {
		data["shared_info"] = map[string]any{
			"name": u.Shared.Name, "phone": u.Shared.Phone, "address": u.Shared.Address,
		}
	}
	return success(data)
}

// accessTokenLocked answers POST /v4/oa/access_token: a form authenticated
// by the app secret in the secret_key header, granting a code exchange or
// a refresh.
func (s *Server) accessTokenLocked(r *http.Request, body []byte) any {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return oauthError(-14003, "invalid_request", "body must be form-encoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError(-14003, "invalid_request", "malformed form")
	}
	if form.Get("app_id") != s.appID || r.Header.Get("secret_key") != s.appSecret {
		return oauthError(-14003, "invalid_client", "app_id or secret_key is invalid")
	}
	var st *oaState
	switch form.Get("grant_type") {
	case "refresh_token":
		if !sameKeys(form, "refresh_token", "app_id", "grant_type") {
			return oauthError(-14003, "invalid_request", "unexpected form fields")
		}
		st = s.byRefreshTokenLocked(form.Get("refresh_token"))
		switch {
		case st == nil:
			return oauthError(-14014, "invalid_grant", "Invalid refresh token")
		case st.refreshExpired:
			return oauthError(-14020, "invalid_grant", "Refresh token has expired")
		}
		s.refreshes++
	case "authorization_code":
		if !sameKeys(form, "code", "app_id", "grant_type", "code_verifier") {
			return oauthError(-14003, "invalid_request", "unexpected form fields")
		}
		code, ok := s.codes[form.Get("code")]
		if !ok || code.codeChallenge != Challenge(form.Get("code_verifier")) {
			return oauthError(-14003, "invalid_grant", "Invalid code or code verifier")
		}
		delete(s.codes, form.Get("code")) // codes are single-use
		st = s.oas[code.oaID]
	default:
		return oauthError(-14003, "unsupported_grant_type", "Unknown grant_type")
	}
	s.issueLocked(st)
	return map[string]any{
		"access_token":  st.AccessToken,
		"refresh_token": st.RefreshToken,
		"expires_in":    strconv.Itoa(TokenLifetime), // a string, as Zalo sends it
	}
}

// byRefreshTokenLocked returns the OA whose current refresh token is token;
// spent tokens match nothing.
func (s *Server) byRefreshTokenLocked(token string) *oaState {
	if token == "" || s.spent[token] {
		return nil
	}
	for _, st := range s.oas {
		if st.RefreshToken == token {
			return st
		}
	}
	return nil
}

// sameKeys reports whether the form has exactly the given keys, once each.
func sameKeys(form url.Values, keys ...string) bool {
	if len(form) != len(keys) {
		return false
	}
	for _, k := range keys {
		if len(form[k]) != 1 {
			return false
		}
	}
	return true
}

// requestConsentLocked answers POST /v2.0/oa/call/requestconsent
// {phone, call_type, reason_code}: the phone in Zalo's 84… form, one of the
// documented call types and reason codes.
func (s *Server) requestConsentLocked(r *http.Request, body []byte) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	var b struct {
		Phone      string `json:"phone"`
		CallType   string `json:"call_type"`
		ReasonCode int    `json:"reason_code"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return apiError(-201, "Invalid parameters: "+err.Error())
	}
	switch {
	case !strings.HasPrefix(b.Phone, "84") || len(b.Phone) < 10 || strings.Trim(b.Phone, "0123456789") != "":
		return apiError(-201, "phone must be 84xxxxxxxxx")
	case b.CallType != "audio" && b.CallType != "video" && b.CallType != "audio_and_video":
		return apiError(-201, "call_type must be audio, video or audio_and_video")
	case b.ReasonCode != 101 && b.ReasonCode != 103 && b.ReasonCode != 105 && b.ReasonCode != 106 && b.ReasonCode != 107:
		return apiError(-201, "reason_code is invalid")
	}
	s.consents = append(s.consents, ConsentRequest{OAID: oa.ID, Phone: b.Phone, CallType: b.CallType, ReasonCode: b.ReasonCode})
	return success(map[string]any{"phone": b.Phone})
}

// callOutboundLocked answers POST /v3.0/oa/call/outbound {user_id,
// call_type, agent_id?} with a call link, its QR code and its ttl.
func (s *Server) callOutboundLocked(r *http.Request, body []byte) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	var b struct {
		UserID   string `json:"user_id"`
		CallType string `json:"call_type"`
		AgentID  string `json:"agent_id"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return apiError(-201, "Invalid parameters: "+err.Error())
	}
	switch {
	case b.UserID == "":
		return apiError(-201, "user_id is missing")
	case b.CallType != "audio" && b.CallType != "video":
		return apiError(-201, "call_type must be audio or video")
	}
	id := s.nextIDLocked("call-")
	link := CallLinkRequest{
		OAID: oa.ID, UserID: b.UserID, CallType: b.CallType, AgentID: b.AgentID,
		Link:   "https://call.zalo.me/" + id,
		QRCode: "https://call.zalo.me/qr/" + id + ".png",
	}
	s.callLinks = append(s.callLinks, link)
	return success(map[string]any{"call_link": link.Link, "qr_code": link.QRCode, "ttl": CallLinkTTL})
}

// permissionLocked answers the consent page GET /v4/oa/permission
// ?app_id=&redirect_uri=&code_challenge=&state=: the redirect target, or
// why there is none.
func (s *Server) permissionLocked(r *http.Request) (target, problem string) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("app_id") != s.appID:
		return "", "app_id is invalid"
	case err != nil || redirect.Host == "" || (redirect.Scheme != "http" && redirect.Scheme != "https"):
		return "", "redirect_uri is invalid"
	case len(s.redirectURIs) > 0 && !slices.Contains(s.redirectURIs, q.Get("redirect_uri")):
		return "", "redirect_uri is not registered for the app"
	case q.Get("code_challenge") == "" || q.Get("state") == "":
		return "", "code_challenge and state are required"
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	if s.consentOA == "" {
		back.Set("error", "access_denied")
	} else {
		code := s.nextIDLocked("code-")
		s.codes[code] = authCode{oaID: s.consentOA, codeChallenge: q.Get("code_challenge")}
		back.Set("code", code)
		back.Set("oa_id", s.consentOA)
	}
	redirect.RawQuery = back.Encode()
	return redirect.String(), ""
}

// oaProfileLocked answers GET /v2.0/oa/getoa for the OA whose token the
// request carries.
func (s *Server) oaProfileLocked(r *http.Request) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	name := oa.Name
	if name == "" {
		name = "OA " + oa.ID
	}
	return success(map[string]any{
		"oa_id": oa.ID, "name": name, "description": "", "avatar": "",
		"cover": "", "is_verified": false,
	})
}
