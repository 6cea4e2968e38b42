package customer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/tag"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/requestlog"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The limits of one import. They bound the memory and time a single request
// can take; a larger customer base is imported in several files.
const (
	// MaxImportBytes is the largest CSV text Import accepts.
	MaxImportBytes = 50 << 20
	// MaxImportRows is the most data rows (header excluded) Import accepts.
	MaxImportRows = 200_000
	// MaxRowTags is the most distinct tags one row may name; a row naming
	// more is reported in ImportResult.Errors and not imported.
	MaxRowTags = 50
)

// importBatchSize is how many rows share one transaction and one lookup of
// existing customers: big enough that per-statement round trips stop
// dominating, small enough that one INSERT stays well under the databases'
// bind-parameter limits (SQLite 32766, PostgreSQL 65535) at ~20 columns.
const importBatchSize = 500

// ImportResult says what an import did. Every data row of the file is
// counted exactly once: in Imported, in Updated, or in Errors.
type ImportResult struct {
	// Imported counts rows that created a customer.
	Imported int
	// Updated counts rows that matched a customer by phone or email (an
	// existing one, or one created by an earlier row of the same file) and
	// updated it.
	Updated int
	// Errors lists the rows that were not imported, by line.
	Errors []RowError
}

// RowError is one CSV row that was not imported.
type RowError struct {
	// Line is the physical line the row starts on; the header is line 1,
	// and a quoted field spanning several lines counts all of them.
	Line int
	// Message says what is wrong, in words a user can act on.
	Message string
}

// Import reads customers from CSV text with a header row and creates or
// updates them in the viewer's organization.
//
// Header names are matched case-insensitively: name (required), phone,
// email, address, gender (MALE, FEMALE, OTHER, or nam, nữ, khác), birthday
// (YYYY-MM-DD), stage, score, tags (names separated by ';', created when
// missing), doNotContact (true/false, 1/0, yes/no, có/không), owner (the
// email of a user of the organization), and the key of any custom field.
// The id and createdAt columns of Export are accepted and ignored, so an
// export re-imports as is. Any other column, or no name column, rejects the
// whole file.
//
// A row whose phone or email matches a customer updates it (its non-empty
// cells overwrite, its tags are added); other rows create customers. A bad
// row is reported in ImportResult.Errors and the other rows are still
// imported. Rows are written in transactions of importBatchSize rows after
// being validated in memory; should a batch still fail (a concurrent writer
// took a phone number), it is retried row by row so only the culprit is
// reported. Batches committed before a database failure stay imported.
//
// Only OWNER and ADMIN users and API keys with the WRITE scope may import.
func Import(ctx context.Context, client *ent.Client, csvText string) (*ImportResult, error) {
	v, err := requireBulkAccess(ctx, viewer.ScopeWrite, "import customers")
	if err != nil {
		return nil, err
	}
	if len(csvText) > MaxImportBytes {
		return nil, apierr.BadInput("csv", "the file is %.1f MB; at most %d MB can be imported at once, split it into smaller files",
			float64(len(csvText))/(1<<20), MaxImportBytes>>20)
	}
	csvText = strings.TrimPrefix(csvText, "\ufeff") // Excel's "CSV UTF-8" starts with a BOM
	if err := checkRowCount(csvText); err != nil {
		return nil, err
	}

	defs, err := loadDefinitions(trustedRead(ctx), client, v.OrgID)
	if err != nil {
		return nil, err
	}
	r := newCSVReader(csvText)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, apierr.BadInput("csv", "the file is empty; it needs a header row")
	}
	if err != nil {
		return nil, apierr.BadInput("csv", "the header row cannot be read: %v", err)
	}
	cols, err := parseHeader(header, defs)
	if err != nil {
		return nil, err
	}

	im := &importer{
		client: client,
		read:   trustedRead(ctx),
		state:  &importState{orgID: v.OrgID, defs: defs, phones: map[string]bool{}},
		cols:   cols,
		owners: map[string]*gid.ID{},
		result: &ImportResult{},
	}
	im.ctx = withImportState(ctx, im.state)
	if err := im.loadTags(); err != nil {
		return nil, err
	}

	batch := make([]rawRow, 0, importBatchSize)
	analyzed := 0 // new customers at the last ANALYZE
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			im.fail(perr.StartLine, "the row is not valid CSV: %v", perr.Err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("customer: reading the import: %w", err)
		}
		line, _ := r.FieldPos(0)
		batch = append(batch, rawRow{line: line, cells: rec})
		if len(batch) == importBatchSize {
			if err := im.importBatch(batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
			if n := im.result.Imported; n >= analyzed*2 && n >= analyzeAfterRows {
				analyze(ctx, client)
				analyzed = n
			}
		}
	}
	if err := im.importBatch(batch); err != nil {
		return nil, err
	}
	slices.SortStableFunc(im.result.Errors, func(a, b RowError) int { return a.Line - b.Line })
	if im.result.Imported+im.result.Updated >= analyzeAfterRows {
		analyze(ctx, client)
	}
	return im.result, nil
}

