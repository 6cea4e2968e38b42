package customer_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/ent"
	entcustomer "github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/ent/hook"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/viewer"
)

// wantResult compares an import's counts and errors; an error matches when
// its line is equal and its message contains the wanted text.
func wantResult(t *testing.T, got *customer.ImportResult, imported, updated int, errs ...customer.RowError) {
	t.Helper()
	ok := got.Imported == imported && got.Updated == updated && len(got.Errors) == len(errs)
	for i := 0; ok && i < len(errs); i++ {
		ok = got.Errors[i].Line == errs[i].Line && strings.Contains(got.Errors[i].Message, errs[i].Message)
	}
	if !ok {
		t.Fatalf("import = %d imported, %d updated, errors %+v\nwant %d imported, %d updated, errors %+v",
			got.Imported, got.Updated, got.Errors, imported, updated, errs)
	}
}

// tagNames returns the sorted names of a customer's tags.
func tagNames(t *testing.T, ctx context.Context, c *ent.Customer) []string {
	t.Helper()
	var names []string
	for _, tag := range c.QueryTags().AllX(ctx) {
		names = append(names, tag.Name)
	}
	slices.Sort(names)
	return names
}

func TestImport(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	e.defineFields(t, e.org,
		field{key: "company", typ: customfield.TypeTEXT},
		field{key: "revenue", typ: customfield.TypeNUMBER},
		field{key: "vip", typ: customfield.TypeBOOLEAN},
		field{key: "source", typ: customfield.TypeSELECT, options: []string{"Zalo", "Facebook"}},
	)
	old := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("Khách Cũ").SetPhone("0912000001").SetEmail("old@example.com").
			AddTags(e.client.Tag.Create().SetName("Cũ").SaveX(ctx))
	})
	owner := e.org.owner.Email

	csvText := strings.Join([]string{
		/* 1 */ "Name,Phone,Email,Address,Gender,Birthday,Stage,Score,Tags,DoNotContact,Owner,company,revenue,vip,source",
		/* 2 */ `Nguyễn Văn A,0912345678,A@Example.com,"12 Lê Lợi, Q1",nam,1990-05-01,lead,10,VIP; Zalo ,không,` + owner + `,ACME,1500.5,có,Zalo`,
		/* 3 */ `Trần Thị B,01628123456,,"Tầng 3`,
		/* 4 */ `45 Hai Bà Trưng",nữ,,CUSTOMER,,VIP,no,,,,,`,
		/* 5 */ ` ,0912000002,,,,,,,,,,,,,`,
		/* 6 */ `Lê C,0912abc,,,,,,,,,,,,,`,
		/* 7 */ `Khách Cũ Mới,0912 000 001,,,,,,,Mới,,,,,,`,
		/* 8 */ `Trần Thị B (2),+84328123456,b@example.com,,,,,,,,,,,,`,
		/* 9 */ `Conflict,0912345678,old@example.com,,,,,,,,,,,,`,
		/* 10 */ `Bad gender,,,,robot,,,,,,,,,,`,
		/* 11 */ `Bad number,,,,,,,,,,,,lots,,`,
		/* 12 */ `Bad select,,,,,,,,,,,,,,TikTok`,
		/* 13 */ `Bad owner,,,,,,,,,,nobody@example.com,,,,`,
		/* 14 */ `Short row,0912000003`,
		/* 15 */ `Bad date,,,,,1990-13-01,,,,,,,,,`,
		/* 16 */ `Bad stage,,,,,,VIP,,,,,,,,`,
		/* 17 */ `Bad "quote,,,,,,,,,,,,,,`,
		/* 18 */ `Last good row,,last@example.com,,,,,,,,,,,,`,
	}, "\n") + "\n"

	res, err := customer.Import(ctx, e.client, csvText)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	wantResult(t, res, 3, 2,
		customer.RowError{Line: 5, Message: "Name: name is required"},
		customer.RowError{Line: 6, Message: `Phone: "0912abc" is not a valid phone number`},
		customer.RowError{Line: 9, Message: "the phone 0912345678 belongs to one customer and the email old@example.com to another; merge them first"},
		customer.RowError{Line: 10, Message: `Gender: "robot" is not a gender`},
		customer.RowError{Line: 11, Message: `revenue: "lots" is not a number`},
		customer.RowError{Line: 12, Message: `custom field "source": must be one of "Zalo", "Facebook"`},
		customer.RowError{Line: 13, Message: `Owner: no user of this organization has the email "nobody@example.com"`},
		customer.RowError{Line: 14, Message: "the row has 2 fields but the header has 15"},
		customer.RowError{Line: 15, Message: `Birthday: "1990-13-01" is not a date`},
		customer.RowError{Line: 16, Message: `Stage: "VIP" is not a stage`},
		customer.RowError{Line: 17, Message: `the row is not valid CSV: bare " in non-quoted-field`},
	)

	if n := e.client.Customer.Query().CountX(ctx); n != 4 {
		t.Fatalf("%d customers, want 4", n)
	}
	t.Run("a new row sets every column", func(t *testing.T) {
		a := e.client.Customer.Query().Where(entcustomer.Phone("+84912345678")).WithOwner().OnlyX(ctx)
		if a.Name != "Nguyễn Văn A" || *a.Email != "a@example.com" || *a.Address != "12 Lê Lợi, Q1" ||
			*a.Gender != entcustomer.GenderMALE || a.Birthday.UTC().Format(customer.DateLayout) != "1990-05-01" ||
			a.Stage != entcustomer.StageLEAD || a.Score != 10 || a.DoNotContact || a.Edges.Owner.ID != e.org.owner.ID {
			t.Fatalf("customer A = %+v", a)
		}
		want := map[string]any{"company": "ACME", "revenue": 1500.5, "vip": true, "source": "Zalo"}
		if fmt.Sprint(a.CustomFields) != fmt.Sprint(want) {
			t.Fatalf("custom fields = %v, want %v", a.CustomFields, want)
		}
		if got := tagNames(t, ctx, a); !slices.Equal(got, []string{"VIP", "Zalo"}) {
			t.Fatalf("tags = %q", got)
		}
		if a.SearchText != "nguyen van a +84912345678 0912345678 a@example.com" {
			t.Fatalf("search text = %q", a.SearchText)
		}
	})
	t.Run("a later row of the same file updates the customer an earlier row created", func(t *testing.T) {
		b := e.client.Customer.Query().Where(entcustomer.Phone("+84328123456")).OnlyX(ctx)
		if b.Name != "Trần Thị B (2)" || *b.Email != "b@example.com" || *b.Address != "Tầng 3\n45 Hai Bà Trưng" ||
			*b.Gender != entcustomer.GenderFEMALE || b.Stage != entcustomer.StageCUSTOMER {
			t.Fatalf("customer B = %+v", b)
		}
	})
	t.Run("a row matching a stored customer updates it and adds tags", func(t *testing.T) {
		c := e.client.Customer.GetX(ctx, old.ID)
		if c.Name != "Khách Cũ Mới" || *c.Email != "old@example.com" {
			t.Fatalf("customer = %q %s", c.Name, str(c.Email))
		}
		if got := tagNames(t, ctx, c); !slices.Equal(got, []string{"Cũ", "Mới"}) {
			t.Fatalf("tags = %q", got)
		}
	})
}

