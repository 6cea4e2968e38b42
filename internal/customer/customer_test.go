package customer_test

import (
	"encoding/json"
	"errors"
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

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"national mobile", "0912345678", "+84912345678"},
		{"formatted with spaces and dots", "0912 345.678", "+84912345678"},
		{"international with plus", "+84 912 345 678", "+84912345678"},
		{"country code without plus", "84912345678", "+84912345678"},
		{"old 11-digit Viettel prefix", "01628123456", "+84328123456"},
		{"old 11-digit VinaPhone prefix", "0123 456 7890", "+84834567890"},
		{"foreign number with plus", "+1 415 555 2671", "+14155552671"},
		{"blank clears", "  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := customer.NormalizePhone(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if got == "" {
				return
			}
			// What Import and Merge copy back in must normalize to itself.
			again, err := customer.NormalizePhone(got)
			if err != nil || again != got {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}

func TestNormalizePhoneRejects(t *testing.T) {
	for _, in := range []string{"12345", "0912abc678", "091234567890123", "+"} {
		t.Run(in, func(t *testing.T) {
			_, err := customer.NormalizePhone(in)
			wantCode(t, err, apierr.BadUserInput, "phone")
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "an@example.com", "an@example.com", true},
		{"trimmed and lower-cased", "  An.Nguyen@Example.COM ", "an.nguyen@example.com", true},
		{"subdomain and plus tag", "an+crm@mail.example.vn", "an+crm@mail.example.vn", true},
		{"blank clears", " ", "", true},
		{"no at sign", "an.example.com", "", false},
		{"domain without a dot", "an@localhost", "", false},
		{"display name", "An <an@example.com>", "", false},
		{"two at signs", "an@@example.com", "", false},
		{"space inside", "an nguyen@example.com", "", false},
		{"domain starting with a dot", "an@.example.com", "", false},
		{"domain ending with a dot", "an@example.com.", "", false},
		{"domain literal", "an@[10.0.0.1]", "", false},
		{"comment", "an@example.com (An)", "", false},
		{"too long", strings.Repeat("a", 250) + "@example.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := customer.NormalizeEmail(tt.in)
			if !tt.ok {
				wantCode(t, err, apierr.BadUserInput, "email")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCreateNormalizesFields(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tests := []struct {
		name                 string
		build                func(*ent.CustomerCreate)
		wantName             string
		wantPhone, wantEmail *string
		wantAddress          *string
		wantSearch           string
		wantBirthday         string
	}{
		{
			name: "name trimmed, phone and email normalized",
			build: func(c *ent.CustomerCreate) {
				c.SetName("  Nguyễn Văn A ").SetPhone("0912 345 678").SetEmail(" An@Example.com")
			},
			wantName: "Nguyễn Văn A", wantPhone: ptr("+84912345678"), wantEmail: ptr("an@example.com"),
			wantSearch: "nguyen van a +84912345678 0912345678 an@example.com",
		},
		{
			name:     "old 11-digit number renumbered",
			build:    func(c *ent.CustomerCreate) { c.SetName("Trần Thị Đạt").SetPhone("01628123456") },
			wantName: "Trần Thị Đạt", wantPhone: ptr("+84328123456"),
			wantSearch: "tran thi dat +84328123456 0328123456",
		},
		{
			name: "empty strings leave phone, email and address unset",
			build: func(c *ent.CustomerCreate) {
				c.SetName("Lê B").SetPhone("").SetEmail(" ").SetAddress("  ")
			},
			wantName: "Lê B", wantSearch: "le b",
		},
		{
			name: "address trimmed and birthday kept as a date",
			build: func(c *ent.CustomerCreate) {
				c.SetName("Phạm C").SetAddress(" 1 Lê Lợi, Q1 ").
					SetBirthday(time.Date(1990, 5, 1, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600)))
			},
			wantName: "Phạm C", wantAddress: ptr("1 Lê Lợi, Q1"), wantSearch: "pham c", wantBirthday: "1990-05-01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCreate(t, ctx, e.client, tt.build)
			c = e.client.Customer.GetX(ctx, c.ID) // what was stored, not what was sent
			if c.Name != tt.wantName || str(c.Phone) != str(tt.wantPhone) || str(c.Email) != str(tt.wantEmail) ||
				str(c.Address) != str(tt.wantAddress) || c.SearchText != tt.wantSearch {
				t.Fatalf("stored name=%q phone=%s email=%s address=%s search=%q; want %q %s %s %s %q",
					c.Name, str(c.Phone), str(c.Email), str(c.Address), c.SearchText,
					tt.wantName, str(tt.wantPhone), str(tt.wantEmail), str(tt.wantAddress), tt.wantSearch)
			}
			if tt.wantBirthday != "" {
				if c.Birthday == nil || c.Birthday.UTC().Format(customer.DateLayout) != tt.wantBirthday || c.Birthday.UTC().Hour() != 0 {
					t.Fatalf("birthday = %v, want %s at UTC midnight", c.Birthday, tt.wantBirthday)
				}
			}
		})
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tests := []struct {
		name      string
		build     func(*ent.CustomerCreate)
		wantField string
	}{
		{"blank name", func(c *ent.CustomerCreate) { c.SetName("   ") }, "name"},
		{"name with a NUL", func(c *ent.CustomerCreate) { c.SetName("A\x00B") }, "name"},
		{"invalid phone", func(c *ent.CustomerCreate) { c.SetName("A").SetPhone("0912") }, "phone"},
		{"invalid email", func(c *ent.CustomerCreate) { c.SetName("A").SetEmail("an@localhost") }, "email"},
		{"email with display name", func(c *ent.CustomerCreate) { c.SetName("A").SetEmail("An <an@example.com>") }, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.client.Customer.Create()
			tt.build(b)
			_, err := b.Save(ctx)
			wantCode(t, err, apierr.BadUserInput, tt.wantField)
		})
	}
	if n := e.client.Customer.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d customers stored, want none", n)
	}
}

func TestUpdateOneRecomputesSearchText(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tests := []struct {
		name       string
		update     func(*ent.CustomerUpdateOne)
		wantSearch string
		wantPhone  *string
		wantEmail  *string
	}{
		{
			name:       "phone changed, name and email read from the row",
			update:     func(u *ent.CustomerUpdateOne) { u.SetPhone("+84 983 000 111") },
			wantSearch: "nguyen van a +84983000111 0983000111 a@example.com",
			wantPhone:  ptr("+84983000111"), wantEmail: ptr("a@example.com"),
		},
		{
			name:       "name changed",
			update:     func(u *ent.CustomerUpdateOne) { u.SetName(" Nguyễn Văn Ánh ") },
			wantSearch: "nguyen van anh +84912345678 0912345678 a@example.com",
			wantPhone:  ptr("+84912345678"), wantEmail: ptr("a@example.com"),
		},
		{
			name:       "empty strings clear phone and email",
			update:     func(u *ent.CustomerUpdateOne) { u.SetPhone("").SetEmail("") },
			wantSearch: "nguyen van a",
		},
		{
			name:       "unrelated field leaves the search text alone",
			update:     func(u *ent.CustomerUpdateOne) { u.SetStage(entcustomer.StageCUSTOMER) },
			wantSearch: "nguyen van a +84912345678 0912345678 a@example.com",
			wantPhone:  ptr("+84912345678"), wantEmail: ptr("a@example.com"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
				c.SetName("Nguyễn Văn A").SetPhone("0912345678").SetEmail("a@example.com")
			})
			defer e.client.Customer.DeleteOneID(c.ID).ExecX(ctx)
			u := e.client.Customer.UpdateOneID(c.ID)
			tt.update(u)
			if err := u.Exec(ctx); err != nil {
				t.Fatalf("update: %v", err)
			}
			c = e.client.Customer.GetX(ctx, c.ID)
			if c.SearchText != tt.wantSearch || str(c.Phone) != str(tt.wantPhone) || str(c.Email) != str(tt.wantEmail) {
				t.Fatalf("search=%q phone=%s email=%s; want %q %s %s",
					c.SearchText, str(c.Phone), str(c.Email), tt.wantSearch, str(tt.wantPhone), str(tt.wantEmail))
			}
		})
	}
}

func TestBulkUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName("A").SetPhone("0912345678") })
	tests := []struct {
		name    string
		update  func(*ent.CustomerUpdate)
		refused bool
	}{
		{"of the name is refused", func(u *ent.CustomerUpdate) { u.SetName("B") }, true},
		{"of the phone is refused", func(u *ent.CustomerUpdate) { u.SetPhone("0983000111") }, true},
		{"clearing the email is refused", func(u *ent.CustomerUpdate) { u.ClearEmail() }, true},
		{"of the stage is allowed", func(u *ent.CustomerUpdate) { u.SetStage(entcustomer.StageCONTACT) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.client.Customer.Update()
			tt.update(u)
			_, err := u.Save(ctx)
			if tt.refused != (err != nil) {
				t.Fatalf("err = %v, want refused=%v", err, tt.refused)
			}
		})
	}
	if c := e.client.Customer.Query().OnlyX(ctx); c.Name != "A" || *c.Phone != "+84912345678" {
		t.Fatalf("refused updates changed the customer: %q %q", c.Name, *c.Phone)
	}
}

func TestCustomFieldValidation(t *testing.T) {
	e := newEnv(t)
	e.defineFields(t, e.org,
		field{key: "company", typ: customfield.TypeTEXT},
		field{key: "revenue", typ: customfield.TypeNUMBER},
		field{key: "vip", typ: customfield.TypeBOOLEAN},
		field{key: "signed_on", typ: customfield.TypeDATE},
		field{key: "source", typ: customfield.TypeSELECT, options: []string{"Zalo", "Facebook"}},
	)
	other := e.newTenant(t, "Công ty B")
	e.defineFields(t, other, field{key: "other_org_only", typ: customfield.TypeTEXT})
	ctx := asOwner(e.org)

	tests := []struct {
		name    string
		values  map[string]any
		wantKey string // named in the error; "" when the values are valid
	}{
		{"every type valid", map[string]any{
			"company": "ACME", "revenue": 12.5, "vip": true, "signed_on": "2024-02-29", "source": "Zalo",
		}, ""},
		{"number as gqlgen decodes it", map[string]any{"revenue": json.Number("1000")}, ""},
		{"number as a Go int", map[string]any{"revenue": 7}, ""},
		{"null value dropped", map[string]any{"company": nil}, ""},
		{"unknown key", map[string]any{"colour": "red"}, "colour"},
		{"another organization's key", map[string]any{"other_org_only": "x"}, "other_org_only"},
		{"text given a number", map[string]any{"company": 5}, "company"},
		{"number given a string", map[string]any{"revenue": "12"}, "revenue"},
		{"boolean given a string", map[string]any{"vip": "true"}, "vip"},
		{"date in the wrong form", map[string]any{"signed_on": "29/02/2024"}, "signed_on"},
		{"impossible date", map[string]any{"signed_on": "2023-02-29"}, "signed_on"},
		{"select outside its options", map[string]any{"source": "TikTok"}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.client.Customer.Create().SetName("A").SetCustomFields(tt.values).Save(ctx)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				e.client.Customer.DeleteOne(c).ExecX(ctx)
				return
			}
			wantCode(t, err, apierr.BadUserInput, "customFields")
			if e, _ := apierr.As(err); !strings.Contains(e.Message, `"`+tt.wantKey+`"`) {
				t.Fatalf("message %q does not name %q", e.Message, tt.wantKey)
			}
		})
	}

	t.Run("null values are not stored", func(t *testing.T) {
		c := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
			c.SetName("A").SetCustomFields(map[string]any{"company": nil, "vip": false})
		})
		c = e.client.Customer.GetX(ctx, c.ID)
		if len(c.CustomFields) != 1 || c.CustomFields["vip"] != false {
			t.Fatalf("custom fields = %v, want only vip=false", c.CustomFields)
		}
	})
	t.Run("update-one is validated too", func(t *testing.T) {
		c := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName("A") })
		err := e.client.Customer.UpdateOne(c).SetCustomFields(map[string]any{"vip": "yes"}).Exec(ctx)
		wantCode(t, err, apierr.BadUserInput, "customFields")
	})
}