// analyzeAfterRows is the import size after which table statistics are
// refreshed at the end; an import refreshes them as well when it has
// created that many customers, and again each time it has doubled them.
const analyzeAfterRows = 5000

// analyze refreshes the planner's statistics of customers. Until
// autovacuum catches up they describe the table before the import: a
// search of a freshly imported table would scan it instead of using the
// trigram index, and the import's own lookups by phone and email, prepared
// once per connection (database's prepared statements) with a plan made
// for the table as it was, would read every customer of the organization
// per batch. ANALYZE makes PostgreSQL plan those statements anew; it is the
// same statement on SQLite. A failure only delays better plans, so it does
// not fail the import.
func analyze(ctx context.Context, client *ent.Client) {
	if _, err := client.ExecContext(ctx, "ANALYZE customers"); err != nil {
		requestlog.FromContext(ctx).Warn("analyzing customers during an import failed", "err", err)
	}
}

// newCSVReader returns the reader Import uses for both of its passes.
func newCSVReader(text string) *csv.Reader {
	r := csv.NewReader(strings.NewReader(text))
	// Rows with the wrong number of fields are reported per row, with a
	// clearer message than csv.ErrFieldCount's.
	r.FieldsPerRecord = -1
	return r
}

// checkRowCount rejects a file of more than MaxImportRows data rows before
// anything is written, so a too-large file is not half imported. Counting
// newlines is enough for nearly every file; only one with more lines than
// the limit (possibly because of multi-line fields) is parsed to count rows.
func checkRowCount(text string) error {
	if strings.Count(text, "\n") <= MaxImportRows {
		return nil
	}
	r := newCSVReader(text)
	r.ReuseRecord = true
	rows := -1 // the header
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if rows++; rows > MaxImportRows {
			return apierr.BadInput("csv", "the file has more than %d rows; split it into smaller files", MaxImportRows)
		}
	}
	return nil
}

// column is what one CSV column holds: a built-in field (one of the col*
// constants) or a custom field.
type column struct {
	header  string // as written in the file, for messages
	builtin string
	def     *ent.CustomField
}

// parseHeader maps the header row to columns, rejecting the file for an
// unknown, unnamed or repeated column or a missing name column: a column
// that would be silently dropped usually means a misspelt header, and the
// user would only notice after the data is gone.
func parseHeader(header []string, defs []*ent.CustomField) ([]column, error) {
	byKey := make(map[string]*ent.CustomField, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	cols := make([]column, len(header))
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, apierr.BadInput("csv", "column %d of the header has no name", i+1)
		}
		c := column{header: h}
		for _, b := range builtinColumns {
			if strings.EqualFold(b, h) {
				c.builtin = b
			}
		}
		if c.builtin == "" {
			if c.def = byKey[strings.ToLower(h)]; c.def == nil {
				return nil, apierr.BadInput("csv", "unknown column %q: the known columns are %s and the custom field keys", h, strings.Join(builtinColumns, ", "))
			}
		}
		key := strings.ToLower(h)
		if seen[key] {
			return nil, apierr.BadInput("csv", "column %q appears more than once", h)
		}
		seen[key] = true
		cols[i] = c
	}
	if !seen[colName] {
		return nil, apierr.BadInput("csv", "the %q column is missing", colName)
	}
	return cols, nil
}

