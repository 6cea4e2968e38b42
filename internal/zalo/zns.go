package zalo

// ZNS, the Zalo Notification Service (docs/providers.md, "ZNS"): paid,
// pre-approved template messages sent to a phone number, on their own base
// URL with the OA's access token.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultZNSURL is the base URL of the ZNS API.
const DefaultZNSURL = "https://business.openapi.zalo.me"

// ZNS paths.
const (
	znsTemplateListPath   = "/template/all"
	znsTemplateDetailPath = "/template/info/v2"
	znsSendPath           = "/message/template"
	znsQuotaPath          = "/message/quota"
)

// ZNSPageSize is the most templates one list call returns.
const ZNSPageSize = 100

// ZNS error codes (docs/providers.md). CodeZNSTokenInvalid and
// CodeZNSUnknown are in errors.go.
const (
	CodeZNSInvalidPhone          = -108
	CodeZNSParamTooLong          = -1121
	CodeZNSParamMissing          = -1122
	CodeZNSOutOfBalance          = -115
	CodeZNSNoTemplatePermission  = -117
	CodeZNSTemplateNotApproved   = -131
	CodeZNSQuietHours            = -133
	CodeZNSDailyLimit            = -144
	CodeZNSTemplateLowQuality    = -146
	CodeZNSTemplateDailyLimit    = -147
	CodeZNSUserRefused           = -139
	CodeZNSUserNotEligible       = -140
	CodeZNSUserNotEligibleOther  = -141
	CodeZNSDeprecatedTemplateAPI = -106
	// CodeTemplateNotByUserID: a template approved before 2025-12-10 sent
	// by user ID (SendTemplateMessage).
	CodeTemplateNotByUserID = -249
)

// ZNSTemplateSummary is one item of the template list.
type ZNSTemplateSummary struct {
	ID          string
	Name        string
	Status      string
	Quality     string
	CreatedTime time.Time
}

// ZNSParam is a parameter of a template.
type ZNSParam struct {
	Name       string
	Type       string
	Required   bool
	MinLength  int
	MaxLength  int
	AcceptNull bool
}

// ZNSTemplate is a template's detail.
type ZNSTemplate struct {
	ID             string
	Name           string
	Status         string // ENABLE, PENDING_REVIEW, REJECT, DISABLE, DELETE
	Tag            string
	Quality        string
	Params         []ZNSParam
	Price          int // VND
	TimeoutMs      int
	PreviewURL     string
	DailyQuota     int
	RemainingQuota int
}

// ZNSQuota is a daily quota and what is left of it.
type ZNSQuota struct {
	Daily     int
	Remaining int
}

// ZNSSend is one template message to a phone number.
type ZNSSend struct {
	// Phone is the number in Zalo's form, 84xxxxxxxxx.
	Phone      string
	TemplateID string
	// Data are the template's parameters, as text.
	Data map[string]string
	// TrackingID is the sender's own ID, echoed by the delivery webhook;
	// at most 48 characters.
	TrackingID string
	// Development sends in "mode":"development", only to the OA's admins.
	Development bool
}

// ZNSSent is Zalo's answer to an accepted send.
type ZNSSent struct {
	MsgID    string
	SentTime time.Time
	// Quota is the template's quota after the send; Daily is 0 when the
	// answer had none.
	Quota ZNSQuota
}

// zns calls the ZNS endpoint at path with the OA's access token.
func (c *Client) zns(ctx context.Context, path string, r call, token string, out any) error {
	r.url = c.znsURL + path + r.url
	r.header = http.Header{"access_token": {token}}
	status, body, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decodeEnvelope(status, body, out)
}