func TestImportRejectsTheWholeFile(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	e.defineFields(t, e.org, field{key: "company", typ: customfield.TypeTEXT})
	tests := []struct {
		name, csv, wantMessage string
	}{
		{"unknown column", "name,phone,Colour\nA,,red\n", `unknown column "Colour"`},
		{"misspelt column", "name,phonee\nA,0912345678\n", `unknown column "phonee"`},
		{"no name column", "phone,email\n0912345678,\n", `the "name" column is missing`},
		{"repeated column", "name,Phone,PHONE\nA,,\n", `column "PHONE" appears more than once`},
		{"unnamed column", "name,,email\nA,,\n", "column 2 of the header has no name"},
		{"empty file", "", "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := customer.Import(ctx, e.client, tt.csv)
			wantCode(t, err, apierr.BadUserInput, "csv")
			if e, _ := apierr.As(err); !strings.Contains(e.Message, tt.wantMessage) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
		})
	}
	if n := e.client.Customer.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d customers imported from rejected files", n)
	}
}

func TestImportLimits(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tests := []struct {
		name, csv, wantMessage string
	}{
		{"too many rows", "name\n" + strings.Repeat("A\n", customer.MaxImportRows+1), "more than 200000 rows"},
		{"too many bytes", "name\n" + strings.Repeat("A", customer.MaxImportBytes), "at most 50 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := customer.Import(ctx, e.client, tt.csv)
			wantCode(t, err, apierr.BadUserInput, "csv")
			if e, _ := apierr.As(err); !strings.Contains(e.Message, tt.wantMessage) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
		})
	}
	t.Run("a row with too many tags is a row error", func(t *testing.T) {
		tags := func(n int) string {
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("t%d", i)
			}
			return strings.Join(names, ";")
		}
		csv := "name,phone,tags\nMany,0901234567," + tags(10_000) + "\nFifty,0901234568," + tags(customer.MaxRowTags) + "\n"
		res, err := customer.Import(ctx, e.client, csv)
		if err != nil {
			t.Fatal(err)
		}
		want := []customer.RowError{{Line: 2, Message: "tags: more than 50 tags in one row"}}
		if res.Imported != 1 || !reflect.DeepEqual(res.Errors, want) {
			t.Fatalf("Import = %d imported, errors %+v; want 1, %+v", res.Imported, res.Errors, want)
		}
	})
	t.Run("exactly the row limit is accepted", func(t *testing.T) {
		if testing.Short() {
			t.Skip("imports 200000 rows")
		}
		// Only the count is under test: rows without a name fail in memory
		// and nothing is written.
		res, err := customer.Import(ctx, e.client, "name\n"+strings.Repeat(",\n", customer.MaxImportRows))
		if err != nil || len(res.Errors) != customer.MaxImportRows {
			t.Fatalf("Import = %v errors, %v; want %d row errors", len(res.Errors), err, customer.MaxImportRows)
		}
	})
}

