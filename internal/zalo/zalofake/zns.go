package zalofake

// The ZNS side of the fake (docs/providers.md, "ZNS"): templates per OA,
// template list and detail, sends by phone with quotas, the quota endpoint,
// and the ZNS webhooks' bodies. Point the ZNS base URL at URL(): the ZNS
// paths do not collide with the Open API's.
//
// Codes the ZNS endpoints answer, besides injected ones:
//
//	-124    wrong, unknown or expired access token
//	-106    the old detail path /template/info (without /v2)
//	-201    query or body not as documented (the real code is not documented)
//	-108    a phone not of the form 84 and 9 digits
//	-117    a template the OA does not have
//	-131    a template that is not ENABLE (PENDING_REVIEW, REJECT, DELETE)
//	-146    a DISABLE template (disabled for low quality)
//	-1122   a required parameter missing or empty
//	-1121   a parameter longer than its maxLength
//	-133    a promotion template between 22:00 and 06:00 Vietnam time
//	-147    the template's remaining daily quota is 0
//	-144    the OA's remaining daily quota is 0
//	-115    the OA is out of balance (SetZNSBalance)
//	-139..  a phone refused with RefusePhone

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// The ZNS endpoints of the fake.
const (
	// ZNSTemplateList is GET /template/all.
	ZNSTemplateList Endpoint = "/template/all"
	// ZNSTemplateDetail is GET /template/info/v2.
	ZNSTemplateDetail Endpoint = "/template/info/v2"
	// ZNSTemplateDetailOld is the path without /v2, which answers -106.
	ZNSTemplateDetailOld Endpoint = "/template/info"
	// ZNSSend is POST /message/template.
	ZNSSend Endpoint = "/message/template"
	// ZNSQuota is GET /message/quota.
	ZNSQuota Endpoint = "/message/quota"
)

// ServerHeader marks ZNS webhook posts.
const ServerHeader = "X-ZEvent-Server"

// ZNSParam is a parameter of a ZNS template.
type ZNSParam struct {
	Name       string
	Type       string // STRING, NUMBER, DATE, ...
	Require    bool
	MinLength  int
	MaxLength  int
	AcceptNull bool
}

// ZNSTemplate is a template an OA has on the fake.
type ZNSTemplate struct {
	ID         string
	Name       string
	Status     string // ENABLE, PENDING_REVIEW, REJECT, DISABLE, DELETE
	Quality    string // HIGH, MEDIUM, LOW, UNDEFINED
	Tag        string // TRANSACTION, CUSTOMER_CARE, PROMOTION
	Params     []ZNSParam
	Price      int // VND, answered as a string
	TimeoutMs  int
	PreviewURL string
	// DailyQuota and RemainingQuota are the template's; each send takes
	// one from RemainingQuota.
	DailyQuota     int
	RemainingQuota int
	CreatedTime    time.Time
}

// ZNSMessage is a ZNS send the fake accepted.
type ZNSMessage struct {
	OAID       string
	Phone      string
	TemplateID string
	Data       map[string]any
	TrackingID string
	// Development is a send with "mode":"development".
	Development bool
	MsgID       string
	SentTime    time.Time
}

// znsState is an OA's ZNS side.
type znsState struct {
	templates      []*ZNSTemplate
	dailyQuota     int
	remainingQuota int
	outOfBalance   bool
}

// znsStatusCodes are the status filter values of the template list.
var znsStatusCodes = map[string]string{"1": "ENABLE", "2": "PENDING_REVIEW", "3": "REJECT", "4": "DISABLE"}

// vietnam is the time zone of the promotion quiet hours.
var vietnam = time.FixedZone("ICT", 7*3600)

func (s *Server) znsLocked(oaID string) *znsState {
	z := s.zns[oaID]
	if z == nil {
		z = &znsState{dailyQuota: 500, remainingQuota: 500}
		s.zns[oaID] = z
	}
	return z
}