// ZNSTemplates returns one page of the OA's templates, from offset, at most
// limit (1 to ZNSPageSize) of them; status 0 lists every status.
func (c *Client) ZNSTemplates(ctx context.Context, token string, offset, limit, status int) ([]ZNSTemplateSummary, error) {
	const op = "list ZNS templates"
	if limit < 1 || limit > ZNSPageSize || offset < 0 {
		return nil, invalidArgument(op, "limit must be 1 to 100 and offset not negative")
	}
	q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
	if status != 0 {
		q.Set("status", strconv.Itoa(status))
	}
	var items []struct {
		TemplateID      flexString `json:"templateId"`
		TemplateName    string     `json:"templateName"`
		CreatedTime     flexString `json:"createdTime"`
		Status          string     `json:"status"`
		TemplateQuality string     `json:"templateQuality"`
	}
	if err := c.zns(ctx, znsTemplateListPath, call{method: http.MethodGet, url: "?" + q.Encode()}, token, &items); err != nil {
		return nil, wrap(op, err)
	}
	out := make([]ZNSTemplateSummary, 0, len(items))
	for _, it := range items {
		created, err := it.CreatedTime.millis()
		if err != nil || it.TemplateID == "" {
			return nil, wrap(op, &MalformedResponseError{Err: errors.New("a template without a templateId or with a bad createdTime")})
		}
		out = append(out, ZNSTemplateSummary{ID: string(it.TemplateID), Name: it.TemplateName,
			Status: it.Status, Quality: it.TemplateQuality, CreatedTime: created})
	}
	return out, nil
}

