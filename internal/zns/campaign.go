package zns

// ZNS campaigns: one template sent to a customer segment (README.md, "ZNS
// campaigns"). Creating one fixes its recipients in one transaction, each
// skipped with a reason or pending with its number and filled parameters;
// the runner (campaign_runner.go) queues the pending ones.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/znscampaign"
	"github.com/dakenh/dakenh/ent/znscampaignrecipient"
	"github.com/dakenh/dakenh/internal/apierr"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
	"github.com/dakenh/dakenh/internal/timer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Reasons of the campaign mutations' FAILED_PRECONDITION errors.
const (
	ReasonCampaignNotRunning = "CAMPAIGN_NOT_RUNNING"
	ReasonCampaignNotPaused  = "CAMPAIGN_NOT_PAUSED"
	ReasonCampaignFinished   = "CAMPAIGN_FINISHED"
)

// Campaign limits.
const (
	// maxCampaignName bounds a campaign's name, as the schema does.
	maxCampaignName = 200
	// segmentPage is how many customers creation reads per query.
	segmentPage = 1000
	// insertChunk is how many recipients one INSERT carries: well under
	// SQLite's bound on a statement's variables.
	insertChunk = 500
)

// CampaignInput is what createZnsCampaign takes (schema.graphqls,
// CreateZnsCampaignInput).
type CampaignInput struct {
	Name       string
	ChannelID  gid.ID
	TemplateID string
	Where      *ent.CustomerWhereInput
	Search     *string
	Params     map[string]any
}

