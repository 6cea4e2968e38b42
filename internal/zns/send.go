package zns

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/znsmessage"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Reasons of sendZns's FAILED_PRECONDITION errors, besides the channel's.
const (
	ReasonTemplateNotEnabled = "TEMPLATE_NOT_ENABLED"
	ReasonDoNotContact       = "DO_NOT_CONTACT"
	// ReasonQuotaExhausted: the template's remaining daily quota is 0;
	// Zalo would refuse the send.
	ReasonQuotaExhausted = "QUOTA_EXHAUSTED"
	// ReasonQuietHours: a promotion template between 22:00 and 06:00
	// Vietnam time (InQuietHours), when Zalo refuses it (-133).
	ReasonQuietHours = "QUIET_HOURS"
)

// MaxTrackingID is the longest trackingId Zalo takes.
const MaxTrackingID = 48

// SendInput is what sendZns takes (schema.graphqls, SendZnsInput).
type SendInput struct {
	ChannelID  gid.ID
	TemplateID string
	Phone      *string
	Params     map[string]any
	TrackingID string
	CustomerID *gid.ID
}

// requireSender returns the viewer when they may send ZNS: any user (an
// agent sends to customers they may see), or an API key with WRITE.
func requireSender(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.OrgID == "":
		return nil, apierr.NeedCredentials("authentication required")
	case v.IsUser(), v.System, v.IsAPIKey() && v.Has(viewer.ScopeWrite):
		return v, nil
	}
	return nil, &apierr.Error{Code: apierr.Forbidden, Message: "sending ZNS needs an API key with the WRITE scope"}
}

// Send validates a ZNS send and stores it QUEUED; the delivery worker sends
// it. The same trackingId on the same channel returns the message stored
// first and stores nothing, however many replicas receive it at once: the
// (channel, tracking_id) pair is unique, and a send that loses the race
// returns the winner's row. Nothing is stored when a rule refuses the send.
func (s *Service) Send(ctx context.Context, in SendInput) (*ent.ZnsMessage, error) {
	v, err := requireSender(ctx)
	if err != nil {
		return nil, err
	}
	trackingID := strings.TrimSpace(in.TrackingID)
	switch {
	case trackingID == "":
		return nil, apierr.BadInput("trackingId", "trackingId is required")
	case len(trackingID) > MaxTrackingID:
		return nil, apierr.BadInput("trackingId", "trackingId is at most %d characters", MaxTrackingID)
	}
	ch, err := s.channel(ctx, in.ChannelID)
	if err != nil {
		return nil, err
	}
	if m, err := s.byTrackingID(ctx, ch.ID, trackingID); m != nil || err != nil {
		return m, err
	}
	if err := CheckChannel(ch); err != nil {
		return nil, err
	}
	tpl, err := s.enabledTemplate(ctx, ch, in.TemplateID)
	if err != nil {
		return nil, err
	}
	params, err := CheckParams(tpl.Params, in.Params)
	if err != nil {
		return nil, err
	}
	cus, e164, err := s.recipient(ctx, in)
	if err != nil {
		return nil, err
	}
	if cus != nil && cus.DoNotContact {
		return nil, apierr.Precondition(ReasonDoNotContact, "the customer asked not to be contacted")
	}
	if tpl.RemainingQuota <= 0 {
		return nil, apierr.Precondition(ReasonQuotaExhausted, "the template's daily quota is used up; it resets tomorrow")
	}
	if err := CheckQuietHours(tpl.Tag, s.now()); err != nil {
		return nil, err
	}

	sys := viewer.SystemContext(ctx, ch.OrganizationID)
	tx, err := s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	create := tx.ZnsMessage.Create().
		SetChannelID(ch.ID).
		SetTemplateID(tpl.ID).
		SetPhone(e164).
		SetParams(params).
		SetTrackingID(trackingID).
		SetDevelopment(ch.IsTesting).
		SetNextAttemptAt(s.now())
	if cus != nil {
		create.SetCustomerID(cus.ID)
	}
	if v.IsUser() {
		create.SetSenderUserID(v.UserID)
	}
	m, err := create.Save(sys)
	if ent.IsConstraintError(err) {
		// Another request with this trackingId committed first.
		_ = tx.Rollback()
		return s.byTrackingID(ctx, ch.ID, trackingID)
	}
	if err != nil {
		return nil, err
	}
	if err := appendEvent(sys, tx, m, EventQueued); err != nil {
		return nil, err
	}
	s.worker.NudgeOnCommit(tx)
	if err := tx.Commit(); err != nil {
		if ent.IsConstraintError(err) {
			return s.byTrackingID(ctx, ch.ID, trackingID)
		}
		return nil, err
	}
	return s.client.ZnsMessage.Get(ctx, m.ID)
}

