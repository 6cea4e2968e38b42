package schematype

import "github.com/dakenh/dakenh/internal/gid"

// LiveTalkSettings is the stored look and behaviour of a LIVETALK
// channel's widget (README.md, "LiveTalk settings"). internal/livetalk
// checks every field before it is stored; the JSON names are the GraphQL
// ones. References to uploaded media keep the file's ID and its public
// URL, which never changes for an ID (the URL is the content's hash).
type LiveTalkSettings struct {
	// ButtonText is the start button's label.
	ButtonText string        `json:"buttonText"`
	Popup      LiveTalkPopup `json:"popup"`
	// Position is BOTTOM_RIGHT or BOTTOM_LEFT; OffsetX and OffsetY are the
	// widget's distance from that corner in CSS pixels.
	Position    string `json:"position"`
	OffsetX     int    `json:"offsetX"`
	OffsetY     int    `json:"offsetY"`
	HeaderColor string `json:"headerColor"`
	TextColor   string `json:"textColor"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Width and Height are the chat window's size in CSS pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Functions always holds CHAT, then AUDIO and VIDEO when enabled.
	Functions []string `json:"functions"`
	// VisibleFields are the visitor fields asked for (NAME, PHONE,
	// EMAIL); RequiredFields, a subset, must be filled before a chat.
	VisibleFields  []string `json:"visibleFields"`
	RequiredFields []string `json:"requiredFields"`
	// StartBy is DEPARTMENT or AGENT: what the visitor chooses among
	// DepartmentIDs or AgentIDs (an empty list offers no choice).
	StartBy       string   `json:"startBy"`
	DepartmentIDs []gid.ID `json:"departmentIds"`
	AgentIDs      []gid.ID `json:"agentIds"`
	// Representative is DEPARTMENT (the department's name and avatar
	// stand for the window) or AGENTS (each agent shows, with a system
	// message when another joins).
	Representative string                `json:"representative"`
	Signature      LiveTalkSignature     `json:"signature"`
	ButtonStyle    LiveTalkButtonStyle   `json:"buttonStyle"`
	ButtonDisplay  LiveTalkButtonDisplay `json:"buttonDisplay"`
	Links          []LiveTalkLink        `json:"links"`
	// StartButtons is FULL (labelled buttons) or COLLAPSED (one button
	// that opens the others).
	StartButtons string         `json:"startButtons"`
	Sounds       LiveTalkSounds `json:"sounds"`
}

// LiveTalkPopup is the greeting popup beside the start button.
type LiveTalkPopup struct {
	// Kind is TEXT (Content is shown) or IMAGE (the image is).
	Kind      string  `json:"kind"`
	Content   string  `json:"content"`
	ImageID   *gid.ID `json:"imageId,omitempty"`
	ImageURL  *string `json:"imageUrl,omitempty"`
	AvatarID  *gid.ID `json:"avatarId,omitempty"`
	AvatarURL *string `json:"avatarUrl,omitempty"`
	// Title and Name are the popup's defaults when no greeting
	// auto-message matches the page; so is DelaySeconds (0: not shown).
	Title        string `json:"title"`
	Name         string `json:"name"`
	DelaySeconds int    `json:"delaySeconds"`
}

// LiveTalkSignature is the line under the chat window: Text may hold one
// "[[link text]]", shown as a link to LinkURL.
type LiveTalkSignature struct {
	Text    string `json:"text"`
	LinkURL string `json:"linkUrl"`
}

// LiveTalkButtonStyle is how the start buttons look: a PRESET icon in
// colours, or a custom IMAGE.
type LiveTalkButtonStyle struct {
	Kind            string  `json:"kind"`
	Icon            string  `json:"icon"`
	BackgroundColor string  `json:"backgroundColor"`
	IconColor       string  `json:"iconColor"`
	ImageID         *gid.ID `json:"imageId,omitempty"`
	ImageURL        *string `json:"imageUrl,omitempty"`
}

// LiveTalkButtonDisplay is which start buttons show: EQUAL, ONLY_CHAT,
// ONLY_AUDIO, ONLY_VIDEO, or HIGHLIGHT (Highlight, one of the functions,
// stands out).
type LiveTalkButtonDisplay struct {
	Mode      string  `json:"mode"`
	Highlight *string `json:"highlight,omitempty"`
}

// LiveTalkLink is one of the other contact links (FACEBOOK, ZALO, SKYPE).
type LiveTalkLink struct {
	Kind        string `json:"kind"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// Target is NEW_TAB or SAME_TAB.
	Target string `json:"target"`
}

// LiveTalkSounds are the agents' notification sounds and the visitor's
// hold music; Volume is 0–100.
type LiveTalkSounds struct {
	NewMessage    LiveTalkSound `json:"newMessage"`
	NewRoom       LiveTalkSound `json:"newRoom"`
	AudioRingtone LiveTalkSound `json:"audioRingtone"`
	VideoRingtone LiveTalkSound `json:"videoRingtone"`
	HoldMusic     LiveTalkSound `json:"holdMusic"`
	Volume        int           `json:"volume"`
}

// LiveTalkSound is a built-in sound, by name, or an uploaded one.
type LiveTalkSound struct {
	Builtin *string `json:"builtin,omitempty"`
	MediaID *gid.ID `json:"mediaId,omitempty"`
	URL     *string `json:"url,omitempty"`
}
