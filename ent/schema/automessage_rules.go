package schema

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent"

	gen "github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/automessage"
	"github.com/dakenh/dakenh/ent/hook"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
)

// Limits of auto-messages.
const (
	// MinUnattendedDelaySeconds is the shortest delay of NO_REPLY and
	// OFFLINE messages (README.md, "Auto-messages"): agents get at least a minute to
	// answer before the channel answers for them.
	MinUnattendedDelaySeconds = 60
	// MaxAutoMessageSeconds bounds delays and intervals to a week, far
	// beyond any use, so that no schedule overflows a time.
	MaxAutoMessageSeconds = 7 * 24 * 60 * 60
	// MaxAutoMessageContents bounds a sequence of contents.
	MaxAutoMessageContents = 20
	// MaxAutoMessageContentLength is the longest content in characters:
	// the longest text sendMessage accepts (inbox.MaxTextLength, the
	// providers' limit), since each content is sent as one message.
	MaxAutoMessageContentLength = 2000

	maxAutoMessagePathLen = 500
)

// Hooks validates every write of an auto-message against its kind.
func (AutoMessage) Hooks() []ent.Hook {
	return []ent.Hook{
		hook.On(func(next ent.Mutator) ent.Mutator {
			return hook.AutoMessageFunc(func(ctx context.Context, m *gen.AutoMessageMutation) (ent.Value, error) {
				if err := checkAutoMessage(ctx, m); err != nil {
					return nil, err
				}
				return next.Mutate(ctx, m)
			})
		}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne),
	}
}

// errBulkAutoMessage refuses a bulk update of a field whose rules depend on
// each row's kind; it is a programming error, hence not an apierr.
var errBulkAutoMessage = errors.New("schema: a bulk update of auto-messages may only change enabled; update each with UpdateOne")

// autoMessageRow is an auto-message as it will be once m is applied.
type autoMessageRow struct {
	kind              automessage.Kind
	channelID, selfID gid.ID
	path              *string
	contents          []string
	delay, interval   int
	resend            bool
	// pathSet and contentsSet say m sets them, so their trimmed values
	// must be written back.
	pathSet, contentsSet bool
}

// checkAutoMessage normalizes m (trimmed title, path and contents) and
// refuses a row its kind does not allow, with BAD_USER_INPUT on the field
// at fault, or CONFLICT on a greeting path the channel already uses.
func checkAutoMessage(ctx context.Context, m *gen.AutoMessageMutation) error {
	if m.Op().Is(ent.OpUpdate) {
		for _, f := range m.Fields() {
			if f != automessage.FieldEnabled && f != automessage.FieldUpdatedAt {
				return errBulkAutoMessage
			}
		}
		return nil
	}
	r, err := autoMessageAfter(ctx, m)
	if err != nil {
		return err
	}
	if t, ok := m.Title(); ok {
		m.SetTitle(strings.TrimSpace(t))
	}
	if r.contentsSet {
		m.SetContents(r.contents)
	}
	if err := checkContents(r); err != nil {
		return err
	}
	if err := checkTiming(r); err != nil {
		return err
	}
	if r.kind != automessage.KindGREETING {
		switch {
		case r.path != nil:
			return apierr.BadInput("path", "only a GREETING has a path")
		case r.resend:
			return apierr.BadInput("resendAsMessage", "only a GREETING can be re-sent as a message")
		}
		if r.pathSet {
			m.ClearPath() // a blank path is no path
		}
		return nil
	}
	if r.path == nil {
		return apierr.BadInput("path", "a GREETING needs the path of the page it pops up on")
	}
	p := *r.path
	if !strings.HasPrefix(p, "/") || strings.IndexFunc(p, unicode.IsSpace) >= 0 {
		return apierr.BadInput("path", "path must be a URL path starting with / and without spaces, e.g. /khuyen-mai")
	}
	if !r.pathSet {
		return nil
	}
	m.SetPath(p)
	return checkGreetingPath(ctx, m, r)
}