func TestImportFileFormats(t *testing.T) {
	tests := []struct {
		name, csv, wantName string
	}{
		{"Excel's byte order mark", "\ufeffName,Phone\nA,0912345678\n", "A"},
		{"header in any case", "NAME,PHONE\nA,0912345678\n", "A"},
		{"export-only columns ignored", "id,name,phone,createdAt\ncus_whatever,A,0912345678,2024-01-01T00:00:00Z\n", "A"},
		{"CRLF line ends and no final newline", "name,phone\r\nA,0912345678", "A"},
		{"formula escape removed", "name,phone\n'=A,0912345678\n", "=A"},
		{"apostrophe kept before plain text", "name,phone\n'A,0912345678\n", "'A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := asOwner(e.org)
			res, err := customer.Import(ctx, e.client, tt.csv)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, res, 1, 0)
			c := e.client.Customer.Query().OnlyX(ctx)
			if c.Name != tt.wantName || *c.Phone != "+84912345678" {
				t.Fatalf("customer = %q %s", c.Name, str(c.Phone))
			}
		})
	}
}

func TestImportMatchesAcrossBatches(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	var b strings.Builder
	b.WriteString("name,email\n")
	const rows = 1200 // more than two batches
	for i := range rows {
		b.WriteString(fmt.Sprintf("Customer %d,c%d@example.com\n", i, i))
	}
	// Rows in later batches matching rows of earlier ones.
	b.WriteString("Renamed 3,C3@example.com\nRenamed 700,c700@example.com\n")
	res, err := customer.Import(ctx, e.client, b.String())
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, rows, 2)
	if n := e.client.Customer.Query().CountX(ctx); n != rows {
		t.Fatalf("%d customers, want %d", n, rows)
	}
	for _, want := range []struct{ email, name string }{{"c3@example.com", "Renamed 3"}, {"c700@example.com", "Renamed 700"}} {
		if c := e.client.Customer.Query().Where(entcustomer.Email(want.email)).OnlyX(ctx); c.Name != want.name {
			t.Fatalf("%s is named %q, want %q", want.email, c.Name, want.name)
		}
	}
}

