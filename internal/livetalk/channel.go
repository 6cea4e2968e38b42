// Package livetalk is the LiveTalk website widget channel (README.md,
// "LiveTalk"): LIVETALK channels with their public widget key and allowed
// origins (this file), and the visitor API a website's widget talks to
// (visitor*.go). A visitor's chat goes through the inbox like a Zalo or
// Messenger user's (internal/inbox, inbound_livetalk.go): the same
// customer, identity, conversation, distribution, auto-messages and
// events; agents answer with the same sendMessage, and the reply reaches
// the visitor through their event stream instead of a provider.
package livetalk

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Limits of a channel's allowed origins.
const (
	// MaxAllowedOrigins is how many origins one channel may list.
	MaxAllowedOrigins = 20
	// maxOriginLen bounds one origin.
	maxOriginLen = 255
)

// Activity actions of LiveTalk channels.
const (
	// ActionChannelCreated: a LIVETALK channel was created.
	ActionChannelCreated activity.Action = "LIVETALK_CHANNEL_CREATED"
	// ActionWidgetKeyRotated: a LIVETALK channel's widget key was
	// replaced; the old one no longer opens the widget.
	ActionWidgetKeyRotated activity.Action = "LIVETALK_WIDGET_KEY_ROTATED"
	// ActionOriginsUpdated: a LIVETALK channel's allowed origins changed.
	ActionOriginsUpdated activity.Action = "LIVETALK_ORIGINS_UPDATED"
)

// CreateChannelInput is what createLiveTalkChannel takes.
type CreateChannelInput struct {
	Name           string
	AllowedOrigins []string
	// ChatPermission defaults to SHARED: a website's visitors are the
	// organization's, distributed by its rules.
	ChatPermission *channel.ChatPermission
}

// CreateChannel creates a LIVETALK channel with a new widget key, for
// OWNERs and ADMINs, and records it in the activity log.
func (s *Service) CreateChannel(ctx context.Context, in CreateChannelInput) (*ent.Channel, error) {
	v, err := policy.RequireAdmin(ctx, "create LiveTalk channels")
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		return nil, apierr.BadInput("input.name", "name is required")
	case len([]rune(name)) > 200:
		return nil, apierr.BadInput("input.name", "name is longer than 200 characters")
	}
	origins, err := NormalizeOrigins("input.allowedOrigins", in.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	perm := channel.ChatPermissionSHARED
	if in.ChatPermission != nil {
		perm = *in.ChatPermission
	}
	key := newWidgetKey()
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		id := gid.New("Channel")
		ch, err := tx.Channel.Create().
			SetID(id).
			SetKind(channel.KindLIVETALK).
			// The widget key changes; the external ID is the channel's own.
			SetExternalID(string(id)).
			SetName(name).
			SetChatPermission(perm).
			SetConnectedByID(v.UserID).
			SetLastConnectedAt(s.now()).
			SetWidgetKey(key).
			SetAllowedOrigins(origins).
			Save(ctx)
		if err != nil {
			return nil, err
		}
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: ActionChannelCreated, ChannelID: ch.ID, SubjectID: ch.ID,
			Details: map[string]any{
				"kind": ch.Kind, "name": ch.Name, "allowedOrigins": origins, "chatPermission": ch.ChatPermission,
			},
		})
	})
}

// RotateWidgetKey gives a LIVETALK channel a new widget key, for OWNERs
// and ADMINs: pages with the old snippet stop opening the widget, and
// visitors' chats already open go on (their tokens name the channel, not
// the key).
func (s *Service) RotateWidgetKey(ctx context.Context, id gid.ID) (*ent.Channel, error) {
	if _, err := policy.RequireAdmin(ctx, "rotate widget keys"); err != nil {
		return nil, err
	}
	key := newWidgetKey()
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		if _, err := liveTalkChannel(ctx, tx, id); err != nil {
			return nil, err
		}
		ch, err := tx.Channel.UpdateOneID(id).SetWidgetKey(key).Save(ctx)
		if err != nil {
			return nil, err
		}
		// The key is public, yet the entry need not repeat it: that it
		// changed is what matters.
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: ActionWidgetKeyRotated, ChannelID: ch.ID, SubjectID: ch.ID,
			Details: map[string]any{"name": ch.Name},
		})
	})
}

