package graph

import (
	"bytes"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/gid"
)

// FuzzConnectionCursor: any `after`/`before` a client sends either is
// refused or decodes to a cursor that encodes back to a cursor naming the
// same position; it never panics.
func FuzzConnectionCursor(f *testing.F) {
	var buf bytes.Buffer
	ent.Cursor{ID: gid.New("Customer"), Value: "2026-11-21T09:00:00Z"}.MarshalGQL(&buf)
	f.Add(string(bytes.Trim(buf.Bytes(), `"`)))
	f.Add("gaFp2SBjdXNfMDFKRDNRMlY1WjhONE03SzFQNlI5VDBXMlg")
	f.Add("")
	f.Add("not-a-cursor")
	f.Add("gA")
	f.Fuzz(func(t *testing.T, s string) {
		var c ent.Cursor
		if err := c.UnmarshalGQL(s); err != nil {
			return
		}
		var out bytes.Buffer
		c.MarshalGQL(&out)
		var again ent.Cursor
		if err := again.UnmarshalGQL(string(bytes.Trim(out.Bytes(), `"`))); err != nil {
			t.Fatalf("cursor %q decoded to %+v, whose encoding %s does not decode: %v", s, c, out.String(), err)
		}
		if again.ID != c.ID {
			t.Fatalf("cursor %q: id %q, re-encoded %q", s, c.ID, again.ID)
		}
	})
}