// byTrackingID returns the channel's message with trackingID, or nil.
func (s *Service) byTrackingID(ctx context.Context, channelID gid.ID, trackingID string) (*ent.ZnsMessage, error) {
	m, err := s.client.ZnsMessage.Query().
		Where(znsmessage.ChannelID(channelID), znsmessage.TrackingID(trackingID)).
		Only(viewer.SystemContext(ctx, viewer.FromContext(ctx).OrgID))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// recipient returns the customer the send is for (by customerId, else the
// one with the phone, else nil) and the number to send to, in E.164.
func (s *Service) recipient(ctx context.Context, in SendInput) (*ent.Customer, string, error) {
	var cus *ent.Customer
	if in.CustomerID != nil {
		c, err := s.client.Customer.Get(ctx, *in.CustomerID)
		if ent.IsNotFound(err) {
			return nil, "", apierr.New(apierr.NotFound, "customer not found")
		}
		if err != nil {
			return nil, "", err
		}
		cus = c
	}
	raw := ""
	if in.Phone != nil {
		raw = *in.Phone
	}
	if strings.TrimSpace(raw) == "" && cus != nil && cus.Phone != nil {
		raw = *cus.Phone
	}
	if strings.TrimSpace(raw) == "" {
		return nil, "", apierr.BadInput("phone", "a phone number is required (the customer has none)")
	}
	e164, err := phone.Normalize(raw)
	if err != nil {
		return nil, "", apierr.BadInput("phone", "%s", err.Error())
	}
	if !strings.HasPrefix(e164, "+84") {
		return nil, "", apierr.BadInput("phone", "ZNS is sent to Vietnamese numbers only")
	}
	if cus == nil {
		c, err := s.client.Customer.Query().Where(customer.Phone(e164)).Only(viewer.SystemContext(ctx, viewer.FromContext(ctx).OrgID))
		if err != nil && !ent.IsNotFound(err) {
			return nil, "", err
		}
		cus = c
	}
	return cus, e164, nil
}

// Dates as ZNS templates take them.
var (
	znsDateLayouts = []string{"02/01/2006", "15:04 02/01/2006", "15:04:05 02/01/2006"}
	znsNumber      = regexp.MustCompile(`^-?[0-9]+([.,][0-9]+)?$`)
)

// CheckParams checks values against a template's parameters and returns
// them as the text Zalo takes. Each refusal is BAD_USER_INPUT with field
// params.<name>: a name the template does not have, a required one
// missing or empty, null where acceptNull is false, a value that is not a
// string or a number, a NUMBER that is not one, a DATE not in dd/MM/yyyy
// (optionally after HH:mm or HH:mm:ss), or a length outside the bounds.
// The template's order decides which refusal comes first; unknown names
// come last, in alphabetical order.
func CheckParams(spec []schematype.ZnsParam, values map[string]any) (map[string]string, error) {
	return CheckParamsAt("params", spec, values)
}

// CheckParamsAt is CheckParams for parameters given under the input field
// at (OA template messages take them as templateData): its refusals name
// the field at.<name>.
func CheckParamsAt(at string, spec []schematype.ZnsParam, values map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(spec))
	known := make(map[string]bool, len(spec))
	for _, p := range spec {
		known[p.Name] = true
		field := at + "." + p.Name
		v, present := values[p.Name]
		if !present {
			if p.Required {
				return nil, apierr.BadInput(field, "%s is required by the template", p.Name)
			}
			continue
		}
		if v == nil {
			if !p.AcceptNull {
				return nil, apierr.BadInput(field, "%s may not be null", p.Name)
			}
			out[p.Name] = ""
			continue
		}
		text, err := paramText(v)
		if err != nil {
			return nil, apierr.BadInput(field, "%s: %s", p.Name, err)
		}
		text = strings.TrimSpace(text)
		n := utf8.RuneCountInString(text)
		switch {
		case text == "" && p.Required && !p.AcceptNull:
			return nil, apierr.BadInput(field, "%s is required by the template", p.Name)
		case p.MaxLength > 0 && n > p.MaxLength:
			return nil, apierr.BadInput(field, "%s is at most %d characters; it has %d", p.Name, p.MaxLength, n)
		case text != "" && p.MinLength > 0 && n < p.MinLength:
			return nil, apierr.BadInput(field, "%s is at least %d characters; it has %d", p.Name, p.MinLength, n)
		}
		if text != "" {
			switch strings.ToUpper(p.Type) {
			case "NUMBER":
				if !znsNumber.MatchString(text) {
					return nil, apierr.BadInput(field, "%s must be a number", p.Name)
				}
			case "DATE":
				if !isZNSDate(text) {
					return nil, apierr.BadInput(field, "%s must be a date as dd/MM/yyyy (optionally after HH:mm)", p.Name)
				}
			}
		}
		out[p.Name] = text
	}
	var unknown []string
	for name := range values {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, apierr.BadInput(at+"."+unknown[0], "the template has no parameter %q", unknown[0])
	}
	return out, nil
}

// paramText is a parameter value as text: strings as they are, numbers in
// decimal without exponent.
func paramText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return "", fmt.Errorf("not a finite number")
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	}
	return "", fmt.Errorf("must be a string or a number, not %T", v)
}

func isZNSDate(s string) bool {
	for _, l := range znsDateLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}
