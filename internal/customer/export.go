package customer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/phone"
	"github.com/dakenh/dakenh/internal/viewer"
)

// exportPageSize is how many customers Export loads per query: large enough
// that the per-query cost vanishes, small enough that memory stays flat
// however many customers an organization has.
const exportPageSize = 1000

// Export writes the viewer's customers matching where and search (see
// SearchPredicate) to w as CSV: a header row, then one row per customer in ID
// order. The columns are those of builtinColumns followed by one per custom
// field definition, in a form Import reads back unchanged.
//
// Customers are read in pages by ID (keyset pagination, which unlike OFFSET
// stays fast to the last page and skips no row when others are added
// meanwhile) and written as they arrive, so memory does not grow with the
// number of customers. Only OWNER and ADMIN users and API keys with the READ
// scope may export.
func Export(ctx context.Context, client *ent.Client, w io.Writer, where *ent.CustomerWhereInput, search string) error {
	v, err := requireBulkAccess(ctx, viewer.ScopeRead, "export customers")
	if err != nil {
		return err
	}
	base, err := Segment(client, where, search)
	if err != nil {
		return err
	}

	defs, err := loadDefinitions(ctx, client, v.OrgID)
	if err != nil {
		return err
	}
	defs = slices.DeleteFunc(defs, func(d *ent.CustomField) bool { return isBuiltinColumn(d.Key) })

	cw := csv.NewWriter(w)
	record := make([]string, 0, len(builtinColumns)+len(defs))
	record = append(record, builtinColumns...)
	for _, d := range defs {
		record = append(record, d.Key)
	}
	if err := cw.Write(record); err != nil {
		return fmt.Errorf("customer: writing the export: %w", err)
	}

	var after gid.ID
	for {
		q := base.Clone().WithTags().WithOwner().
			Order(ent.Asc(customer.FieldID)).
			Limit(exportPageSize)
		if after != "" {
			q = q.Where(customer.IDGT(after))
		}
		page, err := q.All(ctx)
		if err != nil {
			return fmt.Errorf("customer: reading customers to export: %w", err)
		}
		for _, c := range page {
			if err := cw.Write(exportRecord(record[:0], c, defs)); err != nil {
				return fmt.Errorf("customer: writing the export: %w", err)
			}
		}
		// Flushing per page hands the rows to w, so a streaming writer
		// (an HTTP response) sees progress and csv.Writer's buffer stays
		// small.
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("customer: writing the export: %w", err)
		}
		if len(page) < exportPageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// exportRecord appends c's cells to record in the column order of Export.
func exportRecord(record []string, c *ent.Customer, defs []*ent.CustomField) []string {
	var gender, birthday, owner string
	if c.Gender != nil {
		gender = string(*c.Gender)
	}
	if c.Birthday != nil {
		birthday = c.Birthday.UTC().Format(DateLayout)
	}
	if c.Edges.Owner != nil {
		owner = c.Edges.Owner.Email
	}
	tags := make([]string, len(c.Edges.Tags))
	for i, t := range c.Edges.Tags {
		tags[i] = t.Name
	}
	slices.Sort(tags)

	record = append(record,
		string(c.ID),
		escapeCell(c.Name),
		escapeCell(exportPhone(deref(c.Phone))),
		escapeCell(deref(c.Email)),
		escapeCell(deref(c.Address)),
		gender,
		birthday,
		string(c.Stage),
		escapeCell(strconv.Itoa(c.Score)),
		escapeCell(strings.Join(tags, TagSeparator)),
		strconv.FormatBool(c.DoNotContact),
		escapeCell(owner),
		c.CreatedAt.UTC().Format(time.RFC3339),
	)
	for _, d := range defs {
		record = append(record, escapeCell(exportCustomValue(c.CustomFields[d.Key])))
	}
	return record
}

// exportPhone writes a stored number the way its owner's users read it: the
// national form for Vietnamese numbers, and with a plus for foreign ones,
// which Normalize would otherwise take for Vietnamese on re-import.
func exportPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	if national := phone.National(e164); national != e164 {
		return national
	}
	return e164
}

// exportCustomValue formats a custom field value as Import parses it.
func exportCustomValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