// SetZNSTemplate adds a template to the OA, or replaces the one with the
// same ID. A zero DailyQuota becomes 500 with all of it remaining.
func (s *Server) SetZNSTemplate(oaID string, t ZNSTemplate) {
	s.tb.Helper()
	if t.DailyQuota == 0 {
		t.DailyQuota, t.RemainingQuota = 500, 500
	}
	if t.CreatedTime.IsZero() {
		t.CreatedTime = time.Date(2026, 1, 5, 9, 0, 0, 0, vietnam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.znsLocked(oaID)
	for i, old := range z.templates {
		if old.ID == t.ID {
			z.templates[i] = &t
			return
		}
	}
	z.templates = append(z.templates, &t)
}

// RemoveZNSTemplate removes a template from the OA, as one deleted on Zalo.
func (s *Server) RemoveZNSTemplate(oaID, templateID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.znsLocked(oaID)
	for i, t := range z.templates {
		if t.ID == templateID {
			z.templates = append(z.templates[:i], z.templates[i+1:]...)
			return
		}
	}
}

// ZNSTemplate returns the OA's template as the fake holds it.
func (s *Server) ZNSTemplate(oaID, templateID string) (ZNSTemplate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.znsLocked(oaID).templates {
		if t.ID == templateID {
			return *t, true
		}
	}
	return ZNSTemplate{}, false
}

// SetZNSQuota sets the OA's daily and remaining ZNS quota.
func (s *Server) SetZNSQuota(oaID string, daily, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.znsLocked(oaID)
	z.dailyQuota, z.remainingQuota = daily, remaining
}

// SetZNSBalance makes the OA's sends answer -115 (out of balance) while
// empty is true.
func (s *Server) SetZNSBalance(oaID string, empty bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.znsLocked(oaID).outOfBalance = empty
}

// RefusePhone makes sends to phone (84…) answer code, e.g. -139 (the user
// refused ZNS) or -141 (not eligible); 0 accepts it again.
func (s *Server) RefusePhone(phone string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refusedPhones, phone)
		return
	}
	s.refusedPhones[phone] = code
}

// SetNow sets the fake's clock (the promotion quiet hours, sent_time); nil
// means time.Now.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// ZNSSent returns the ZNS sends the fake accepted, in order.
func (s *Server) ZNSSent() []ZNSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ZNSMessage, len(s.znsSent))
	copy(out, s.znsSent)
	return out
}

func (s *Server) nowLocked() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// znsAuthLocked returns the OA of the request's token.
func (s *Server) znsAuthLocked(r *http.Request) (*oaState, map[string]any) {
	oa, ok := s.authenticateLocked(r)
	if !ok {
		return nil, apiError(-124, "Access token is invalid")
	}
	return oa, nil
}

// znsTemplateListLocked answers GET /template/all?offset=&limit=&status=.
func (s *Server) znsTemplateListLocked(r *http.Request) any {
	oa, refused := s.znsAuthLocked(r)
	if refused != nil {
		return refused
	}
	q := r.URL.Query()
	offset, err1 := strconv.Atoi(q.Get("offset"))
	limit, err2 := strconv.Atoi(q.Get("limit"))
	if err1 != nil || err2 != nil || offset < 0 || limit < 1 || limit > 100 {
		return apiError(-201, "offset and limit (1 to 100) are required")
	}
	want := ""
	if st := q.Get("status"); st != "" {
		if want = znsStatusCodes[st]; want == "" {
			return apiError(-201, "status must be 1, 2, 3 or 4")
		}
	}
	var items []map[string]any
	for _, t := range s.znsLocked(oa.ID).templates {
		if want != "" && t.Status != want {
			continue
		}
		items = append(items, map[string]any{
			"templateId": templateIDJSON(t.ID), "templateName": t.Name,
			"createdTime": t.CreatedTime.UnixMilli(), "status": t.Status, "templateQuality": t.Quality,
		})
	}
	total := len(items)
	page := []map[string]any{}
	if offset < total {
		page = items[offset:min(offset+limit, total)]
	}
	ans := success(page)
	ans["metadata"] = map[string]any{"total": total}
	return ans
}