func TestDuplicatePhoneOrEmailIsAConstraintError(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("A").SetPhone("0912345678").SetEmail("a@example.com")
	})
	tests := []struct {
		name  string
		build func(*ent.CustomerCreate)
	}{
		{"same phone in another form", func(c *ent.CustomerCreate) { c.SetName("B").SetPhone("+84 912 345 678") }},
		{"same email in another case", func(c *ent.CustomerCreate) { c.SetName("B").SetEmail("A@Example.com") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.client.Customer.Create()
			tt.build(b)
			if _, err := b.Save(ctx); !ent.IsConstraintError(err) {
				t.Fatalf("err = %v, want an ent constraint error", err)
			}
		})
	}
	t.Run("another organization may hold the same phone and email", func(t *testing.T) {
		other := e.newTenant(t, "Công ty B")
		mustCreate(t, asOwner(other), e.client, func(c *ent.CustomerCreate) {
			c.SetName("A").SetPhone("0912345678").SetEmail("a@example.com")
		})
	})
}

func TestTagNames(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tests := []struct {
		name, in, want string
	}{
		{"trimmed", "  VIP  ", "VIP"},
		{"Vietnamese kept as written", " Khách quen ", "Khách quen"},
		{"blank refused", "   ", ""},
		{"separator refused", "a;b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, err := e.client.Tag.Create().SetName(tt.in).Save(ctx)
			if tt.want == "" {
				wantCode(t, err, apierr.BadUserInput, "name")
				return
			}
			if err != nil || tag.Name != tt.want {
				t.Fatalf("tag = %v, %v; want name %q", tag, err, tt.want)
			}
		})
	}
	t.Run("rename trimmed", func(t *testing.T) {
		tag := e.client.Tag.Create().SetName("Old").SaveX(ctx)
		tag = e.client.Tag.UpdateOne(tag).SetName(" New ").SaveX(ctx)
		if tag.Name != "New" {
			t.Fatalf("name = %q, want %q", tag.Name, "New")
		}
	})
}

