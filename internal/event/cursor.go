package event

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/organization"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// cursorVersion prefixes the encoded form, so the encoding can change later
// while old cursors held by partners still parse.
const cursorVersion = "v1:"

// Cursor is a position in an organization's event log: the stream resumes
// after it. It encodes only the sequence number, since the organization is
// always the viewer's own; clients see it as an opaque string.
//
// The zero Cursor means "from now": replay nothing and follow only events
// committed after subscribing.
type Cursor struct {
	seq int64
	set bool
}

// Start is the cursor before an organization's first event; a stream from it
// replays the whole log.
var Start = Cursor{seq: 0, set: true}

// cursorAt returns the cursor just after the event numbered seq.
func cursorAt(seq int64) Cursor { return Cursor{seq: seq, set: true} }

// IsZero reports whether c is the zero Cursor, "from now".
func (c Cursor) IsZero() bool { return !c.set }

// Seq returns the sequence number of the last event before the position,
// for logs and tests; clients never see it apart from the encoded form.
func (c Cursor) Seq() int64 { return c.seq }

// String returns the opaque form clients hold (base64url of "v1:<seq>"), or
// "" for the zero Cursor.
func (c Cursor) String() string {
	if !c.set {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + strconv.FormatInt(c.seq, 10)))
}

// ParseCursor reads a cursor a client sent as the "after" argument. The
// empty string is the zero Cursor ("from now"); anything that String did not
// produce is BAD_USER_INPUT blaming "after".
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	bad := apierr.BadInput("after", "after is not a cursor this API returned")
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(b), cursorVersion)
	if !ok {
		return Cursor{}, bad
	}
	seq, err := strconv.ParseInt(rest, 10, 64)
	// Only the canonical form is accepted ("+5" or "05" would parse), so one
	// position has one cursor.
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != rest {
		return Cursor{}, bad
	}
	// The decoder skips line breaks, so "djE6\nNzA" would read as the
	// cursor of "djE6NzA"; only String's own form is a cursor.
	c := cursorAt(seq)
	if c.String() != s {
		return Cursor{}, bad
	}
	return c, nil
}

// CursorAfter returns the cursor just after the event numbered seq: what a
// subscription's event carries as its cursor, for those who hand events on
// by other means (partner webhooks) and let clients resume a stream there.
func CursorAfter(seq int64) Cursor { return cursorAt(seq) }

// Latest returns the cursor after orgID's last event committed when tx
// reads it: a stream from there misses nothing committed later, tx's own
// events included, so a client can take it with what it reads in tx and
// follow from it.
func Latest(ctx context.Context, tx *ent.Tx, orgID gid.ID) (Cursor, error) {
	seq, err := tx.Organization.Query().Where(organization.ID(orgID)).
		Select(organization.FieldEventSeq).Int(viewer.SystemContext(ctx, orgID))
	if err != nil {
		return Cursor{}, err
	}
	return cursorAt(int64(seq)), nil
}