// op is the write planned for one customer of a batch: the final state of
// a customer that rows of the batch create or update, and those rows' lines.
type op struct {
	existing *ent.Customer // nil for a customer the batch creates
	lines    []int

	name         string
	phone, email string
	address      *string
	gender       *customer.Gender
	birthday     *time.Time
	stage        *customer.Stage
	score        *int
	doNotContact *bool
	ownerID      *gid.ID
	custom       map[string]any
	customSet    bool
	tagNames     []string
	hasTag       map[gid.ID]bool // on the stored customer already
}

// importer holds one import's state across batches.
type importer struct {
	client *ent.Client
	ctx    context.Context // the caller's, for writes
	read   context.Context // see trustedRead
	state  *importState
	cols   []column
	tags   map[string]gid.ID  // by name: every tag of the organization
	owners map[string]*gid.ID // user ID by email; nil for an unknown one
	result *ImportResult
}

func (im *importer) fail(line int, format string, args ...any) {
	im.result.Errors = append(im.result.Errors, RowError{Line: line, Message: fmt.Sprintf(format, args...)})
}

func (im *importer) loadTags() error {
	tags, err := im.client.Tag.Query().Select(tag.FieldID, tag.FieldName).All(im.read)
	if err != nil {
		return fmt.Errorf("customer: loading tags: %w", err)
	}
	im.tags = make(map[string]gid.ID, len(tags))
	for _, t := range tags {
		im.tags[t.Name] = t.ID
	}
	return nil
}

// importBatch validates, plans and writes one batch of rows.
func (im *importer) importBatch(raws []rawRow) error {
	if len(raws) == 0 {
		return nil
	}
	rows := make([]*row, 0, len(raws))
	for _, raw := range raws {
		r, err := im.parseRow(raw)
		if err != nil {
			im.fail(raw.line, "%s", err)
			continue
		}
		rows = append(rows, r)
	}
	if err := im.resolveOwners(rows); err != nil {
		return err
	}
	ops, err := im.plan(rows)
	if err != nil {
		return err
	}
	if err := im.ensureTags(ops); err != nil {
		return err
	}

	err = im.write(ops)
	if err == nil {
		im.count(ops)
		return nil
	}
	if !isRowError(err) {
		return err
	}
	return im.retry(ops)
}

// retry writes ops one customer per transaction after their batch failed on
// something only the database could see: usually a concurrent write of the
// same phone or email, or an update that needs a phone number another update
// of the batch frees. Ops that fail are retried while a pass makes progress,
// which settles such orderings; the rest are reported on their rows.
func (im *importer) retry(ops []*op) error {
	for len(ops) > 0 {
		var failed []*op
		var errs []error
		for _, o := range ops {
			switch err := im.write([]*op{o}); {
			case err == nil:
				im.count([]*op{o})
			case isRowError(err):
				failed = append(failed, o)
				errs = append(errs, err)
			default:
				return err
			}
		}
		if len(failed) == len(ops) {
			for i, o := range failed {
				msg := rowMessage(errs[i])
				for _, line := range o.lines {
					im.fail(line, "%s", msg)
				}
			}
			return nil
		}
		ops = failed
	}
	return nil
}

