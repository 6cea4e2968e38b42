package customer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcustomer "github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/viewer"
)

// snapshot describes every customer of the context's organization by what
// an import can carry (no IDs or timestamps), one line each, sorted.
func snapshot(t *testing.T, ctx context.Context, client *ent.Client) []string {
	t.Helper()
	cs := client.Customer.Query().WithTags().WithOwner().AllX(ctx)
	lines := make([]string, len(cs))
	for i, c := range cs {
		var tags []string
		for _, tag := range c.Edges.Tags {
			tags = append(tags, tag.Name)
		}
		slices.Sort(tags)
		var owner, birthday, gender string
		if c.Edges.Owner != nil {
			owner = c.Edges.Owner.Email
		}
		if c.Birthday != nil {
			birthday = c.Birthday.UTC().Format(time.RFC3339)
		}
		if c.Gender != nil {
			gender = string(*c.Gender)
		}
		lines[i] = fmt.Sprintf("%q phone=%s email=%s address=%s gender=%s birthday=%s stage=%s score=%d tags=%q dnc=%t owner=%s custom=%v search=%q",
			c.Name, str(c.Phone), str(c.Email), str(c.Address), gender, birthday, c.Stage, c.Score, tags,
			c.DoNotContact, owner, c.CustomFields, c.SearchText)
	}
	slices.Sort(lines)
	return lines
}

func exportString(t *testing.T, ctx context.Context, client *ent.Client, where *ent.CustomerWhereInput, search string) string {
	t.Helper()
	var b bytes.Buffer
	if err := customer.Export(ctx, client, &b, where, search); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.String()
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v\n%s", err, s)
	}
	return records
}

func TestExportRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	e.defineFields(t, e.org,
		field{key: "company", typ: customfield.TypeTEXT},
		field{key: "revenue", typ: customfield.TypeNUMBER},
		field{key: "vip", typ: customfield.TypeBOOLEAN},
		field{key: "signed_on", typ: customfield.TypeDATE},
		field{key: "source", typ: customfield.TypeSELECT, options: []string{"Zalo", "Facebook"}},
	)
	vip := e.client.Tag.Create().SetName("VIP").SaveX(ctx)
	zalo := e.client.Tag.Create().SetName("Khách Zalo").SaveX(ctx)
	mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("Nguyễn Văn A").SetPhone("0912345678").SetEmail("a@example.com").
			SetAddress("12 Lê Lợi, Q1\nTP HCM").SetGender(entcustomer.GenderMALE).
			SetBirthday(time.Date(1990, 5, 1, 0, 0, 0, 0, time.UTC)).SetStage(entcustomer.StageCUSTOMER).
			SetScore(10).AddTags(vip, zalo).SetDoNotContact(true).SetOwner(e.org.owner).
			SetCustomFields(map[string]any{"company": `ACME "Việt Nam"`, "revenue": 1500.5, "vip": true, "signed_on": "2024-02-29", "source": "Zalo"})
	})
	mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName(`=HYPERLINK("http://evil.example")`).SetPhone("+1 415 555 2671").
			SetAddress("@home").SetScore(-5).SetCustomFields(map[string]any{"revenue": -3.0, "vip": false})
	})
	mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("Chỉ có email").SetEmail("email.only@example.vn").SetGender(entcustomer.GenderOTHER)
	})
	other := e.newTenant(t, "Công ty B")
	mustCreate(t, asOwner(other), e.client, func(c *ent.CustomerCreate) {
		c.SetName("Not ours").SetPhone("0912345678")
	})
	before := snapshot(t, ctx, e.client)

	exported := exportString(t, ctx, e.client, nil, "")
	records := readCSV(t, exported)
	wantHeader := []string{
		"id", "name", "phone", "email", "address", "gender", "birthday", "stage", "score", "tags",
		"doNotContact", "owner", "createdAt", "company", "revenue", "vip", "signed_on", "source",
	}
	if !slices.Equal(records[0], wantHeader) {
		t.Fatalf("header = %q\nwant %q", records[0], wantHeader)
	}
	if len(records) != 4 {
		t.Fatalf("%d rows exported, want 3 (the other organization's customer must not appear):\n%s", len(records)-1, exported)
	}
	byName := map[string][]string{}
	for _, r := range records[1:] {
		byName[r[1]] = r
	}
	t.Run("cells", func(t *testing.T) {
		a := byName["Nguyễn Văn A"]
		want := []string{"Nguyễn Văn A", "0912345678", "a@example.com", "12 Lê Lợi, Q1\nTP HCM", "MALE", "1990-05-01",
			"CUSTOMER", "10", "Khách Zalo;VIP", "true", e.org.owner.Email}
		if a == nil || !slices.Equal(a[1:12], want) {
			t.Fatalf("row A = %q\nwant %q", a, want)
		}
		if got := a[13:]; !slices.Equal(got, []string{`ACME "Việt Nam"`, "1500.5", "true", "2024-02-29", "Zalo"}) {
			t.Fatalf("custom cells = %q", got)
		}
	})
	t.Run("formula-like cells are defused", func(t *testing.T) {
		f := byName[`'=HYPERLINK("http://evil.example")`]
		if f == nil || f[2] != "'+14155552671" || f[4] != "'@home" || f[8] != "'-5" || f[14] != "'-3" {
			t.Fatalf("row = %q", f)
		}
	})

	t.Run("re-importing an export updates every customer and changes nothing", func(t *testing.T) {
		res, err := customer.Import(ctx, e.client, exported)
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, 0, 3)
		if after := snapshot(t, ctx, e.client); !slices.Equal(after, before) {
			t.Fatalf("customers after re-import:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
	t.Run("importing an export into an emptied organization restores it", func(t *testing.T) {
		if _, err := e.client.Customer.Delete().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := customer.Import(ctx, e.client, exported)
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, 3, 0)
		if after := snapshot(t, ctx, e.client); !slices.Equal(after, before) {
			t.Fatalf("customers after import:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
}

func TestExportFilters(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	for _, s := range []struct {
		name  string
		stage entcustomer.Stage
	}{
		{"Nguyễn Văn A", entcustomer.StageCUSTOMER},
		{"Nguyễn Thị B", entcustomer.StageLEAD},
		{"Trần Văn C", entcustomer.StageCUSTOMER},
	} {
		mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName(s.name).SetStage(s.stage) })
	}
	customerStage := entcustomer.StageCUSTOMER
	tests := []struct {
		name   string
		where  *ent.CustomerWhereInput
		search string
		want   []string
	}{
		{"everything", nil, "", []string{"Nguyễn Thị B", "Nguyễn Văn A", "Trần Văn C"}},
		{"where", &ent.CustomerWhereInput{Stage: &customerStage}, "", []string{"Nguyễn Văn A", "Trần Văn C"}},
		{"search", nil, "nguyen", []string{"Nguyễn Thị B", "Nguyễn Văn A"}},
		{"where and search", &ent.CustomerWhereInput{Stage: &customerStage}, "nguyen", []string{"Nguyễn Văn A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range readCSV(t, exportString(t, ctx, e.client, tt.where, tt.search))[1:] {
				got = append(got, r[1])
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("exported %q, want %q", got, tt.want)
			}
		})
	}
}

// countingWriter records how many times Export wrote.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestExportPagesThroughEveryCustomer(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	const n = 2345 // three pages
	builders := make([]*ent.CustomerCreate, n)
	for i := range builders {
		builders[i] = e.client.Customer.Create().SetName(fmt.Sprintf("Customer %d", i))
	}
	for chunk := range slices.Chunk(builders, 500) {
		e.client.Customer.CreateBulk(chunk...).ExecX(ctx)
	}
	var w countingWriter
	if err := customer.Export(ctx, e.client, &w, nil, ""); err != nil {
		t.Fatal(err)
	}
	records := readCSV(t, w.String())[1:]
	if len(records) != n {
		t.Fatalf("%d rows, want %d", len(records), n)
	}
	for i := 1; i < len(records); i++ {
		if records[i-1][0] >= records[i][0] {
			t.Fatalf("rows %d and %d are out of ID order: %s, %s", i, i+1, records[i-1][0], records[i][0])
		}
	}
	if w.writes < 3 {
		t.Fatalf("Export wrote %d times, want at least once per page (3): it must stream", w.writes)
	}
}

func TestExportRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.newUser(t, e.org, viewer.RoleAdmin)
	agent := e.newUser(t, e.org, viewer.RoleAgent)
	tests := []struct {
		name     string
		ctx      context.Context
		wantCode apierr.Code
	}{
		{"OWNER may export", asOwner(e.org), ""},
		{"ADMIN may export", as(e.org, admin), ""},
		{"API key with READ may export", asKey(e.org, viewer.ScopeRead), ""},
		{"AGENT may not export", as(e.org, agent), apierr.Forbidden},
		{"API key with only WRITE may not export", asKey(e.org, viewer.ScopeWrite), apierr.Forbidden},
		{"anonymous caller may not export", context.Background(), apierr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := customer.Export(tt.ctx, e.client, &b, nil, "")
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode, "")
				if b.Len() != 0 {
					t.Fatalf("a refused export wrote %q", b.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