// placeholder is a customer field in a campaign parameter: {{name}},
// {{phone}} or {{customFields.<key>}}, spaces inside the braces allowed.
var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// CreateCampaign checks a campaign, fixes its recipients and starts it, in
// one transaction: the segment's customers are read in it, each becomes a
// recipient (skipped with a reason, or pending), and the runner's timer is
// due at once. Nothing is stored when a rule refuses the campaign.
func (s *Service) CreateCampaign(ctx context.Context, in CampaignInput) (*ent.ZnsCampaign, error) {
	v, err := requireAdmin(ctx, "run ZNS campaigns")
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		return nil, apierr.BadInput("name", "a campaign needs a name")
	case utf8.RuneCountInString(name) > maxCampaignName:
		return nil, apierr.BadInput("name", "the name is at most %d characters", maxCampaignName)
	}
	ch, err := s.channel(ctx, in.ChannelID)
	if err != nil {
		return nil, err
	}
	if err := CheckChannel(ch); err != nil {
		return nil, err
	}
	tpl, err := s.enabledTemplate(ctx, ch, in.TemplateID)
	if err != nil {
		return nil, err
	}
	keys, err := s.client.CustomField.Query().Select(customfield.FieldKey).Strings(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkCampaignParams(tpl.Params, in.Params, keys); err != nil {
		return nil, err
	}
	search := ""
	if in.Search != nil {
		search = *in.Search
	}

	sys := viewer.SystemContext(ctx, ch.OrganizationID)
	tx, err := s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	segment, err := crm.Segment(tx.Client(), in.Where, search)
	if err != nil {
		return nil, err
	}
	campaignID := gid.New("ZnsCampaign")
	var recipients []*ent.ZnsCampaignRecipientCreate
	skipped := 0
	var after gid.ID
	for {
		q := segment.Clone().Order(ent.Asc(customer.FieldID)).Limit(segmentPage)
		if after != "" {
			q = q.Where(customer.IDGT(after))
		}
		page, err := q.All(ctx) // as the viewer: the segment is what they see
		if err != nil {
			return nil, fmt.Errorf("zns: reading the campaign's segment: %w", err)
		}
		for _, c := range page {
			r := recipientFor(campaignID, tpl.Params, in.Params, c)
			create := tx.ZnsCampaignRecipient.Create().
				SetOrganizationID(ch.OrganizationID).
				SetCampaignID(campaignID).
				SetCustomerID(c.ID).
				SetTrackingID(r.trackingID).
				SetStatus(r.status)
			if r.status == znscampaignrecipient.StatusSKIPPED {
				skipped++
				create.SetSkipReason(r.reason)
				if r.detail != "" {
					create.SetSkipDetail(clip(r.detail, 500))
				}
			} else {
				create.SetPhone(r.phone).SetParams(r.params)
			}
			recipients = append(recipients, create)
		}
		if len(page) < segmentPage {
			break
		}
		after = page[len(page)-1].ID
	}
	status := znscampaign.StatusRUNNING
	create := tx.ZnsCampaign.Create().
		SetID(campaignID).
		SetOrganizationID(ch.OrganizationID).
		SetName(name).
		SetChannelID(ch.ID).
		SetTemplateID(tpl.ID).
		SetParams(in.Params).
		SetTotal(len(recipients)).
		SetSkipped(skipped)
	if skipped == len(recipients) {
		status = znscampaign.StatusDONE
		create.SetFinishedAt(s.now())
	}
	create.SetStatus(status)
	if v.IsUser() {
		create.SetCreatedByID(v.UserID)
	}
	if err := create.Exec(sys); err != nil {
		return nil, err
	}
	for start := 0; start < len(recipients); start += insertChunk {
		end := min(start+insertChunk, len(recipients))
		if err := tx.ZnsCampaignRecipient.CreateBulk(recipients[start:end]...).Exec(sys); err != nil {
			return nil, fmt.Errorf("zns: storing the campaign's recipients: %w", err)
		}
	}
	if status == znscampaign.StatusRUNNING {
		if err := s.scheduleCampaign(sys, tx, ch.OrganizationID, campaignID, s.now()); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.client.ZnsCampaign.Get(ctx, campaignID)
}

// recipient is what creation decided for one customer.
type recipient struct {
	status     znscampaignrecipient.Status
	reason     znscampaignrecipient.SkipReason
	detail     string
	phone      string
	params     map[string]string
	trackingID string
}

// recipientFor decides c's place in the campaign: skipped when it has no
// phone, asked not to be contacted, has a number ZNS cannot reach or
// parameters the template refuses once filled; pending otherwise.
func recipientFor(campaignID gid.ID, spec []schematype.ZnsParam, params map[string]any, c *ent.Customer) recipient {
	r := recipient{trackingID: CampaignTrackingID(campaignID, c.ID)}
	skip := func(reason znscampaignrecipient.SkipReason, detail string) recipient {
		r.status, r.reason, r.detail = znscampaignrecipient.StatusSKIPPED, reason, detail
		return r
	}
	if c.Phone == nil || strings.TrimSpace(*c.Phone) == "" {
		return skip(znscampaignrecipient.SkipReasonNO_PHONE, "")
	}
	if c.DoNotContact {
		return skip(znscampaignrecipient.SkipReasonDO_NOT_CONTACT, "")
	}
	e164, err := phone.Normalize(*c.Phone)
	if err != nil || !strings.HasPrefix(e164, "+84") {
		return skip(znscampaignrecipient.SkipReasonINVALID_PHONE, "ZNS is sent to Vietnamese numbers only")
	}
	filled, err := CheckParams(spec, fillParams(params, c))
	if err != nil {
		detail := err.Error()
		if e, ok := apierr.As(err); ok {
			detail = e.Field + ": " + e.Message
		}
		return skip(znscampaignrecipient.SkipReasonINVALID_PARAMS, detail)
	}
	r.status, r.phone, r.params = znscampaignrecipient.StatusPENDING, e164, filled
	return r
}

// CampaignTrackingID is the trackingId of the message campaign sends to
// customer: the same pair always gives the same one, so the channel's
// unique trackingIds let the message exist once, however often the runner
// retries, crashes or resumes.
func CampaignTrackingID(campaign, customer gid.ID) string {
	sum := sha256.Sum256([]byte(string(campaign) + "\x00" + string(customer)))
	return "zc_" + hex.EncodeToString(sum[:])[:40]
}

// checkCampaignParams refuses, as BAD_USER_INPUT on params.<name>, a
// parameter the template does not have, a required one missing, a
// placeholder naming no customer field (keys are the organization's
// custom fields), and a value without placeholders the template refuses.
func checkCampaignParams(spec []schematype.ZnsParam, params map[string]any, keys []string) error {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[k] = true
	}
	static := map[string]any{}
	var staticSpec []schematype.ZnsParam
	for _, p := range spec {
		v, ok := params[p.Name]
		text, isText := v.(string)
		if !ok || !isText || !placeholder.MatchString(text) {
			if ok {
				static[p.Name] = v
			}
			staticSpec = append(staticSpec, p)
			continue
		}
		for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
			switch name := m[1]; {
			case name == "name", name == "phone":
			case strings.HasPrefix(name, "customFields.") && known[strings.TrimPrefix(name, "customFields.")]:
			case strings.HasPrefix(name, "customFields."):
				return apierr.BadInput("params."+p.Name, "%s names the custom field %q, which the organization does not have", p.Name, strings.TrimPrefix(name, "customFields."))
			default:
				return apierr.BadInput("params."+p.Name, `%s names %q; a placeholder is {{name}}, {{phone}} or {{customFields.<key>}}`, p.Name, name)
			}
		}
	}
	for name, v := range params {
		if _, ok := static[name]; !ok {
			if _, isText := v.(string); !isText || !placeholder.MatchString(v.(string)) {
				static[name] = v // not the template's: CheckParams names it
			}
		}
	}
	_, err := CheckParams(staticSpec, static)
	if err != nil {
		// A name the template has but staticSpec lacks is a placeholder
		// one, already checked.
		var e *apierr.Error
		if errors.As(err, &e) && strings.HasPrefix(e.Message, "the template has no parameter") {
			for _, p := range spec {
				if "params."+p.Name == e.Field {
					return nil
				}
			}
		}
	}
	return err
}