func TestHooksRunInTransactions(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	tx, err := e.client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Customer.Create().SetName("A").SetPhone("0912").Save(ctx)
	_ = tx.Rollback()
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Field != "phone" {
		t.Fatalf("err = %v, want BAD_USER_INPUT on phone", err)
	}
}

func TestWriteOnlyAPIKeyCanWrite(t *testing.T) {
	// The hooks read the stored row and the custom field definitions; a key
	// that may write but not read must still get its writes validated.
	e := newEnv(t)
	e.defineFields(t, e.org, field{key: "vip", typ: customfield.TypeBOOLEAN})
	key := asKey(e.org, viewer.ScopeWrite)
	c, err := e.client.Customer.Create().SetName("Nguyễn Văn A").SetCustomFields(map[string]any{"vip": true}).Save(key)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	_, err = e.client.Customer.Create().SetName("B").SetCustomFields(map[string]any{"vip": "yes"}).Save(key)
	wantCode(t, err, apierr.BadUserInput, "customFields")
	if err := e.client.Customer.UpdateOneID(c.ID).SetPhone("0912345678").Exec(key); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got := e.client.Customer.GetX(asOwner(e.org), c.ID).SearchText; got != "nguyen van a +84912345678 0912345678" {
		t.Fatalf("search text = %q", got)
	}
	if _, err := e.client.Customer.Query().All(key); apierr.CodeOf(err) != apierr.Forbidden {
		t.Fatalf("the key read customers (err %v): the hooks must not widen what the caller itself may do", err)
	}
}
