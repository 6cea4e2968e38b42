package livetalk

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/media"
)

// The bounds of the settings.
const (
	MinWidth, MaxWidth   = 280, 800
	MinHeight, MaxHeight = 360, 1000
	// MaxOffset is the farthest the widget sits from its corner, in CSS
	// pixels.
	MaxOffset = 200
	// MaxPopupDelay is the longest popup delay, in seconds.
	MaxPopupDelay = 3600
	// MaxLinks is how many other links a widget shows.
	MaxLinks = 5
	// MaxChoices is how many departments or agents a visitor chooses from.
	MaxChoices = 20
	// MaxURLLength bounds every URL.
	MaxURLLength = 2000
)

// SettingsInput changes a LIVETALK channel's settings
// (LiveTalkSettingsInput). A field left out, or null, keeps its value; a
// nested object given changes only the fields it gives, the same way; a
// list given replaces the old one whole. A media reference given as ""
// removes it. CHAT is always among the functions, added when a list of
// functions leaves it out.
type SettingsInput struct {
	ButtonText       *string
	Popup            *PopupInput
	Position         *string
	OffsetX, OffsetY *int
	HeaderColor      *string
	TextColor        *string
	Title            *string
	Description      *string
	Width, Height    *int
	Functions        []string
	VisibleFields    []string
	RequiredFields   []string
	StartBy          *string
	DepartmentIDs    []gid.ID
	AgentIDs         []gid.ID
	Representative   *string
	Signature        *SignatureInput
	ButtonStyle      *ButtonStyleInput
	ButtonDisplay    *ButtonDisplayInput
	Links            []LinkInput
	StartButtons     *string
	Sounds           *SoundsInput
}

// PopupInput changes the greeting popup (LiveTalkPopupInput).
type PopupInput struct {
	Kind         *string
	Content      *string
	ImageID      *gid.ID
	AvatarID     *gid.ID
	Title        *string
	Name         *string
	DelaySeconds *int
}

// SignatureInput changes the signature (LiveTalkSignatureInput).
type SignatureInput struct {
	Text    *string
	LinkURL *string
}

// ButtonStyleInput changes the start buttons' look
// (LiveTalkButtonStyleInput).
type ButtonStyleInput struct {
	Kind            *string
	Icon            *string
	BackgroundColor *string
	IconColor       *string
	ImageID         *gid.ID
}

// ButtonDisplayInput changes which start buttons show
// (LiveTalkButtonDisplayInput).
type ButtonDisplayInput struct {
	Mode      *string
	Highlight *string
}

// LinkInput is one other link (LiveTalkLinkInput); Target defaults to
// NEW_TAB.
type LinkInput struct {
	Kind        string
	URL         string
	Description *string
	Target      *string
}

// SoundsInput changes the notification sounds (LiveTalkSoundsInput).
type SoundsInput struct {
	NewMessage    *SoundInput
	NewRoom       *SoundInput
	AudioRingtone *SoundInput
	VideoRingtone *SoundInput
	HoldMusic     *SoundInput
	Volume        *int
}

// SoundInput is a sound: exactly one of a built-in's name and an uploaded
// SOUND's ID (LiveTalkSoundInput).
type SoundInput struct {
	Builtin *string
	MediaID *gid.ID
}