func TestImportOrdersUpdatesThatPassAPhoneNumberOn(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	c1 := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("C1").SetPhone("0911111111").SetEmail("c1@example.com")
	})
	c2 := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("C2").SetPhone("0922222222").SetEmail("c2@example.com")
	})
	// C1 is touched first, but takes C2's number only after C2 gives it
	// up: the batch as planned conflicts, and the retry settles it.
	res, err := customer.Import(ctx, e.client, strings.Join([]string{
		"name,email,phone",
		"C1 renamed,c1@example.com,",
		"C2,c2@example.com,0933333333",
		"C1 renamed,c1@example.com,0922222222",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, 0, 3)
	if got := *e.client.Customer.GetX(ctx, c1.ID).Phone; got != "+84922222222" {
		t.Fatalf("C1 phone = %s, want +84922222222", got)
	}
	if got := *e.client.Customer.GetX(ctx, c2.ID).Phone; got != "+84933333333" {
		t.Fatalf("C2 phone = %s, want +84933333333", got)
	}
}

func TestImportRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.newUser(t, e.org, viewer.RoleAdmin)
	agent := e.newUser(t, e.org, viewer.RoleAgent)
	tests := []struct {
		name     string
		ctx      context.Context
		wantCode apierr.Code
	}{
		{"OWNER may import", asOwner(e.org), ""},
		{"ADMIN may import", as(e.org, admin), ""},
		{"API key with WRITE may import", asKey(e.org, viewer.ScopeWrite), ""},
		{"AGENT may not import", as(e.org, agent), apierr.Forbidden},
		{"API key with only READ may not import", asKey(e.org, viewer.ScopeRead), apierr.Forbidden},
		{"anonymous caller may not import", context.Background(), apierr.Unauthenticated},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := customer.Import(tt.ctx, e.client, fmt.Sprintf("name,phone\nA,091200000%d\n", i))
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, res, 1, 0)
		})
	}
}

func TestImportTenantIsolation(t *testing.T) {
	e := newEnv(t)
	other := e.newTenant(t, "Công ty B")
	theirs := mustCreate(t, asOwner(other), e.client, func(c *ent.CustomerCreate) {
		c.SetName("Their customer").SetPhone("0912345678").SetEmail("shared@example.com")
	})
	ctx := asOwner(e.org)
	res, err := customer.Import(ctx, e.client, strings.Join([]string{
		"name,phone,email,owner,tags",
		"Our customer,0912345678,shared@example.com,,VIP",
		"Owned by their user,,," + other.owner.Email + ",",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, 1, 0, customer.RowError{Line: 3, Message: "no user of this organization has the email"})

	ours := e.client.Customer.Query().OnlyX(ctx)
	if ours.Name != "Our customer" || ours.OrganizationID != e.org.id {
		t.Fatalf("our customer = %+v", ours)
	}
	got := e.client.Customer.GetX(asOwner(other), theirs.ID)
	if got.Name != "Their customer" || len(tagNames(t, asOwner(other), got)) != 0 {
		t.Fatalf("the other organization's customer changed: %+v", got)
	}
}

func TestImportIsolatesARowTheDatabaseRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	// A stand-in for what only the database sees, such as a concurrent
	// import taking the same phone number: the write of one row fails after
	// the batch passed validation.
	e.client.Customer.Use(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerFunc(func(ctx context.Context, m *ent.CustomerMutation) (ent.Value, error) {
			if name, _ := m.Name(); name == "Refused" {
				return nil, apierr.New(apierr.Conflict, "refused by the database")
			}
			return next.Mutate(ctx, m)
		})
	})
	res, err := customer.Import(ctx, e.client, "name,phone\nA,0911111111\nRefused,0922222222\nB,0933333333\n")
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, 2, 0, customer.RowError{Line: 3, Message: "refused by the database"})
	var names []string
	for _, c := range e.client.Customer.Query().AllX(ctx) {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"A", "B"}) {
		t.Fatalf("customers = %q, want A and B", names)
	}
}