// AllZNSTemplates returns every template of the OA, listing pages of
// ZNSPageSize until a short one.
func (c *Client) AllZNSTemplates(ctx context.Context, token string) ([]ZNSTemplateSummary, error) {
	var all []ZNSTemplateSummary
	for offset := 0; ; offset += ZNSPageSize {
		page, err := c.ZNSTemplates(ctx, token, offset, ZNSPageSize, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < ZNSPageSize {
			return all, nil
		}
	}
}

// ZNSTemplateDetail returns a template's detail.
func (c *Client) ZNSTemplateDetail(ctx context.Context, token, templateID string) (ZNSTemplate, error) {
	const op = "get ZNS template"
	if templateID == "" {
		return ZNSTemplate{}, invalidArgument(op, "empty template ID")
	}
	var d struct {
		TemplateID     flexString `json:"templateId"`
		TemplateName   string     `json:"templateName"`
		Status         string     `json:"status"`
		Timeout        flexString `json:"timeout"`
		PreviewURL     string     `json:"previewUrl"`
		Quality        string     `json:"templateQuality"`
		Tag            string     `json:"templateTag"`
		Price          flexString `json:"price"`
		DailyQuota     flexString `json:"templateDailyQuota"`
		RemainingQuota flexString `json:"templateRemainingQuota"`
		ListParams     []struct {
			Name       string     `json:"name"`
			Require    bool       `json:"require"`
			Type       string     `json:"type"`
			MaxLength  flexString `json:"maxLength"`
			MinLength  flexString `json:"minLength"`
			AcceptNull bool       `json:"acceptNull"`
		} `json:"listParams"`
	}
	q := url.Values{"template_id": {templateID}}
	if err := c.zns(ctx, znsTemplateDetailPath, call{method: http.MethodGet, url: "?" + q.Encode()}, token, &d); err != nil {
		return ZNSTemplate{}, wrap(op, err)
	}
	t := ZNSTemplate{ID: string(d.TemplateID), Name: d.TemplateName, Status: d.Status,
		Tag: d.Tag, Quality: d.Quality, PreviewURL: d.PreviewURL}
	nums := []struct {
		dst *int
		src flexString
	}{{&t.TimeoutMs, d.Timeout}, {&t.DailyQuota, d.DailyQuota}, {&t.RemainingQuota, d.RemainingQuota}}
	for _, n := range nums {
		v, err := n.src.int64()
		if err != nil {
			return ZNSTemplate{}, wrap(op, &MalformedResponseError{Err: err})
		}
		*n.dst = int(v)
	}
	price, err := d.Price.float64()
	if err != nil {
		return ZNSTemplate{}, wrap(op, &MalformedResponseError{Err: err})
	}
	t.Price = int(price)
	for _, p := range d.ListParams {
		maxLen, err1 := p.MaxLength.int64()
		minLen, err2 := p.MinLength.int64()
		if err := errors.Join(err1, err2); err != nil || p.Name == "" {
			return ZNSTemplate{}, wrap(op, &MalformedResponseError{Err: errors.Join(err, errors.New("a parameter without a name or with bad lengths"))})
		}
		t.Params = append(t.Params, ZNSParam{Name: p.Name, Type: p.Type, Required: p.Require,
			MinLength: int(minLen), MaxLength: int(maxLen), AcceptNull: p.AcceptNull})
	}
	if t.ID == "" {
		t.ID = templateID
	}
	return t, nil
}

// SendZNS sends one template message by phone.
func (c *Client) SendZNS(ctx context.Context, token string, s ZNSSend) (ZNSSent, error) {
	const op = "send ZNS"
	switch {
	case s.Phone == "" || strings.HasPrefix(s.Phone, "+") || strings.HasPrefix(s.Phone, "0"):
		return ZNSSent{}, invalidArgument(op, "phone must be in the form 84xxxxxxxxx")
	case s.TemplateID == "":
		return ZNSSent{}, invalidArgument(op, "empty template ID")
	case len(s.TrackingID) > 48:
		return ZNSSent{}, invalidArgument(op, "tracking ID longer than 48 characters")
	}
	req := struct {
		Phone        string            `json:"phone"`
		Mode         string            `json:"mode,omitempty"`
		TemplateID   string            `json:"template_id"`
		TemplateData map[string]string `json:"template_data"`
		TrackingID   string            `json:"tracking_id,omitempty"`
	}{Phone: s.Phone, TemplateID: s.TemplateID, TemplateData: s.Data, TrackingID: s.TrackingID}
	if req.TemplateData == nil {
		req.TemplateData = map[string]string{}
	}
	if s.Development {
		req.Mode = "development"
	}
	body, err := marshalJSON(req)
	if err != nil {
		return ZNSSent{}, wrap(op, err)
	}
	var d struct {
		MsgID    flexString `json:"msg_id"`
		SentTime flexString `json:"sent_time"`
		Quota    *struct {
			Daily     flexString `json:"dailyQuota"`
			Remaining flexString `json:"remainingQuota"`
		} `json:"quota"`
	}
	if err := c.zns(ctx, znsSendPath, call{method: http.MethodPost, contentType: "application/json", body: body}, token, &d); err != nil {
		return ZNSSent{}, wrap(op, err)
	}
	sent, err := d.SentTime.millis()
	if err != nil || d.MsgID == "" {
		return ZNSSent{}, wrap(op, &MalformedResponseError{Err: errors.Join(err, errors.New("no data.msg_id or a bad sent_time"))})
	}
	out := ZNSSent{MsgID: string(d.MsgID), SentTime: sent}
	if d.Quota != nil {
		daily, err1 := d.Quota.Daily.int64()
		left, err2 := d.Quota.Remaining.int64()
		if err := errors.Join(err1, err2); err != nil {
			return ZNSSent{}, wrap(op, &MalformedResponseError{Err: err})
		}
		out.Quota = ZNSQuota{Daily: int(daily), Remaining: int(left)}
	}
	return out, nil
}

// ZNSQuotaOf returns the OA's daily ZNS quota and what is left of it.
func (c *Client) ZNSQuotaOf(ctx context.Context, token string) (ZNSQuota, error) {
	const op = "get ZNS quota"
	var d struct {
		Daily     flexString `json:"dailyQuota"`
		Remaining flexString `json:"remainingQuota"`
	}
	if err := c.zns(ctx, znsQuotaPath, call{method: http.MethodGet}, token, &d); err != nil {
		return ZNSQuota{}, wrap(op, err)
	}
	daily, err1 := d.Daily.int64()
	left, err2 := d.Remaining.int64()
	if err := errors.Join(err1, err2); err != nil {
		return ZNSQuota{}, wrap(op, &MalformedResponseError{Err: err})
	}
	return ZNSQuota{Daily: int(daily), Remaining: int(left)}, nil
}