// colorPattern is #rrggbb.
var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// check validates what can be checked without the database or the
// current settings, field by field.
func (in SettingsInput) check() error {
	checks := []error{
		text("input.buttonText", in.ButtonText, 1, 40),
		oneOf("input.position", in.Position, positions),
		between("input.offsetX", in.OffsetX, 0, MaxOffset),
		between("input.offsetY", in.OffsetY, 0, MaxOffset),
		color("input.headerColor", in.HeaderColor),
		color("input.textColor", in.TextColor),
		text("input.title", in.Title, 1, 100),
		text("input.description", in.Description, 0, 500),
		between("input.width", in.Width, MinWidth, MaxWidth),
		between("input.height", in.Height, MinHeight, MaxHeight),
		list("input.functions", in.Functions, functions),
		list("input.visibleFields", in.VisibleFields, visitorFields),
		list("input.requiredFields", in.RequiredFields, visitorFields),
		oneOf("input.startBy", in.StartBy, startBys),
		ids("input.departmentIds", in.DepartmentIDs),
		ids("input.agentIds", in.AgentIDs),
		oneOf("input.representative", in.Representative, representatives),
		oneOf("input.startButtons", in.StartButtons, startButtons),
	}
	if p := in.Popup; p != nil {
		checks = append(checks,
			oneOf("input.popup.kind", p.Kind, popupKinds),
			text("input.popup.content", p.Content, 0, 500),
			text("input.popup.title", p.Title, 0, 100),
			text("input.popup.name", p.Name, 0, 100),
			between("input.popup.delaySeconds", p.DelaySeconds, 0, MaxPopupDelay))
	}
	if s := in.Signature; s != nil {
		checks = append(checks, signature("input.signature.text", s.Text), link("input.signature.linkUrl", s.LinkURL, true))
	}
	if b := in.ButtonStyle; b != nil {
		checks = append(checks,
			oneOf("input.buttonStyle.kind", b.Kind, buttonKinds),
			oneOf("input.buttonStyle.icon", b.Icon, PresetIcons),
			color("input.buttonStyle.backgroundColor", b.BackgroundColor),
			color("input.buttonStyle.iconColor", b.IconColor))
	}
	if d := in.ButtonDisplay; d != nil {
		checks = append(checks, oneOf("input.buttonDisplay.mode", d.Mode, displayModes),
			oneOf("input.buttonDisplay.highlight", d.Highlight, functions))
	}
	if len(in.Links) > MaxLinks {
		checks = append(checks, apierr.BadInput(fmt.Sprintf("input.links.%d", MaxLinks), "a widget has at most %d other links", MaxLinks))
	}
	for i, l := range in.Links {
		f := fmt.Sprintf("input.links.%d", i)
		checks = append(checks,
			oneOf(f+".kind", &l.Kind, linkKinds),
			link(f+".url", &l.URL, false),
			text(f+".description", l.Description, 0, 100),
			oneOf(f+".target", l.Target, linkTargets))
	}
	if s := in.Sounds; s != nil {
		for _, snd := range s.named() {
			if snd.in == nil {
				continue
			}
			f := "input.sounds." + snd.name
			if (snd.in.Builtin == nil) == (snd.in.MediaID == nil) {
				checks = append(checks, apierr.BadInput(f, "a sound is either builtin or mediaId"))
				continue
			}
			checks = append(checks, oneOf(f+".builtin", snd.in.Builtin, BuiltinSounds))
		}
		checks = append(checks, between("input.sounds.volume", s.Volume, 0, 100))
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// namedSound is a sound input and its field name.
type namedSound struct {
	name string
	in   *SoundInput
	out  func(*schematype.LiveTalkSounds) *schematype.LiveTalkSound
}

// named lists the sounds in field order.
func (s *SoundsInput) named() []namedSound {
	return []namedSound{
		{"newMessage", s.NewMessage, func(o *schematype.LiveTalkSounds) *schematype.LiveTalkSound { return &o.NewMessage }},
		{"newRoom", s.NewRoom, func(o *schematype.LiveTalkSounds) *schematype.LiveTalkSound { return &o.NewRoom }},
		{"audioRingtone", s.AudioRingtone, func(o *schematype.LiveTalkSounds) *schematype.LiveTalkSound { return &o.AudioRingtone }},
		{"videoRingtone", s.VideoRingtone, func(o *schematype.LiveTalkSounds) *schematype.LiveTalkSound { return &o.VideoRingtone }},
		{"holdMusic", s.HoldMusic, func(o *schematype.LiveTalkSounds) *schematype.LiveTalkSound { return &o.HoldMusic }},
	}
}

// apply returns cur changed by in, after the checks that need the
// database (references) or the whole result (a required field must be
// shown, an IMAGE popup needs its image...). ctx is the admin's, so
// references are looked up in their organization only.
func (in SettingsInput) apply(ctx context.Context, c *ent.Client, cur schematype.LiveTalkSettings) (schematype.LiveTalkSettings, error) {
	next := cur
	set(&next.ButtonText, trimmed(in.ButtonText))
	set(&next.Position, in.Position)
	set(&next.OffsetX, in.OffsetX)
	set(&next.OffsetY, in.OffsetY)
	set(&next.HeaderColor, lower(in.HeaderColor))
	set(&next.TextColor, lower(in.TextColor))
	set(&next.Title, trimmed(in.Title))
	set(&next.Description, trimmed(in.Description))
	set(&next.Width, in.Width)
	set(&next.Height, in.Height)
	if in.Functions != nil {
		next.Functions = []string{"CHAT"}
		for _, f := range functions[1:] {
			if contains(in.Functions, f) {
				next.Functions = append(next.Functions, f)
			}
		}
	}
	if in.VisibleFields != nil {
		next.VisibleFields = in.VisibleFields
	}
	if in.RequiredFields != nil {
		next.RequiredFields = in.RequiredFields
	}
	set(&next.StartBy, in.StartBy)
	set(&next.Representative, in.Representative)
	set(&next.StartButtons, in.StartButtons)
	if in.DepartmentIDs != nil {
		n, err := c.Department.Query().Where(department.IDIn(in.DepartmentIDs...)).IDs(ctx)
		if err != nil {
			return next, err
		}
		if err := allFound("input.departmentIds", in.DepartmentIDs, n, "department"); err != nil {
			return next, err
		}
		next.DepartmentIDs = in.DepartmentIDs
	}
	if in.AgentIDs != nil {
		n, err := c.User.Query().Where(user.IDIn(in.AgentIDs...), user.Active(true)).IDs(ctx)
		if err != nil {
			return next, err
		}
		if err := allFound("input.agentIds", in.AgentIDs, n, "active user"); err != nil {
			return next, err
		}
		next.AgentIDs = in.AgentIDs
	}
	if p := in.Popup; p != nil {
		set(&next.Popup.Kind, p.Kind)
		set(&next.Popup.Content, trimmed(p.Content))
		set(&next.Popup.Title, trimmed(p.Title))
		set(&next.Popup.Name, trimmed(p.Name))
		set(&next.Popup.DelaySeconds, p.DelaySeconds)
		var err error
		if next.Popup.ImageID, next.Popup.ImageURL, err = ref(ctx, c, p.ImageID, next.Popup.ImageID, next.Popup.ImageURL, media.Image, "input.popup.imageId"); err != nil {
			return next, err
		}
		if next.Popup.AvatarID, next.Popup.AvatarURL, err = ref(ctx, c, p.AvatarID, next.Popup.AvatarID, next.Popup.AvatarURL, media.Image, "input.popup.avatarId"); err != nil {
			return next, err
		}
	}
	if s := in.Signature; s != nil {
		set(&next.Signature.Text, trimmed(s.Text))
		set(&next.Signature.LinkURL, trimmed(s.LinkURL))
	}
	if b := in.ButtonStyle; b != nil {
		set(&next.ButtonStyle.Kind, b.Kind)
		set(&next.ButtonStyle.Icon, b.Icon)
		set(&next.ButtonStyle.BackgroundColor, lower(b.BackgroundColor))
		set(&next.ButtonStyle.IconColor, lower(b.IconColor))
		var err error
		if next.ButtonStyle.ImageID, next.ButtonStyle.ImageURL, err = ref(ctx, c, b.ImageID, next.ButtonStyle.ImageID, next.ButtonStyle.ImageURL, media.Image, "input.buttonStyle.imageId"); err != nil {
			return next, err
		}
	}
	if d := in.ButtonDisplay; d != nil {
		set(&next.ButtonDisplay.Mode, d.Mode)
		if d.Highlight != nil {
			next.ButtonDisplay.Highlight = d.Highlight
		}
	}
	if next.ButtonDisplay.Mode != "HIGHLIGHT" {
		next.ButtonDisplay.Highlight = nil
	}
	if in.Links != nil {
		next.Links = make([]schematype.LiveTalkLink, len(in.Links))
		for i, l := range in.Links {
			next.Links[i] = schematype.LiveTalkLink{Kind: l.Kind, URL: strings.TrimSpace(l.URL), Target: "NEW_TAB"}
			set(&next.Links[i].Description, trimmed(l.Description))
			set(&next.Links[i].Target, l.Target)
		}
	}
	if s := in.Sounds; s != nil {
		set(&next.Sounds.Volume, s.Volume)
		for _, snd := range s.named() {
			if snd.in == nil {
				continue
			}
			out := snd.out(&next.Sounds)
			if snd.in.Builtin != nil {
				*out = schematype.LiveTalkSound{Builtin: snd.in.Builtin}
				continue
			}
			f := "input.sounds." + snd.name + ".mediaId"
			if *snd.in.MediaID == "" {
				return next, apierr.BadInput(f, "a sound needs a builtin or a mediaId")
			}
			m, err := media.Lookup(ctx, c, *snd.in.MediaID, media.Sound, f)
			if err != nil {
				return next, err
			}
			u := media.URL(m.Sha256)
			*out = schematype.LiveTalkSound{MediaID: &m.ID, URL: &u}
		}
	}
	return next, consistent(in, next)
}

// consistent checks the rules between settings, naming the field of in
// that broke it.
func consistent(in SettingsInput, s schematype.LiveTalkSettings) error {
	for i, f := range s.RequiredFields {
		if !contains(s.VisibleFields, f) {
			return apierr.BadInput(fmt.Sprintf("input.requiredFields.%d", i), "%s is required but not among the visible fields", f)
		}
	}
	if s.Popup.Kind == "IMAGE" && s.Popup.ImageID == nil {
		return apierr.BadInput(pick(in.Popup != nil && in.Popup.ImageID != nil, "input.popup.imageId", "input.popup.kind"), "an IMAGE popup needs an imageId")
	}
	if s.ButtonStyle.Kind == "IMAGE" && s.ButtonStyle.ImageID == nil {
		return apierr.BadInput(pick(in.ButtonStyle != nil && in.ButtonStyle.ImageID != nil, "input.buttonStyle.imageId", "input.buttonStyle.kind"), "an IMAGE button style needs an imageId")
	}
	need := map[string]string{"ONLY_AUDIO": "AUDIO", "ONLY_VIDEO": "VIDEO"}[s.ButtonDisplay.Mode]
	if s.ButtonDisplay.Mode == "HIGHLIGHT" {
		if s.ButtonDisplay.Highlight == nil {
			return apierr.BadInput("input.buttonDisplay.highlight", "HIGHLIGHT needs the function to highlight")
		}
		need = *s.ButtonDisplay.Highlight
	}
	if need != "" && !contains(s.Functions, need) {
		return apierr.BadInput(pick(in.Functions != nil, "input.functions", "input.buttonDisplay.mode"), "the buttons show %s, which is not among the functions", need)
	}
	if strings.Contains(s.Signature.Text, "[[") && s.Signature.LinkURL == "" {
		return apierr.BadInput("input.signature.linkUrl", "a signature with a [[link text]] needs a linkUrl")
	}
	return nil
}

// ref applies a media reference: nil keeps cur, "" removes it, an ID must
// be one of the organization's files of kind.
func ref(ctx context.Context, c *ent.Client, in, curID *gid.ID, curURL *string, kind, field string) (*gid.ID, *string, error) {
	switch {
	case in == nil:
		return curID, curURL, nil
	case *in == "":
		return nil, nil, nil
	}
	m, err := media.Lookup(ctx, c, *in, kind, field)
	if err != nil {
		return nil, nil, err
	}
	u := media.URL(m.Sha256)
	return &m.ID, &u, nil
}

// allFound names the first of want missing from found.
func allFound(field string, want, found []gid.ID, what string) error {
	for i, id := range want {
		if !contains(idStrings(found), string(id)) {
			return &apierr.Error{Code: apierr.NotFound, Field: fmt.Sprintf("%s.%d", field, i), Message: fmt.Sprintf("no %s %s", what, id)}
		}
	}
	return nil
}

func idStrings(ids []gid.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// set copies *v into dst when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

func lower(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.ToLower(*s)
	return &t
}

// text checks a string's length in characters, after trimming.
func text(field string, s *string, minLen, maxLen int) error {
	if s == nil {
		return nil
	}
	n := utf8.RuneCountInString(strings.TrimSpace(*s))
	if n < minLen {
		return apierr.BadInput(field, "must not be empty")
	}
	if n > maxLen {
		return apierr.BadInput(field, "is at most %d characters", maxLen)
	}
	return nil
}

func oneOf(field string, s *string, allowed []string) error {
	if s != nil && !contains(allowed, *s) {
		return apierr.BadInput(field, "must be one of %s", strings.Join(allowed, ", "))
	}
	return nil
}

func between(field string, n *int, minN, maxN int) error {
	if n != nil && (*n < minN || *n > maxN) {
		return apierr.BadInput(field, "must be between %d and %d", minN, maxN)
	}
	return nil
}

func color(field string, s *string) error {
	if s != nil && !colorPattern.MatchString(*s) {
		return apierr.BadInput(field, "a colour is #rrggbb")
	}
	return nil
}

// list checks a list's values and that none repeats.
func list(field string, l []string, allowed []string) error {
	for i, v := range l {
		f := fmt.Sprintf("%s.%d", field, i)
		if err := oneOf(f, &v, allowed); err != nil {
			return err
		}
		if contains(l[:i], v) {
			return apierr.BadInput(f, "%s is given twice", v)
		}
	}
	return nil
}

// ids checks an ID list's length and that none repeats.
func ids(field string, l []gid.ID) error {
	if len(l) > MaxChoices {
		return apierr.BadInput(fmt.Sprintf("%s.%d", field, MaxChoices), "at most %d", MaxChoices)
	}
	for i, id := range l {
		if contains(idStrings(l[:i]), string(id)) {
			return apierr.BadInput(fmt.Sprintf("%s.%d", field, i), "%s is given twice", id)
		}
	}
	return nil
}

// link checks an http(s) URL; empty is allowed when optional.
func link(field string, s *string, optional bool) error {
	if s == nil {
		return nil
	}
	v := strings.TrimSpace(*s)
	if v == "" && optional {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(v, " \t\r\n") {
		return apierr.BadInput(field, "must be an http or https URL")
	}
	if len(v) > MaxURLLength {
		return apierr.BadInput(field, "is at most %d characters", MaxURLLength)
	}
	return nil
}

// signaturePattern is a signature's text: plain text with at most one
// "[[link text]]", whose link text is not empty and holds no bracket.
var signaturePattern = regexp.MustCompile(`^[^\[\]]*(\[\[[^\[\]]+\]\][^\[\]]*)?$`)

func signature(field string, s *string) error {
	if err := text(field, s, 0, 200); err != nil {
		return err
	}
	if s != nil && !signaturePattern.MatchString(strings.TrimSpace(*s)) {
		return apierr.BadInput(field, "a signature holds at most one [[link text]] and no other brackets")
	}
	return nil
}