// autoMessageAfter returns the row m creates, or the row m's update leaves,
// with the fields it sets already trimmed.
func autoMessageAfter(ctx context.Context, m *gen.AutoMessageMutation) (*autoMessageRow, error) {
	r := &autoMessageRow{}
	update := m.Op().Is(ent.OpUpdateOne)
	var err error
	if r.kind, _ = m.Kind(); update {
		if r.kind, err = m.OldKind(ctx); err != nil {
			return nil, err
		}
	}
	if r.channelID, _ = m.ChannelID(); update {
		if r.channelID, err = m.OldChannelID(ctx); err != nil {
			return nil, err
		}
	}
	r.selfID, _ = m.ID()
	if p, ok := m.Path(); ok {
		r.pathSet = true
		if p = strings.TrimSpace(p); p != "" {
			r.path = &p
		}
	} else if update && !m.PathCleared() {
		if r.path, err = m.OldPath(ctx); err != nil {
			return nil, err
		}
	}
	if c, ok := m.Contents(); ok {
		r.contentsSet = true
		r.contents = make([]string, len(c))
		for i, s := range c {
			r.contents[i] = strings.TrimSpace(s)
		}
	} else if update {
		if r.contents, err = m.OldContents(ctx); err != nil {
			return nil, err
		}
	}
	var set bool
	if r.delay, set = m.DelaySeconds(); !set && update {
		if r.delay, err = m.OldDelaySeconds(ctx); err != nil {
			return nil, err
		}
	}
	if d, ok := m.AddedDelaySeconds(); ok {
		r.delay += d
	}
	if r.interval, set = m.IntervalSeconds(); !set && update {
		if r.interval, err = m.OldIntervalSeconds(ctx); err != nil {
			return nil, err
		}
	}
	if d, ok := m.AddedIntervalSeconds(); ok {
		r.interval += d
	}
	if b, ok := m.ResendAsMessage(); ok {
		r.resend = b
	} else if update {
		if r.resend, err = m.OldResendAsMessage(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkContents: a greeting has one content (its popup's text); the other
// kinds send one or more, in order.
func checkContents(r *autoMessageRow) error {
	switch n := len(r.contents); {
	case r.kind == automessage.KindGREETING && n != 1:
		return apierr.BadInput("contents", "a GREETING has exactly one content")
	case n == 0:
		return apierr.BadInput("contents", "a %s auto-message needs at least one content", r.kind)
	case n > MaxAutoMessageContents:
		return apierr.BadInput("contents", "at most %d contents", MaxAutoMessageContents)
	}
	for i, c := range r.contents {
		switch {
		case c == "":
			return apierr.BadInput("contents", "content %d is empty", i+1)
		case utf8.RuneCountInString(c) > MaxAutoMessageContentLength:
			return apierr.BadInput("contents", "content %d is longer than %d characters", i+1, MaxAutoMessageContentLength)
		}
	}
	return nil
}

// checkTiming: delays and intervals are whole seconds up to a week;
// NO_REPLY and OFFLINE wait at least MinUnattendedDelaySeconds; a
// greeting's delay is when its popup shows (0 hides it) and it has no
// interval, having one content.
func checkTiming(r *autoMessageRow) error {
	switch {
	case r.delay < 0 || r.delay > MaxAutoMessageSeconds:
		return apierr.BadInput("delaySeconds", "delaySeconds must be between 0 and %d", MaxAutoMessageSeconds)
	case r.interval < 0 || r.interval > MaxAutoMessageSeconds:
		return apierr.BadInput("intervalSeconds", "intervalSeconds must be between 0 and %d", MaxAutoMessageSeconds)
	case (r.kind == automessage.KindNO_REPLY || r.kind == automessage.KindOFFLINE) && r.delay < MinUnattendedDelaySeconds:
		return apierr.BadInput("delaySeconds", "a %s auto-message waits at least %d seconds", r.kind, MinUnattendedDelaySeconds)
	case r.kind == automessage.KindGREETING && r.interval != 0:
		return apierr.BadInput("intervalSeconds", "a GREETING has one content and no interval")
	}
	return nil
}

// checkGreetingPath refuses a path another greeting of the channel uses,
// before the unique index would, so the caller learns which field clashed.
func checkGreetingPath(ctx context.Context, m *gen.AutoMessageMutation, r *autoMessageRow) error {
	q := m.Client().AutoMessage.Query().Where(
		automessage.ChannelID(r.channelID),
		automessage.KindEQ(automessage.KindGREETING),
		automessage.Path(*r.path),
	)
	if r.selfID != "" {
		q.Where(automessage.IDNEQ(r.selfID))
	}
	taken, err := q.Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return &apierr.Error{Code: apierr.Conflict, Field: "path",
			Message: "another greeting of this channel already pops up on " + *r.path}
	}
	return nil
}