// count records the rows of written ops: the first row of a created
// customer created it, every other row updated a customer.
func (im *importer) count(ops []*op) {
	for _, o := range ops {
		if o.existing == nil {
			im.result.Imported++
			im.result.Updated += len(o.lines) - 1
		} else {
			im.result.Updated += len(o.lines)
		}
	}
}

// resolveOwners looks up the owners the batch names that no earlier batch
// did, in one query, and fails the rows naming no user of the organization.
func (im *importer) resolveOwners(rows []*row) error {
	var missing []string
	for _, r := range rows {
		if _, ok := im.owners[r.owner]; r.owner != "" && !ok && !slices.Contains(missing, r.owner) {
			missing = append(missing, r.owner)
		}
	}
	if len(missing) > 0 {
		users, err := im.client.User.Query().Where(user.EmailIn(missing...)).Select(user.FieldID, user.FieldEmail).All(im.read)
		if err != nil {
			return fmt.Errorf("customer: looking up owners: %w", err)
		}
		for _, e := range missing {
			im.owners[e] = nil
		}
		for _, u := range users {
			im.owners[u.Email] = &u.ID
		}
	}
	return nil
}

// plan matches the batch's rows to customers and returns one op per
// customer, updates first in the order rows first touch them, then creates.
// Updates go first because one may free a phone number or email that a
// later row gives to a new customer.
func (im *importer) plan(rows []*row) ([]*op, error) {
	byPhone := map[string]*op{}
	byEmail := map[string]*op{}
	existing, err := im.existing(rows)
	if err != nil {
		return nil, err
	}
	for _, c := range existing {
		o := &op{
			existing: c, name: c.Name, phone: deref(c.Phone), email: deref(c.Email),
			custom: maps.Clone(c.CustomFields), hasTag: map[gid.ID]bool{},
		}
		for _, t := range c.Edges.Tags {
			o.hasTag[t.ID] = true
		}
		if o.phone != "" {
			byPhone[o.phone] = o
		}
		if o.email != "" {
			byEmail[o.email] = o
		}
	}

	var updates, creates []*op
	for _, r := range rows {
		if r.owner != "" && im.owners[r.owner] == nil {
			im.fail(r.line, "%s: no user of this organization has the email %q", im.header(colOwner), r.owner)
			continue
		}
		var byP, byE *op
		if r.phone != "" {
			byP = byPhone[r.phone]
		}
		if r.email != "" {
			byE = byEmail[r.email]
		}
		o := byP
		switch {
		case byP != nil && byE != nil && byP != byE:
			im.fail(r.line, "the phone %s belongs to one customer and the email %s to another; merge them first",
				exportPhone(r.phone), r.email)
			continue
		case o == nil:
			o = byE
		}
		if o == nil {
			o = &op{}
			creates = append(creates, o)
		} else if len(o.lines) == 0 && o.existing != nil {
			updates = append(updates, o)
		}
		if r.phone != "" && o.phone != r.phone {
			delete(byPhone, o.phone)
			o.phone = r.phone
			byPhone[r.phone] = o
		}
		if r.email != "" && o.email != r.email {
			delete(byEmail, o.email)
			o.email = r.email
			byEmail[r.email] = o
		}
		im.apply(o, r)
	}
	return append(updates, creates...), nil
}

// existing loads the stored customers sharing a phone or email with the
// batch, with their tags when the batch adds any. Phones and emails are
// looked up separately, each with one query for the whole batch, because
// SQLite does not use the (organization_id, phone) and (organization_id,
// email) indexes for an OR of the two and would scan all of the
// organization's customers for every batch. An email already held by a
// customer found by phone is not looked up again: emails are unique, so no
// other customer can hold it, and re-importing an export then costs one
// query per batch.
func (im *importer) existing(rows []*row) ([]*ent.Customer, error) {
	var phones, emails []string
	withTags := false
	for _, r := range rows {
		if r.phone != "" {
			phones = append(phones, r.phone)
		}
		withTags = withTags || len(r.tags) > 0
	}
	found, err := im.lookup(customer.PhoneIn(compact(phones)...), len(phones) > 0, withTags)
	if err != nil {
		return nil, err
	}
	held := make(map[string]bool, len(found))
	for _, c := range found {
		held[deref(c.Email)] = true
	}
	for _, r := range rows {
		if r.email != "" && !held[r.email] {
			emails = append(emails, r.email)
		}
	}
	byEmail, err := im.lookup(customer.EmailIn(compact(emails)...), len(emails) > 0, withTags)
	if err != nil {
		return nil, err
	}
	// No customer is in both: one found by an email not held by any
	// customer found by phone was not found by phone.
	return append(found, byEmail...), nil
}

