// Package schematype holds the Go types of JSON columns and of enums that
// several entities share. It lives apart from ent/schema because the
// generated client imports these types while the schema imports the
// generated privacy package.
package schematype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Attachment is a file, image, sticker or place carried by a message.
type Attachment struct {
	Type      string   `json:"type"`
	URL       string   `json:"url,omitempty"`
	Name      string   `json:"name,omitempty"`
	Size      int64    `json:"size,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// DistributionMethod is how a rule or a department distributes new
// conversations among its agents (README.md, "Distribution"). Rules and departments
// share it because one engine implements each method for both.
type DistributionMethod string

// The distribution methods.
const (
	// RoundRobin assigns to the ONLINE agents in turn.
	RoundRobin DistributionMethod = "ROUND_ROBIN"
	// SelfClaim leaves the conversation unclaimed for the agents to claim.
	SelfClaim DistributionMethod = "SELF_CLAIM"
	// Sequential offers to one agent at a time, in list order.
	Sequential DistributionMethod = "SEQUENTIAL"
	// Broadcast offers to every ONLINE agent at once.
	Broadcast DistributionMethod = "BROADCAST"
	// Random offers to one random ONLINE agent at a time.
	Random DistributionMethod = "RANDOM"
)

// Values lists the methods; ent uses it to build the enum column.
func (DistributionMethod) Values() []string {
	return []string{string(RoundRobin), string(SelfClaim), string(Sequential), string(Broadcast), string(Random)}
}

// Offers reports whether the method offers conversations to agents, who
// accept or decline, rather than assigning or leaving them to be claimed.
func (m DistributionMethod) Offers() bool {
	return m == Sequential || m == Broadcast || m == Random
}

// MarshalGQL writes the method as a GraphQL enum value.
func (m DistributionMethod) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(m)))
}

// UnmarshalGQL reads a method from a GraphQL enum value.
func (m *DistributionMethod) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enum DistributionMethod must be a string, got %T", v)
	}
	if !slices.Contains(DistributionMethod("").Values(), s) {
		return fmt.Errorf("%q is not a DistributionMethod", s)
	}
	*m = DistributionMethod(s)
	return nil
}

// Weekday is a day of the week in a call window, MON to SUN.
type Weekday string

// The weekdays, Monday first as Vietnamese calendars show them.
const (
	Monday    Weekday = "MON"
	Tuesday   Weekday = "TUE"
	Wednesday Weekday = "WED"
	Thursday  Weekday = "THU"
	Friday    Weekday = "FRI"
	Saturday  Weekday = "SAT"
	Sunday    Weekday = "SUN"
)

// Values lists the weekdays in order.
func (Weekday) Values() []string {
	return []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}
}

// MarshalGQL writes the weekday as a GraphQL enum value.
func (d Weekday) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(d)))
}

// UnmarshalGQL reads a weekday from a GraphQL enum value.
func (d *Weekday) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enum Weekday must be a string, got %T", v)
	}
	if !slices.Contains(Weekday("").Values(), s) {
		return fmt.Errorf("%q is not a Weekday", s)
	}
	*d = Weekday(s)
	return nil
}

// CallWindow is a stretch of local time, on some weekdays, during which a
// Zalo OA makes and receives calls: Start and End are "HH:MM" in the call
// settings' time zone, End after Start.
type CallWindow struct {
	Weekdays []Weekday `json:"weekdays"`
	Start    string    `json:"start"`
	End      string    `json:"end"`
}

// ZnsParam is a parameter of a ZNS template, as Zalo's template detail
// describes it: its name in template_data, its type (STRING, NUMBER,
// DATE, …), whether a send must give it, its length bounds in characters
// (0: none) and whether null is accepted.
type ZnsParam struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Required   bool   `json:"required"`
	MinLength  int    `json:"minLength"`
	MaxLength  int    `json:"maxLength"`
	AcceptNull bool   `json:"acceptNull"`
}

// OAContent is the structured content of an OA message that text and
// attachments do not carry (README.md, "OA messages"): the picture of a
// FORM (Zalo's request_user_info), and the template and its data of a
// PROMOTION or TRANSACTION message.
type OAContent struct {
	// ImageURL is the FORM's picture.
	ImageURL string `json:"image_url,omitempty"`
	// TemplateID is Zalo's ID of the template (ZnsTemplate.templateId).
	TemplateID string `json:"template_id,omitempty"`
	// TemplateData are the template's parameters by name.
	TemplateData map[string]string `json:"template_data,omitempty"`
}
