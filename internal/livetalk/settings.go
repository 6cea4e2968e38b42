// Package livetalk runs LIVETALK channels, the website chat widget
// (README.md, "LiveTalk settings").
package livetalk

import (
	"context"
	"slices"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/livetalksettings"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Settings are a LIVETALK channel's widget settings as the API shows them
// (LiveTalkSettings); UpdatedAt is nil while they are the defaults.
type Settings struct {
	ChannelID gid.ID
	schematype.LiveTalkSettings
	UpdatedAt *time.Time
	// rowID is the stored row's, "" for the defaults.
	rowID gid.ID
}

// The values of the settings' enumerations.
var (
	functions       = []string{"CHAT", "AUDIO", "VIDEO"}
	visitorFields   = []string{"NAME", "PHONE", "EMAIL"}
	positions       = []string{"BOTTOM_RIGHT", "BOTTOM_LEFT"}
	startBys        = []string{"DEPARTMENT", "AGENT"}
	representatives = []string{"DEPARTMENT", "AGENTS"}
	popupKinds      = []string{"TEXT", "IMAGE"}
	buttonKinds     = []string{"PRESET", "IMAGE"}
	displayModes    = []string{"EQUAL", "ONLY_CHAT", "ONLY_AUDIO", "ONLY_VIDEO", "HIGHLIGHT"}
	linkKinds       = []string{"FACEBOOK", "ZALO", "SKYPE"}
	linkTargets     = []string{"NEW_TAB", "SAME_TAB"}
	startButtons    = []string{"FULL", "COLLAPSED"}
)

// PresetIcons are the start button's built-in icons.
var PresetIcons = []string{"CHAT_BUBBLE", "HEADSET", "PHONE", "VIDEO_CAMERA", "MESSAGE"}

// BuiltinSounds are the notification sounds the apps ship, by name.
var BuiltinSounds = []string{"ding", "pop", "chime", "bell", "classic-ring", "digital-ring", "soft-melody", "silence"}

// defaults are the settings of a channel never configured.
func defaults(ch *ent.Channel) schematype.LiveTalkSettings {
	str := func(s string) *string { return &s }
	return schematype.LiveTalkSettings{
		ButtonText: "Chat với chúng tôi",
		Popup:      schematype.LiveTalkPopup{Kind: "TEXT", Title: "Xin chào!", Name: ch.Name, DelaySeconds: 5},
		Position:   "BOTTOM_RIGHT", OffsetX: 20, OffsetY: 20,
		HeaderColor: "#0a7cff", TextColor: "#ffffff",
		Title: ch.Name,
		Width: 360, Height: 520,
		Functions:      []string{"CHAT"},
		VisibleFields:  []string{"NAME", "PHONE"},
		RequiredFields: []string{"NAME"},
		StartBy:        "DEPARTMENT", DepartmentIDs: []gid.ID{}, AgentIDs: []gid.ID{},
		Representative: "DEPARTMENT",
		ButtonStyle:    schematype.LiveTalkButtonStyle{Kind: "PRESET", Icon: "CHAT_BUBBLE", BackgroundColor: "#0a7cff", IconColor: "#ffffff"},
		ButtonDisplay:  schematype.LiveTalkButtonDisplay{Mode: "EQUAL"},
		Links:          []schematype.LiveTalkLink{},
		StartButtons:   "FULL",
		Sounds: schematype.LiveTalkSounds{
			NewMessage:    schematype.LiveTalkSound{Builtin: str("ding")},
			NewRoom:       schematype.LiveTalkSound{Builtin: str("chime")},
			AudioRingtone: schematype.LiveTalkSound{Builtin: str("classic-ring")},
			VideoRingtone: schematype.LiveTalkSound{Builtin: str("digital-ring")},
			HoldMusic:     schematype.LiveTalkSound{Builtin: str("soft-melody")},
			Volume:        80,
		},
	}
}

// SettingsOf returns the settings of a channel the viewer may see: those
// stored, or the defaults; nil for a channel that is not LIVETALK
// (Channel.liveTalkSettings).
func SettingsOf(ctx context.Context, c *ent.Client, ch *ent.Channel) (*Settings, error) {
	if ch.Kind != channel.KindLIVETALK {
		return nil, nil
	}
	return settingsRow(ctx, c, ch)
}

// settingsRow reads ch's settings row, or its defaults.
func settingsRow(ctx context.Context, c *ent.Client, ch *ent.Channel) (*Settings, error) {
	row, err := c.LiveTalkSettings.Query().Where(livetalksettings.ChannelID(ch.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return &Settings{ChannelID: ch.ID, LiveTalkSettings: defaults(ch)}, nil
	}
	if err != nil {
		return nil, err
	}
	at := row.UpdatedAt
	return &Settings{ChannelID: ch.ID, LiveTalkSettings: row.Settings, UpdatedAt: &at, rowID: row.ID}, nil
}

// UpdateSettings changes a LIVETALK channel's widget settings (see
// SettingsInput for what is kept and what replaced). Admins only. Another
// organization's channel is NOT_FOUND, another kind of channel
// BAD_USER_INPUT on channelId; a bad setting is BAD_USER_INPUT naming it
// ("input.links.5", "input.popup.imageId"), a reference to a department,
// agent or media file the organization does not have NOT_FOUND naming it;
// either changes nothing. A change is logged as LIVETALK_SETTINGS_UPDATED.
func UpdateSettings(ctx context.Context, c *ent.Client, channelID gid.ID, in SettingsInput) (*Settings, error) {
	v, err := policy.RequireAdmin(ctx, "configure LiveTalk")
	if err != nil {
		return nil, err
	}
	ch, err := c.Channel.Get(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if ch.Kind != channel.KindLIVETALK {
		return nil, apierr.BadInput("channelId", "LiveTalk settings are for LIVETALK channels; this one is a %s", ch.Kind)
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx, v.OrgID)
	tx, err := c.Tx(sys)
	if err != nil {
		return nil, err
	}
	out, err := updateInTx(ctx, sys, tx, v, ch, in)
	if err != nil {
		_ = tx.Rollback() // the update's error says what went wrong
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// updateInTx applies in over the current settings and stores the result.
func updateInTx(ctx, sys context.Context, tx *ent.Tx, v *viewer.Viewer, ch *ent.Channel, in SettingsInput) (*Settings, error) {
	// Two admins saving at once: the second waits and applies its change
	// over the first's.
	q := tx.Channel.Query().Where(channel.ID(ch.ID))
	q.Modify(database.LockRows())
	if _, err := q.Only(sys); err != nil {
		return nil, err
	}
	cur, err := settingsRow(sys, tx.Client(), ch)
	if err != nil {
		return nil, err
	}
	// References are looked up as the admin, so another organization's
	// are as missing as IDs that never existed.
	actx := viewer.NewContext(sys, v)
	next, err := in.apply(actx, tx.Client(), cur.LiveTalkSettings)
	if err != nil {
		return nil, err
	}
	if cur.rowID == "" {
		_, err = tx.LiveTalkSettings.Create().SetChannelID(ch.ID).SetSettings(next).Save(actx)
	} else {
		_, err = tx.LiveTalkSettings.UpdateOneID(cur.rowID).SetSettings(next).Save(actx)
	}
	if err != nil {
		return nil, err
	}
	details := map[string]any{"name": ch.Name, "changes": activity.Changes(cur.LiveTalkSettings, next)}
	// The log keeps names like "signature" out of changes, as it would a
	// webhook signature; this one is text shown on the widget, so it is
	// named without its value.
	if cur.Signature != next.Signature {
		details["alsoChanged"] = []string{"signature"}
	}
	if err := activity.Record(ctx, tx, activity.Entry{
		// The settings are the channel's; their row has no GraphQL ID.
		Action: activity.LiveTalkSettingsUpdated, ChannelID: ch.ID, SubjectID: ch.ID, Details: details,
	}); err != nil {
		return nil, err
	}
	// Read back what was stored, so that updatedAt has the database's
	// precision, as every later read does.
	return settingsRow(actx, tx.Client(), ch)
}

// contains reports whether list holds s.
func contains(list []string, s string) bool { return slices.Contains(list, s) }
