package customer

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/internal/fold"
)

// rawRow is a data row as read, before validation.
type rawRow struct {
	line  int
	cells []string
}

// row is a validated data row. Pointers and empty strings mean the cell was
// empty, which leaves the field unchanged when the row updates a customer.
type row struct {
	line         int
	name         string
	phone        string // normalized
	email        string // normalized
	address      *string
	gender       *customer.Gender
	birthday     *time.Time
	stage        *customer.Stage
	score        *int
	doNotContact *bool
	owner        string // normalized email
	tags         []string
	custom       map[string]any
}

// parseRow validates one row with the same functions the hooks use.
func (im *importer) parseRow(raw rawRow) (*row, error) {
	if len(raw.cells) != len(im.cols) {
		return nil, fmt.Errorf("the row has %d fields but the header has %d", len(raw.cells), len(im.cols))
	}
	r := &row{line: raw.line}
	for i, c := range im.cols {
		if !isText(raw.cells[i]) {
			return nil, fmt.Errorf("%s: the cell is not UTF-8 text or contains a NUL character", c.header)
		}
		cell := strings.TrimSpace(unescapeCell(raw.cells[i]))
		if cell == "" && c.builtin != colName {
			continue
		}
		if err := r.set(c, cell, im.state.phones); err != nil {
			return nil, fmt.Errorf("%s: %s", c.header, rowMessage(err))
		}
	}
	if len(r.custom) > 0 {
		// Types were parsed per column; this adds SELECT options and
		// whatever else the hook would check.
		if _, err := ValidateCustomFields(im.state.defs, r.custom); err != nil {
			return nil, errors.New(rowMessage(err))
		}
	}
	return r, nil
}

// set parses a non-empty cell (or the name cell, empty or not) into r, and
// remembers normalized phone numbers in memo for the hooks.
func (r *row) set(c column, cell string, memo map[string]bool) error {
	var err error
	switch c.builtin {
	case colID, colCreatedAt:
		// Export writes them; they describe the stored row and are
		// not the importer's to set.
	case colName:
		r.name, err = NormalizeName(cell)
	case colPhone:
		r.phone, err = NormalizePhone(cell)
		if err == nil && r.phone != "" {
			memo[r.phone] = true
		}
	case colEmail:
		r.email, err = NormalizeEmail(cell)
	case colAddress:
		var a string
		if a, err = NormalizeAddress(cell); err == nil {
			r.address = &a
		}
	case colGender:
		var g customer.Gender
		if g, err = parseGender(cell); err == nil {
			r.gender = &g
		}
	case colBirthday:
		var t time.Time
		if t, err = parseDate(cell); err == nil {
			r.birthday = &t
		}
	case colStage:
		s := customer.Stage(strings.ToUpper(cell))
		if customer.StageValidator(s) != nil {
			return fmt.Errorf("%q is not a stage; use one of %s", cell, strings.Join(stages, ", "))
		}
		r.stage = &s
	case colScore:
		n, perr := strconv.Atoi(cell)
		if perr != nil {
			return fmt.Errorf("%q is not a whole number", cell)
		}
		r.score = &n
	case colDoNotContact:
		b, ok := parseBool(cell)
		if !ok {
			return fmt.Errorf("%q is not true or false", cell)
		}
		r.doNotContact = &b
	case colOwner:
		if r.owner, err = NormalizeEmail(cell); err != nil {
			return fmt.Errorf("%q is not an email address", cell)
		}
	case colTags:
		for name := range strings.SplitSeq(cell, TagSeparator) {
			if strings.TrimSpace(name) == "" {
				continue
			}
			n, err := NormalizeTagName(name)
			if err != nil {
				return err
			}
			if slices.Contains(r.tags, n) {
				continue
			}
			if len(r.tags) == MaxRowTags {
				return fmt.Errorf("more than %d tags in one row", MaxRowTags)
			}
			r.tags = append(r.tags, n)
		}
	default:
		v, err := parseCustomValue(c.def, cell)
		if err != nil {
			return err
		}
		if r.custom == nil {
			r.custom = map[string]any{}
		}
		r.custom[c.def.Key] = v
	}
	return err
}

// parseGender accepts the enum values and their Vietnamese words in any case
// and with or without diacritics.
func parseGender(s string) (customer.Gender, error) {
	switch fold.String(s) {
	case "male", "nam":
		return customer.GenderMALE, nil
	case "female", "nu":
		return customer.GenderFEMALE, nil
	case "other", "khac":
		return customer.GenderOTHER, nil
	}
	return "", fmt.Errorf("%q is not a gender; use MALE, FEMALE or OTHER (nam, nữ, khác)", s)
}

// parseBool accepts the ways spreadsheets and Vietnamese users write yes and
// no.
func parseBool(s string) (value, ok bool) {
	switch fold.String(s) {
	case "true", "1", "yes", "co":
		return true, true
	case "false", "0", "no", "khong":
		return false, true
	}
	return false, false
}

// parseCustomValue turns a cell into the JSON value its definition's type
// stores; ValidateCustomFields checks it afterwards like any other value.
func parseCustomValue(def *ent.CustomField, s string) (any, error) {
	switch def.Type {
	case customfield.TypeNUMBER:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !isNumber(f) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case customfield.TypeBOOLEAN:
		b, ok := parseBool(s)
		if !ok {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	default:
		return s, nil
	}
}

// stages lists the stage values for the message of a bad stage cell.
var stages = []string{
	string(customer.StageLEAD), string(customer.StageCONTACT), string(customer.StageOPPORTUNITY),
	string(customer.StageCUSTOMER), string(customer.StageCHURNED),
}
