package visitor

import (
	"io"
	"strconv"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/event"
)

// Cursor is a position of the visitor's event stream (event.Cursor), as
// the Cursor scalar.
type Cursor struct{ event.Cursor }

// MarshalGQL writes the cursor as its string.
func (c Cursor) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(c.String())) }

// UnmarshalGQL reads a cursor visitorEvents handed out.
func (c *Cursor) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return apierr.BadInput("after", "after must be a string")
	}
	p, err := event.ParseCursor(s)
	if err != nil {
		return err
	}
	c.Cursor = p
	return nil
}