// lookup runs one of existing's queries, if needed.
func (im *importer) lookup(where predicate.Customer, needed, withTags bool) ([]*ent.Customer, error) {
	if !needed {
		return nil, nil
	}
	q := im.client.Customer.Query().Where(where)
	if withTags {
		q.WithTags(func(q *ent.TagQuery) { q.Select(tag.FieldID) })
	}
	cs, err := q.All(im.read)
	if err != nil {
		return nil, fmt.Errorf("customer: looking up existing customers: %w", err)
	}
	return cs, nil
}

func compact(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// apply merges a row's non-empty cells into the op's customer.
func (im *importer) apply(o *op, r *row) {
	o.lines = append(o.lines, r.line)
	o.name = r.name
	if r.address != nil {
		o.address = r.address
	}
	if r.gender != nil {
		o.gender = r.gender
	}
	if r.birthday != nil {
		o.birthday = r.birthday
	}
	if r.stage != nil {
		o.stage = r.stage
	}
	if r.score != nil {
		o.score = r.score
	}
	if r.doNotContact != nil {
		o.doNotContact = r.doNotContact
	}
	if r.owner != "" {
		o.ownerID = im.owners[r.owner]
	}
	if len(r.custom) > 0 {
		if o.custom == nil {
			o.custom = map[string]any{}
		}
		maps.Copy(o.custom, r.custom)
		o.customSet = true
	}
	for _, t := range r.tags {
		if !slices.Contains(o.tagNames, t) {
			o.tagNames = append(o.tagNames, t)
		}
	}
}

// ensureTags creates the tags the ops name that the organization lacks.
// They are created outside the batch's transaction so that the cache stays
// true if the batch rolls back; a tag created by a concurrent import is
// looked up instead.
func (im *importer) ensureTags(ops []*op) error {
	for _, o := range ops {
		for _, name := range o.tagNames {
			if _, ok := im.tags[name]; ok {
				continue
			}
			t, err := im.client.Tag.Create().SetName(name).Save(im.ctx)
			if ent.IsConstraintError(err) {
				t, err = im.client.Tag.Query().Where(tag.Name(name)).Only(im.read)
			}
			if err != nil {
				return fmt.Errorf("customer: creating tag %q: %w", name, err)
			}
			im.tags[name] = t.ID
		}
	}
	return nil
}

// newTagIDs returns the IDs of the op's tags that the stored customer lacks.
func (im *importer) newTagIDs(o *op) []gid.ID {
	ids := make([]gid.ID, 0, len(o.tagNames))
	for _, name := range o.tagNames {
		if id := im.tags[name]; !o.hasTag[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// write applies ops in one transaction.
func (im *importer) write(ops []*op) (err error) {
	tx, err := im.client.Tx(im.ctx)
	if err != nil {
		return fmt.Errorf("customer: starting an import batch: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()

	var creates []*ent.CustomerCreate
	for _, o := range ops {
		if o.existing == nil {
			creates = append(creates, im.create(tx, o))
			continue
		}
		if im.unchanged(o) {
			continue
		}
		if err := im.update(tx, o).Exec(im.ctx); err != nil {
			return err
		}
	}
	if len(creates) > 0 {
		if err := tx.Customer.CreateBulk(creates...).Exec(im.ctx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("customer: committing an import batch: %w", err)
	}
	return nil
}

// unchanged reports whether o would leave its stored customer as it is, as
// when a file is imported a second time: such rows still count as updated
// but cost no write, which is most of an update's time.
func (im *importer) unchanged(o *op) bool {
	c := o.existing
	return o.name == c.Name && o.phone == deref(c.Phone) && o.email == deref(c.Email) &&
		keeps(o.address, c.Address) && keeps(o.gender, c.Gender) &&
		(o.birthday == nil || c.Birthday != nil && o.birthday.Equal(*c.Birthday)) &&
		keeps(o.stage, &c.Stage) && keeps(o.score, &c.Score) && keeps(o.doNotContact, &c.DoNotContact) &&
		keeps(o.ownerID, c.OwnerID) &&
		(!o.customSet || reflect.DeepEqual(o.custom, c.CustomFields)) &&
		len(im.newTagIDs(o)) == 0
}

// keeps reports whether setting an op's optional field (nil: not in the
// file) leaves the stored value as it is.
func keeps[T comparable](set, stored *T) bool {
	return set == nil || stored != nil && *set == *stored
}

func (im *importer) create(tx *ent.Tx, o *op) *ent.CustomerCreate {
	b := tx.Customer.Create().
		SetName(o.name).
		SetNillableAddress(o.address).
		SetNillableGender(o.gender).
		SetNillableBirthday(o.birthday).
		SetNillableStage(o.stage).
		SetNillableScore(o.score).
		SetNillableDoNotContact(o.doNotContact).
		SetNillableOwnerID(o.ownerID).
		AddTagIDs(im.newTagIDs(o)...)
	if o.phone != "" {
		b.SetPhone(o.phone)
	}
	if o.email != "" {
		b.SetEmail(o.email)
	}
	if o.customSet {
		b.SetCustomFields(o.custom)
	}
	return b
}

// update sets name, phone and email always (to their unchanged values when
// the rows leave them out) so that the hook can build the search key from
// the mutation alone instead of reading the row back.
func (im *importer) update(tx *ent.Tx, o *op) *ent.CustomerUpdateOne {
	b := tx.Customer.UpdateOneID(o.existing.ID).
		SetName(o.name).
		SetNillableAddress(o.address).
		SetNillableGender(o.gender).
		SetNillableBirthday(o.birthday).
		SetNillableStage(o.stage).
		SetNillableScore(o.score).
		SetNillableDoNotContact(o.doNotContact).
		SetNillableOwnerID(o.ownerID).
		AddTagIDs(im.newTagIDs(o)...)
	if o.phone != "" {
		b.SetPhone(o.phone)
	} else {
		b.ClearPhone()
	}
	if o.email != "" {
		b.SetEmail(o.email)
	} else {
		b.ClearEmail()
	}
	if o.customSet {
		b.SetCustomFields(o.custom)
	}
	return b
}

// header returns the column's name as the file spells it.
func (im *importer) header(builtin string) string {
	for _, c := range im.cols {
		if c.builtin == builtin {
			return c.header
		}
	}
	return builtin
}

// isRowError reports whether err is about the data of the rows written
// rather than about the database or the request, i.e. whether retrying the
// rows one by one can tell good rows from bad.
func isRowError(err error) bool {
	if _, ok := apierr.As(err); ok {
		return true
	}
	return ent.IsConstraintError(err) || ent.IsValidationError(err) || ent.IsNotFound(err)
}

// rowMessage returns the client-safe text of a row's error.
func rowMessage(err error) string {
	if e, ok := apierr.As(err); ok {
		return e.Message
	}
	switch {
	case ent.IsConstraintError(err):
		return "the phone or email is already used by another customer"
	case ent.IsNotFound(err):
		return "the matching customer was deleted during the import"
	}
	return err.Error()
}
