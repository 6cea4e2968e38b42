package livetalk

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// WidgetLook is the public look and behaviour of a channel's widget: what a
// website visitor's browser may see, and nothing else (no agent sounds,
// no upload IDs). Media URLs are paths on this server ("/media/<sha256>").
type WidgetLook struct {
	Title          string                           `json:"title"`
	Description    string                           `json:"description"`
	HeaderColor    string                           `json:"headerColor"`
	TextColor      string                           `json:"textColor"`
	Width          int                              `json:"width"`
	Height         int                              `json:"height"`
	Position       string                           `json:"position"`
	OffsetX        int                              `json:"offsetX"`
	OffsetY        int                              `json:"offsetY"`
	ButtonText     string                           `json:"buttonText"`
	Popup          LookPopup                        `json:"popup"`
	Functions      []string                         `json:"functions"`
	VisibleFields  []string                         `json:"visibleFields"`
	RequiredFields []string                         `json:"requiredFields"`
	StartBy        string                           `json:"startBy"`
	DepartmentIDs  []gid.ID                         `json:"departmentIds"`
	AgentIDs       []gid.ID                         `json:"agentIds"`
	Representative string                           `json:"representative"`
	Signature      schematype.LiveTalkSignature     `json:"signature"`
	ButtonStyle    LookButtonStyle                  `json:"buttonStyle"`
	ButtonDisplay  schematype.LiveTalkButtonDisplay `json:"buttonDisplay"`
	StartButtons   string                           `json:"startButtons"`
	Links          []schematype.LiveTalkLink        `json:"links"`
	// HoldMusic is what the visitor hears while an agent is rung.
	HoldMusic LookSound `json:"holdMusic"`
}

// LookPopup is the greeting popup's public part.
type LookPopup struct {
	Kind         string `json:"kind"`
	Content      string `json:"content"`
	ImageURL     string `json:"imageUrl,omitempty"`
	AvatarURL    string `json:"avatarUrl,omitempty"`
	Title        string `json:"title"`
	Name         string `json:"name"`
	DelaySeconds int    `json:"delaySeconds"`
}

// LookButtonStyle is the start buttons' public look.
type LookButtonStyle struct {
	Kind            string `json:"kind"`
	Icon            string `json:"icon"`
	BackgroundColor string `json:"backgroundColor"`
	IconColor       string `json:"iconColor"`
	ImageURL        string `json:"imageUrl,omitempty"`
}

// LookSound is a built-in sound by name or an uploaded one by URL.
type LookSound struct {
	Builtin string `json:"builtin,omitempty"`
	URL     string `json:"url,omitempty"`
}

// PublicLook returns the public look of a LIVETALK channel's widget, for
// the visitor API, which has no signed-in viewer: it reads as the system,
// so the caller must have found channelID from the widget's key. A channel
// that does not exist or is not LIVETALK is NOT_FOUND.
func PublicLook(ctx context.Context, c *ent.Client, channelID gid.ID) (WidgetLook, error) {
	ch, err := c.Channel.Query().Where(channel.ID(channelID), channel.KindEQ(channel.KindLIVETALK)).
		Only(viewer.SystemContext(ctx, ""))
	if ent.IsNotFound(err) {
		return WidgetLook{}, apierr.New(apierr.NotFound, "no LiveTalk channel %s", channelID)
	}
	if err != nil {
		return WidgetLook{}, err
	}
	return PublicLookOf(ctx, c, ch)
}

// PublicLookOf is PublicLook for a channel already loaded (by its widget
// key, say); a channel that is not LIVETALK is NOT_FOUND.
func PublicLookOf(ctx context.Context, c *ent.Client, ch *ent.Channel) (WidgetLook, error) {
	if ch.Kind != channel.KindLIVETALK {
		return WidgetLook{}, apierr.New(apierr.NotFound, "no LiveTalk channel %s", ch.ID)
	}
	s, err := settingsRow(viewer.SystemContext(ctx, ch.OrganizationID), c, ch)
	if err != nil {
		return WidgetLook{}, err
	}
	return publicPart(s.LiveTalkSettings), nil
}

// publicPart keeps the public part of s.
func publicPart(s schematype.LiveTalkSettings) WidgetLook {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return WidgetLook{
		Title: s.Title, Description: s.Description, HeaderColor: s.HeaderColor, TextColor: s.TextColor,
		Width: s.Width, Height: s.Height, Position: s.Position, OffsetX: s.OffsetX, OffsetY: s.OffsetY,
		ButtonText: s.ButtonText,
		Popup: LookPopup{
			Kind: s.Popup.Kind, Content: s.Popup.Content, ImageURL: str(s.Popup.ImageURL), AvatarURL: str(s.Popup.AvatarURL),
			Title: s.Popup.Title, Name: s.Popup.Name, DelaySeconds: s.Popup.DelaySeconds,
		},
		Functions: s.Functions, VisibleFields: s.VisibleFields, RequiredFields: s.RequiredFields,
		StartBy: s.StartBy, DepartmentIDs: s.DepartmentIDs, AgentIDs: s.AgentIDs, Representative: s.Representative,
		Signature: s.Signature,
		ButtonStyle: LookButtonStyle{
			Kind: s.ButtonStyle.Kind, Icon: s.ButtonStyle.Icon, BackgroundColor: s.ButtonStyle.BackgroundColor,
			IconColor: s.ButtonStyle.IconColor, ImageURL: str(s.ButtonStyle.ImageURL),
		},
		ButtonDisplay: s.ButtonDisplay, StartButtons: s.StartButtons, Links: s.Links,
		HoldMusic: LookSound{Builtin: str(s.Sounds.HoldMusic.Builtin), URL: str(s.Sounds.HoldMusic.URL)},
	}
}