// fillParams is params with each placeholder replaced by c's field: its
// name, its phone in the national form (0…), a custom field as text (empty
// when c has none).
func fillParams(params map[string]any, c *ent.Customer) map[string]any {
	out := make(map[string]any, len(params))
	for name, v := range params {
		text, ok := v.(string)
		if !ok {
			out[name] = v
			continue
		}
		out[name] = placeholder.ReplaceAllStringFunc(text, func(m string) string {
			switch field := placeholder.FindStringSubmatch(m)[1]; {
			case field == "name":
				return c.Name
			case field == "phone":
				if c.Phone == nil {
					return ""
				}
				return phone.National(*c.Phone)
			case strings.HasPrefix(field, "customFields."):
				return customFieldText(c.CustomFields[strings.TrimPrefix(field, "customFields.")])
			}
			return m
		})
	}
	return out
}

// customFieldText is a custom field's value as a ZNS parameter: dates
// (stored as yyyy-mm-dd) as Zalo's dd/MM/yyyy, numbers in decimal.
func customFieldText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t.Format("02/01/2006")
		}
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// PauseCampaign stops queueing a RUNNING campaign: the runner finds it
// PAUSED and stops; messages already queued still go.
func (s *Service) PauseCampaign(ctx context.Context, id gid.ID) (*ent.ZnsCampaign, error) {
	return s.setCampaignStatus(ctx, id, znscampaign.StatusPAUSED, ReasonCampaignNotRunning,
		"only a RUNNING campaign can be paused", znscampaign.StatusRUNNING)
}

// ResumeCampaign makes a PAUSED campaign RUNNING and its runner due now.
func (s *Service) ResumeCampaign(ctx context.Context, id gid.ID) (*ent.ZnsCampaign, error) {
	return s.setCampaignStatus(ctx, id, znscampaign.StatusRUNNING, ReasonCampaignNotPaused,
		"only a PAUSED campaign can be resumed", znscampaign.StatusPAUSED)
}

// CancelCampaign ends a RUNNING or PAUSED campaign: its pending recipients
// are never queued; messages already queued still go.
func (s *Service) CancelCampaign(ctx context.Context, id gid.ID) (*ent.ZnsCampaign, error) {
	return s.setCampaignStatus(ctx, id, znscampaign.StatusCANCELLED, ReasonCampaignFinished,
		"the campaign is already finished", znscampaign.StatusRUNNING, znscampaign.StatusPAUSED)
}

// setCampaignStatus moves campaign id from one of from to to, or refuses
// with reason. The change is conditional on the status read, so of two
// concurrent changes one is refused. The campaign's timer is
// scheduled before the campaign row is written: the runner holds its
// timer, then the campaign, and so must everyone.
func (s *Service) setCampaignStatus(ctx context.Context, id gid.ID, to znscampaign.Status, reason, msg string, from ...znscampaign.Status) (*ent.ZnsCampaign, error) {
	if _, err := requireAdmin(ctx, "run ZNS campaigns"); err != nil {
		return nil, err
	}
	c, err := s.client.ZnsCampaign.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "campaign not found")
	}
	if err != nil {
		return nil, err
	}
	refuse := apierr.Precondition(reason, "%s; it is %s", msg, c.Status)
	allowed := false
	for _, f := range from {
		allowed = allowed || c.Status == f
	}
	if !allowed {
		return nil, refuse
	}
	sys := viewer.SystemContext(ctx, c.OrganizationID)
	tx, err := s.client.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if err := timer.Hold(sys, tx, c.OrganizationID, timerCampaign, string(c.ID)); err != nil {
		return nil, err
	}
	if to == znscampaign.StatusRUNNING {
		if err := s.scheduleCampaign(sys, tx, c.OrganizationID, c.ID, s.now()); err != nil {
			return nil, err
		}
	}
	upd := tx.ZnsCampaign.Update().
		Where(znscampaign.ID(c.ID), znscampaign.StatusIn(from...)).
		SetStatus(to).
		ClearWaitingFor()
	if to == znscampaign.StatusCANCELLED {
		upd.SetFinishedAt(s.now())
	}
	n, err := upd.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, refuse // changed meanwhile
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.client.ZnsCampaign.Get(ctx, c.ID)
}

// scheduleCampaign makes campaign id's runner due at due.
func (s *Service) scheduleCampaign(ctx context.Context, tx *ent.Tx, orgID, id gid.ID, due time.Time) error {
	return timer.Schedule(ctx, tx, timer.Spec{OrgID: orgID, Kind: timerCampaign, Key: string(id), Due: due})
}