// templateIDJSON is a template ID as Zalo sends it: a number when it is one.
func templateIDJSON(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// znsTemplateDetailLocked answers GET /template/info/v2?template_id=.
func (s *Server) znsTemplateDetailLocked(r *http.Request) any {
	oa, refused := s.znsAuthLocked(r)
	if refused != nil {
		return refused
	}
	t := s.znsTemplateLocked(oa.ID, r.URL.Query().Get("template_id"))
	if t == nil {
		return apiError(-117, "No permission to access this template")
	}
	params := []map[string]any{}
	for _, p := range t.Params {
		params = append(params, map[string]any{
			"name": p.Name, "require": p.Require, "type": p.Type,
			"maxLength": p.MaxLength, "minLength": p.MinLength, "acceptNull": p.AcceptNull,
		})
	}
	return success(map[string]any{
		"templateId": templateIDJSON(t.ID), "templateName": t.Name, "status": t.Status,
		"listParams": params, "listButtons": []any{}, "timeout": t.TimeoutMs,
		"previewUrl": t.PreviewURL, "templateQuality": t.Quality, "templateTag": t.Tag,
		"price": strconv.Itoa(t.Price), "templateDailyQuota": t.DailyQuota,
		"templateRemainingQuota": t.RemainingQuota,
	})
}

// templateRefusal is Zalo's answer to a send with template t when t is
// unknown to the OA or not ENABLE.
func templateRefusal(t *ZNSTemplate) map[string]any {
	switch {
	case t == nil:
		return apiError(-117, "No permission to send this template")
	case t.Status == "DISABLE":
		return apiError(-146, "Template is disabled because of low quality")
	}
	return apiError(-131, "Template is not approved")
}

// quietHoursMessage is Zalo's answer (-133) to a promotion sent in quiet hours.
const quietHoursMessage = "Sending this kind of template is not allowed from 22:00 to 06:00"

// quietHours reports whether t is a promotion template, which Zalo
// refuses from 22:00 to 06:00 Vietnam time, and now is within those hours.
func quietHours(t *ZNSTemplate, now time.Time) bool {
	h := now.In(vietnam).Hour()
	return t.Tag == "PROMOTION" && (h >= 22 || h < 6)
}

func (s *Server) znsTemplateLocked(oaID, id string) *ZNSTemplate {
	for _, t := range s.znsLocked(oaID).templates {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// znsSendBody is the body of POST /message/template.
type znsSendBody struct {
	Phone        string          `json:"phone"`
	Mode         string          `json:"mode,omitempty"`
	TemplateID   json.RawMessage `json:"template_id"`
	TemplateData map[string]any  `json:"template_data"`
	TrackingID   string          `json:"tracking_id"`
}

var znsPhone = regexp.MustCompile(`^84[35789][0-9]{8}$`)

// znsSendLocked answers POST /message/template, checking what Zalo checks
// in the order the codes of the package doc list them.
func (s *Server) znsSendLocked(r *http.Request, body []byte) any {
	oa, refused := s.znsAuthLocked(r)
	if refused != nil {
		return refused
	}
	var b znsSendBody
	if err := decodeStrict(body, &b); err != nil {
		return apiError(-201, "Invalid parameters: "+err.Error())
	}
	id := scalarText(b.TemplateID)
	if id == "" || b.TemplateData == nil || (b.Mode != "" && b.Mode != "development") || len(b.TrackingID) > 48 {
		return apiError(-201, "template_id and template_data are required; tracking_id at most 48 characters")
	}
	if !znsPhone.MatchString(b.Phone) {
		return apiError(-108, "Phone number is invalid")
	}
	z := s.znsLocked(oa.ID)
	t := s.znsTemplateLocked(oa.ID, id)
	switch {
	case t == nil || t.Status != "ENABLE":
		return templateRefusal(t)
	}
	for _, p := range t.Params {
		v, ok := b.TemplateData[p.Name]
		text := ""
		if ok && v != nil {
			text = scalarAny(v)
		}
		if p.Require && text == "" && !(p.AcceptNull && ok) {
			return apiError(-1122, "Missing parameter: "+p.Name)
		}
		if p.MaxLength > 0 && utf8.RuneCountInString(text) > p.MaxLength {
			return apiError(-1121, "Parameter is too long: "+p.Name)
		}
	}
	if code := s.refusedPhones[b.Phone]; code != 0 {
		return apiError(code, "The user cannot receive this message")
	}
	now := s.nowLocked()
	if quietHours(t, now) {
		return apiError(-133, quietHoursMessage)
	}
	switch {
	case t.RemainingQuota <= 0:
		return apiError(-147, "Template daily quota reached")
	case z.remainingQuota <= 0:
		return apiError(-144, "OA daily quota reached")
	case z.outOfBalance:
		return apiError(-115, "Out of quota or balance")
	}
	t.RemainingQuota--
	z.remainingQuota--
	m := ZNSMessage{
		OAID: oa.ID, Phone: b.Phone, TemplateID: id, Data: b.TemplateData, TrackingID: b.TrackingID,
		Development: b.Mode == "development", MsgID: s.nextIDLocked("zns-"), SentTime: now,
	}
	s.znsSent = append(s.znsSent, m)
	return success(map[string]any{
		"msg_id": m.MsgID, "sent_time": strconv.FormatInt(now.UnixMilli(), 10),
		"quota": map[string]any{"dailyQuota": t.DailyQuota, "remainingQuota": t.RemainingQuota},
	})
}

// scalarAny is a template_data value as text.
func scalarAny(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// znsQuotaLocked answers GET /message/quota.
func (s *Server) znsQuotaLocked(r *http.Request) any {
	oa, refused := s.znsAuthLocked(r)
	if refused != nil {
		return refused
	}
	z := s.znsLocked(oa.ID)
	return success(map[string]any{"dailyQuota": z.dailyQuota, "remainingQuota": z.remainingQuota})
}

// ZNSDelivered is the body of ZNS's user_received_message webhook for m,
// delivered at t; post it with SignedEvent and the header ServerHeader: ZNS.
func ZNSDelivered(appID string, m ZNSMessage, t time.Time) map[string]any {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	return map[string]any{
		"app_id": appID, "event_name": "user_received_message", "timestamp": ms,
		"sender": map[string]any{"id": m.OAID}, "recipient": map[string]any{"id": m.Phone},
		"message": map[string]any{"msg_id": m.MsgID, "tracking_id": m.TrackingID, "delivery_time": ms},
	}
}

// TemplateStatusChanged is the body of the change_template_status webhook.
func TemplateStatusChanged(appID, oaID, templateID, prev, next, reason string, t time.Time) map[string]any {
	return map[string]any{
		"app_id": appID, "oa_id": oaID, "event_name": "change_template_status",
		"timestamp": strconv.FormatInt(t.UnixMilli(), 10), "template_id": templateIDJSON(templateID),
		"status": map[string]any{"prev_status": prev, "new_status": next}, "reason": reason,
	}
}

// DailyQuotaChanged is the body of the change_oa_daily_quota webhook.
func DailyQuotaChanged(appID, oaID string, prev, next int, t time.Time) map[string]any {
	return map[string]any{
		"app_id": appID, "oa_id": oaID, "event_name": "change_oa_daily_quota",
		"timestamp": strconv.FormatInt(t.UnixMilli(), 10),
		"quota":     map[string]any{"prev_value": prev, "new_value": next},
	}
}
