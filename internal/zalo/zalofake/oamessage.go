package zalofake

// Template messages by Zalo user ID (docs/providers.md, "Zalo OA Open
// API"): POST /v3.0/oa/message/template {user_id, template_id,
// template_data}, the transaction and promotion OA messages since
// 2026-03-01. They send the OA's ZNS templates, so they answer the ZNS
// codes of zns.go with the Open API's token code:
//
//	-216    wrong, unknown or expired access token
//	-201    body not as documented; an unknown user
//	-117    a template the OA does not have
//	-146    a DISABLE template
//	-131    a template that is not ENABLE
//	-249    a template created before 2025-12-10
//	-1122   a required parameter missing or empty
//	-1121   a parameter longer than its maxLength
//	-133    a promotion template between 22:00 and 06:00 Vietnam time
//	-147    the template's remaining daily quota is 0

import (
	"net/http"
	"time"
	"unicode/utf8"
)

// byUserIDSince is the approval date from which templates may be sent by
// user ID.
var byUserIDSince = time.Date(2025, 12, 10, 0, 0, 0, 0, vietnam)

// TemplateSent is a template message by user ID the fake accepted.
type TemplateSent struct {
	OAID       string
	UserID     string
	TemplateID string
	Data       map[string]string
	MessageID  string
}

// TemplateMessages returns the template messages by user ID the fake
// accepted, in order.
func (s *Server) TemplateMessages() []TemplateSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TemplateSent(nil), s.templateSent...)
}

// templateMessageLocked answers POST /v3.0/oa/message/template.
func (s *Server) templateMessageLocked(r *http.Request, body []byte) any {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return tokenInvalid()
	}
	var b struct {
		UserID       string            `json:"user_id"`
		TemplateID   string            `json:"template_id"`
		TemplateData map[string]string `json:"template_data"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return apiError(-201, "Invalid parameters: "+err.Error())
	}
	if b.UserID == "" || b.TemplateID == "" || b.TemplateData == nil {
		return apiError(-201, "user_id, template_id and template_data are required")
	}
	if _, known := s.users[b.UserID]; !known {
		return apiError(-201, "user_id is invalid")
	}
	t := s.znsTemplateLocked(oa.ID, b.TemplateID)
	switch {
	case t == nil || t.Status != "ENABLE":
		return templateRefusal(t)
	case t.CreatedTime.Before(byUserIDSince):
		return apiError(-249, "This template cannot be sent by user_id")
	}
	for _, p := range t.Params {
		v := b.TemplateData[p.Name]
		if p.Require && v == "" && !p.AcceptNull {
			return apiError(-1122, "Missing parameter: "+p.Name)
		}
		if p.MaxLength > 0 && utf8.RuneCountInString(v) > p.MaxLength {
			return apiError(-1121, "Parameter is too long: "+p.Name)
		}
	}
	if quietHours(t, s.nowLocked()) {
		return apiError(-133, quietHoursMessage)
	}
	if t.RemainingQuota <= 0 {
		return apiError(-147, "Template daily quota reached")
	}
	t.RemainingQuota--
	m := TemplateSent{OAID: oa.ID, UserID: b.UserID, TemplateID: b.TemplateID, Data: b.TemplateData, MessageID: s.nextIDLocked("msg-")}
	s.templateSent = append(s.templateSent, m)
	return success(map[string]any{"message_id": m.MessageID, "user_id": m.UserID})
}