func TestImportUpdatesASingleChangedColumn(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	e.defineFields(t, e.org, field{key: "company", typ: customfield.TypeTEXT})
	agent := e.newUser(t, e.org, viewer.RoleAgent)
	// Each row repeats the stored name and phone and changes one column,
	// which must not be mistaken for a row that changes nothing.
	tests := []struct {
		column, cell string
		check        func(*ent.Customer) bool
	}{
		{"email", "new@example.com", func(c *ent.Customer) bool { return str(c.Email) == `"new@example.com"` }},
		{"address", "Hà Nội", func(c *ent.Customer) bool { return str(c.Address) == `"Hà Nội"` }},
		{"gender", "nữ", func(c *ent.Customer) bool { return c.Gender != nil && *c.Gender == entcustomer.GenderFEMALE }},
		{"birthday", "2000-01-02", func(c *ent.Customer) bool {
			return c.Birthday != nil && c.Birthday.UTC().Format(customer.DateLayout) == "2000-01-02"
		}},
		{"stage", "CHURNED", func(c *ent.Customer) bool { return c.Stage == entcustomer.StageCHURNED }},
		{"score", "42", func(c *ent.Customer) bool { return c.Score == 42 }},
		{"doNotContact", "có", func(c *ent.Customer) bool { return c.DoNotContact }},
		{"owner", agent.Email, func(c *ent.Customer) bool { return c.OwnerID != nil && *c.OwnerID == agent.ID }},
		{"company", "ACME", func(c *ent.Customer) bool { return c.CustomFields["company"] == "ACME" }},
		{"tags", "VIP", func(c *ent.Customer) bool { return slices.Equal(tagNames(t, ctx, c), []string{"VIP"}) }},
	}
	for i, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			phone := fmt.Sprintf("09120000%02d", i)
			c := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName("Same").SetPhone(phone) })
			res, err := customer.Import(ctx, e.client, fmt.Sprintf("name,phone,%s\nSame,%s,%s\n", tt.column, phone, tt.cell))
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, res, 0, 1)
			if c = e.client.Customer.GetX(ctx, c.ID); !tt.check(c) {
				t.Fatalf("%s was not updated: %+v", tt.column, c)
			}
		})
	}
}

// TestImportAnalyzesAsTheTableGrows: a large import refreshes the
// planner's statistics once it reaches 5,000 rows and each time it has
// doubled them since, and at the end. Without it, the lookups by phone and
// email keep the plan PostgreSQL made for the empty table and read every
// customer of the organization per batch, which made an import of 100,000
// rows ten times slower.
func TestImportAnalyzesAsTheTableGrows(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	customer.Register(db.Client)
	e := &env{client: db.Client}
	org := e.newTenant(t, "Công ty lớn")
	e.defineFields(t, org, field{key: "company", typ: customfield.TypeTEXT})
	const rows = 10_500
	counter.Reset()
	res, err := customer.Import(asOwner(org), e.client, importCSV(rows, 0, false))
	if err != nil || res.Imported != rows {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	analyzes := 0
	for _, q := range counter.Queries() {
		if q == "ANALYZE customers" {
			analyzes++
		}
	}
	// At 5,000 and 10,000 rows, and at the end.
	if analyzes != 3 {
		t.Errorf("%d ANALYZE statements in an import of %d rows, want 3", analyzes, rows)
	}
}