// SetAllowedOrigins replaces a LIVETALK channel's allowed origins, for
// OWNERs and ADMINs.
func (s *Service) SetAllowedOrigins(ctx context.Context, id gid.ID, origins []string) (*ent.Channel, error) {
	if _, err := policy.RequireAdmin(ctx, "change a LiveTalk channel's allowed origins"); err != nil {
		return nil, err
	}
	clean, err := NormalizeOrigins("allowedOrigins", origins)
	if err != nil {
		return nil, err
	}
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.Channel, error) {
		before, err := liveTalkChannel(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		ch, err := tx.Channel.UpdateOneID(id).SetAllowedOrigins(clean).Save(ctx)
		if err != nil {
			return nil, err
		}
		return ch, activity.Record(ctx, tx, activity.Entry{
			Action: ActionOriginsUpdated, ChannelID: ch.ID, SubjectID: ch.ID,
			Details: map[string]any{"name": ch.Name, "changes": map[string]any{
				"allowedOrigins": map[string]any{"from": before.AllowedOrigins, "to": clean},
			}},
		})
	})
}

// liveTalkChannel reads the viewer's LIVETALK channel id in tx; any other
// channel, or another organization's, is NOT_FOUND.
func liveTalkChannel(ctx context.Context, tx *ent.Tx, id gid.ID) (*ent.Channel, error) {
	ch, err := tx.Channel.Query().Where(channel.ID(id), channel.KindEQ(channel.KindLIVETALK)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apierr.New(apierr.NotFound, "LiveTalk channel not found")
	}
	return ch, err
}

// NormalizeOrigins checks a list of website origins and returns them
// canonical (lower-case scheme and host, no default port, no duplicates):
// each is scheme://host[:port] with scheme http or https, nothing after
// the host. A bad one is BAD_USER_INPUT naming field.
func NormalizeOrigins(field string, origins []string) ([]string, error) {
	if len(origins) == 0 {
		return nil, apierr.BadInput(field, "list at least one origin the widget is embedded on, such as https://www.example.com")
	}
	if len(origins) > MaxAllowedOrigins {
		return nil, apierr.BadInput(field, "at most %d origins", MaxAllowedOrigins)
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		c, err := normalizeOrigin(o)
		if err != nil {
			return nil, apierr.BadInput(field, "%q is not an origin: %s", clip(o, 100), err)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// normalizeOrigin returns the canonical form of one origin.
func normalizeOrigin(o string) (string, error) {
	o = strings.TrimSpace(o)
	if o == "" || len(o) > maxOriginLen {
		return "", fmt.Errorf("an origin is 1 to %d characters", maxOriginLen)
	}
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("it does not parse as a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("the scheme must be http or https")
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", fmt.Errorf("write it as scheme://host[:port]")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return "", fmt.Errorf("an origin has no path, query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, "*% ") {
		return "", fmt.Errorf("the host is missing or invalid")
	}
	if ip := net.ParseIP(host); ip == nil && !validHostname(host) {
		return "", fmt.Errorf("the host is not a valid name")
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("the port must be 1 to 65535")
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits and hyphens, none starting or ending with a hyphen.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// OriginAllowed reports whether the browser origin of a request (its
// Origin header) is one ch allows.
func OriginAllowed(ch *ent.Channel, origin string) bool {
	c, err := normalizeOrigin(origin)
	return err == nil && slices.Contains(ch.AllowedOrigins, c)
}

// newWidgetKey returns a new random widget key: 24 random bytes, URL-safe.
func newWidgetKey() string { return secret.Token("lt_", 24) }

// Snippet is the tag an admin pastes into their website for ch: the
// widget script served by the server at baseURL, with the channel's key.
func Snippet(baseURL string, ch *ent.Channel) string {
	if ch.Kind != channel.KindLIVETALK || ch.WidgetKey == nil {
		return ""
	}
	src := strings.TrimRight(baseURL, "/") + "/livetalk/widget.js"
	return fmt.Sprintf(`<script src="%s" data-key="%s" async></script>`, html.EscapeString(src), html.EscapeString(*ch.WidgetKey))
}

// clip cuts s to n bytes at most, for echoing input in messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// systemOf is the system context of ch's organization, for what the
// visitor API does on the visitor's behalf.
func systemOf(ctx context.Context, orgID gid.ID) context.Context {
	return viewer.SystemContext(ctx, orgID)
}
