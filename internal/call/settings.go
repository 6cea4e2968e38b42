package call

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/callsettings"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/callhours"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// SettingsInput changes an OA's call settings (CallSettingsInput); fields
// left out keep their value, and a list given replaces the old one.
type SettingsInput struct {
	Enabled         *bool
	Timezone        *string
	Windows         []WindowInput
	ClosedDates     []string
	OutOfHoursReply *string
	BusyReply       *string
}

// WindowInput is a call window as typed (CallWindowInput): weekdays by
// name, checked with the rest of the settings.
type WindowInput struct {
	Weekdays   []string
	Start, End string
}

// window converts w; Parse checks the weekdays' names.
func (w WindowInput) window() schematype.CallWindow {
	days := make([]schematype.Weekday, len(w.Weekdays))
	for i, d := range w.Weekdays {
		days[i] = schematype.Weekday(strings.ToUpper(strings.TrimSpace(d)))
	}
	return schematype.CallWindow{Weekdays: days, Start: strings.TrimSpace(w.Start), End: strings.TrimSpace(w.End)}
}

// Settings returns the OA's call settings, or the defaults (calls off, no
// windows, Vietnam's zone) when they were never set. Admins only.
func (s *Service) Settings(ctx context.Context, channelID gid.ID) (*ent.CallSettings, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, channelID, "channelId")
	if err != nil {
		return nil, err
	}
	return settingsOf(ctx, s.client, ch)
}

// settingsOf returns the stored settings of ch or its defaults.
func settingsOf(ctx context.Context, c *ent.Client, ch *ent.Channel) (*ent.CallSettings, error) {
	cs, err := c.CallSettings.Query().Where(callsettings.ChannelID(ch.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return defaults(ch), nil
	}
	return cs, err
}

// defaults are the settings of an OA whose calls were never configured.
func defaults(ch *ent.Channel) *ent.CallSettings {
	return &ent.CallSettings{
		OrganizationID: ch.OrganizationID,
		ChannelID:      ch.ID,
		Timezone:       callhours.DefaultZone,
		Windows:        []schematype.CallWindow{},
		ClosedDates:    []string{},
	}
}

// UpdateSettings changes the OA's call settings. Admins only. A bad time,
// a window that ends before it starts, an unknown zone or weekday, a bad
// date or a reply too long is BAD_USER_INPUT naming the field
// ("input.windows[1].end") and changes nothing.
func (s *Service) UpdateSettings(ctx context.Context, channelID gid.ID, in SettingsInput) (*ent.CallSettings, error) {
	v, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, channelID, "channelId")
	if err != nil {
		return nil, err
	}
	for _, r := range []struct {
		field string
		text  *string
	}{{"input.outOfHoursReply", in.OutOfHoursReply}, {"input.busyReply", in.BusyReply}} {
		if r.text != nil && utf8.RuneCountInString(*r.text) > MaxReplyLength {
			return nil, apierr.BadInput(r.field, "a reply is at most %d characters", MaxReplyLength)
		}
	}
	var out *ent.CallSettings
	err = s.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		// Two admins saving at once: the second waits and applies its
		// change over the first's.
		if err := lockChannel(sys, tx, ch.ID); err != nil {
			return err
		}
		cur, err := settingsOf(sys, tx.Client(), ch)
		if err != nil {
			return err
		}
		next := *cur
		if in.Enabled != nil {
			next.Enabled = *in.Enabled
		}
		if in.Timezone != nil {
			next.Timezone = strings.TrimSpace(*in.Timezone)
		}
		if in.Windows != nil {
			next.Windows = make([]schematype.CallWindow, len(in.Windows))
			for i, w := range in.Windows {
				next.Windows[i] = w.window()
			}
		}
		if in.ClosedDates != nil {
			next.ClosedDates = in.ClosedDates
		}
		if in.OutOfHoursReply != nil {
			next.OutOfHoursReply = strings.TrimSpace(*in.OutOfHoursReply)
		}
		if in.BusyReply != nil {
			next.BusyReply = strings.TrimSpace(*in.BusyReply)
		}
		if _, err := callhours.Parse(next.Timezone, next.Windows, next.ClosedDates); err != nil {
			if fe, ok := err.(*callhours.FieldError); ok {
				return apierr.BadInput("input."+fe.Field, "%s", fe.Message)
			}
			return err
		}
		if next.Timezone == "" {
			next.Timezone = callhours.DefaultZone
		}
		// The write runs as the admin, so the settings' own policy
		// decides too.
		actx := viewer.NewContext(sys, v)
		if cur.ID == "" {
			out, err = tx.CallSettings.Create().
				SetChannelID(ch.ID).
				SetEnabled(next.Enabled).
				SetTimezone(next.Timezone).
				SetWindows(next.Windows).
				SetClosedDates(next.ClosedDates).
				SetOutOfHoursReply(next.OutOfHoursReply).
				SetBusyReply(next.BusyReply).
				Save(actx)
		} else {
			out, err = tx.CallSettings.UpdateOneID(cur.ID).
				SetEnabled(next.Enabled).
				SetTimezone(next.Timezone).
				SetWindows(next.Windows).
				SetClosedDates(next.ClosedDates).
				SetOutOfHoursReply(next.OutOfHoursReply).
				SetBusyReply(next.BusyReply).
				Save(actx)
		}
		if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Entry{
			// The settings are the channel's; their own row has no GraphQL ID.
			Action: activity.CallSettingsUpdated, ChannelID: ch.ID, SubjectID: ch.ID,
			Details: map[string]any{"name": ch.Name, "changes": activity.Changes(cur, out)},
		})
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// Hours returns the parsed windows of settings, for deciding whether an
// instant is in hours. Stored settings were checked when saved; settings
// that no longer parse (a zone removed from the system's database) are
// never open.
func Hours(cs *ent.CallSettings) callhours.Hours {
	h, err := callhours.Parse(cs.Timezone, cs.Windows, cs.ClosedDates)
	if err != nil {
		return callhours.Hours{}
	}
	return h
}
