package customer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	entcustomer "github.com/dakenh/dakenh/ent/customer"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestMerge(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	e.defineFields(t, e.org,
		field{key: "company", typ: customfield.TypeTEXT},
		field{key: "revenue", typ: customfield.TypeNUMBER},
	)
	agent := e.newUser(t, e.org, viewer.RoleAgent)
	tag := func(name string) *ent.Tag { return e.client.Tag.Create().SetName(name).SaveX(ctx) }
	vip, zalo, hot := tag("VIP"), tag("Zalo"), tag("Hot")
	birthday := time.Date(1990, 5, 1, 0, 0, 0, 0, time.UTC)

	type want struct {
		name, phone, email, address, gender, birthday, owner string
		tags                                                 []string
		custom                                               string
		score                                                int
		dnc                                                  bool
		search                                               string
	}
	tests := []struct {
		name           string
		source, target func(*ent.CustomerCreate)
		want           want
	}{
		{
			name: "target's empty fields are filled from the source",
			source: func(c *ent.CustomerCreate) {
				c.SetName("Zalo user 123").SetPhone("0912345678").SetAddress("12 Lê Lợi").SetGender(entcustomer.GenderFEMALE).
					SetBirthday(birthday).SetOwner(agent).SetScore(30).SetDoNotContact(true).AddTags(vip, zalo).
					SetCustomFields(map[string]any{"company": "ACME", "revenue": 5.0})
			},
			target: func(c *ent.CustomerCreate) {
				c.SetName("Nguyễn Thị Lan").SetEmail("lan@example.com").SetScore(10).AddTags(zalo, hot).
					SetCustomFields(map[string]any{"revenue": 7.0})
			},
			want: want{
				name: "Nguyễn Thị Lan", phone: "+84912345678", email: "lan@example.com", address: "12 Lê Lợi",
				gender: "FEMALE", birthday: "1990-05-01", owner: "agent",
				tags: []string{"Hot", "VIP", "Zalo"}, custom: "map[company:ACME revenue:7]", score: 30, dnc: true,
				search: "nguyen thi lan +84912345678 0912345678 lan@example.com",
			},
		},
		{
			name: "target's own fields win",
			source: func(c *ent.CustomerCreate) {
				c.SetName("Old").SetPhone("0983000111").SetEmail("old@example.com").SetAddress("Old address").SetScore(1)
			},
			target: func(c *ent.CustomerCreate) {
				c.SetName("New").SetPhone("0912345678").SetEmail("new@example.com").SetAddress("New address").
					SetScore(2).SetOwner(e.org.owner)
			},
			want: want{
				name: "New", phone: "+84912345678", email: "new@example.com", address: "New address", owner: "owner",
				custom: "map[]", score: 2,
				search: "new +84912345678 0912345678 new@example.com",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := mustCreate(t, ctx, e.client, tt.source)
			target := mustCreate(t, ctx, e.client, tt.target)
			merged, err := customer.Merge(ctx, e.client, source.ID, target.ID)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if merged.ID != target.ID {
				t.Fatalf("Merge returned %s, want the target %s", merged.ID, target.ID)
			}
			if exists := e.client.Customer.Query().Where(entcustomer.ID(source.ID)).ExistX(ctx); exists {
				t.Fatal("the source still exists")
			}
			c := e.client.Customer.Query().Where(entcustomer.ID(target.ID)).WithOwner().OnlyX(ctx)
			got := want{
				name: c.Name, phone: deref(c.Phone), email: deref(c.Email), address: deref(c.Address),
				tags: tagNames(t, ctx, c), custom: fmt.Sprint(c.CustomFields), score: c.Score, dnc: c.DoNotContact,
				search: c.SearchText,
			}
			if c.Gender != nil {
				got.gender = string(*c.Gender)
			}
			if c.Birthday != nil {
				got.birthday = c.Birthday.UTC().Format(customer.DateLayout)
			}
			switch {
			case c.Edges.Owner == nil:
			case c.Edges.Owner.ID == agent.ID:
				got.owner = "agent"
			case c.Edges.Owner.ID == e.org.owner.ID:
				got.owner = "owner"
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Fatalf("merged customer\n got %+v\nwant %+v", got, tt.want)
			}
			e.client.Customer.DeleteOneID(target.ID).ExecX(ctx)
		})
	}
}

func TestMergeRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	admin := e.newUser(t, e.org, viewer.RoleAdmin)
	agent := e.newUser(t, e.org, viewer.RoleAgent)
	other := e.newTenant(t, "Công ty B")
	theirs := mustCreate(t, asOwner(other), e.client, func(c *ent.CustomerCreate) { c.SetName("Theirs") })
	ours := func() gid.ID {
		return mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName("Ours") }).ID
	}
	a, b := ours(), ours()

	tests := []struct {
		name             string
		ctx              context.Context
		source, target   gid.ID
		wantCode         apierr.Code
		wantField        string
		wantMessageMatch string
	}{
		{"the same customer twice", ctx, a, a, apierr.BadUserInput, "sourceId", ""},
		{"a missing source", ctx, gid.New("Customer"), a, apierr.NotFound, "sourceId", "not found"},
		{"another organization's source", ctx, theirs.ID, a, apierr.NotFound, "sourceId", "not found"},
		{"another organization's target", ctx, a, theirs.ID, apierr.NotFound, "targetId", "not found"},
		{"an AGENT", as(e.org, agent), a, b, apierr.Forbidden, "", ""},
		{"an API key with only READ", asKey(e.org, viewer.ScopeRead), a, b, apierr.Forbidden, "", ""},
		{"an anonymous caller", context.Background(), a, b, apierr.Unauthenticated, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := customer.Merge(tt.ctx, e.client, tt.source, tt.target)
			wantCode(t, err, tt.wantCode, tt.wantField)
		})
	}
	// Nothing was deleted or changed by the refusals.
	for _, id := range []gid.ID{a, b} {
		if !e.client.Customer.Query().Where(entcustomer.ID(id)).ExistX(ctx) {
			t.Fatalf("customer %s was deleted by a refused merge", id)
		}
	}
	if !e.client.Customer.Query().Where(entcustomer.ID(theirs.ID)).ExistX(asOwner(other)) {
		t.Fatal("the other organization's customer was deleted")
	}

	t.Run("a missing ID and another organization's ID are indistinguishable", func(t *testing.T) {
		_, errMissing := customer.Merge(ctx, e.client, a, gid.ID("cus_01JD3Q2V5Z8N4M7K1P6R9T0W2X"))
		_, errTheirs := customer.Merge(ctx, e.client, a, theirs.ID)
		m1, _ := apierr.As(errMissing)
		m2, _ := apierr.As(errTheirs)
		if m1 == nil || m2 == nil || m1.Code != m2.Code || m1.Field != m2.Field ||
			m1.Message != "customer cus_01JD3Q2V5Z8N4M7K1P6R9T0W2X not found" || m2.Message != fmt.Sprintf("customer %s not found", theirs.ID) {
			t.Fatalf("missing: %v; theirs: %v", errMissing, errTheirs)
		}
	})
	for _, tt := range []struct {
		name string
		ctx  context.Context
	}{
		{"an ADMIN may merge", as(e.org, admin)},
		{"an API key with WRITE may merge", asKey(e.org, viewer.ScopeWrite)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			source, target := ours(), ours()
			if _, err := customer.Merge(tt.ctx, e.client, source, target); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMergeMovesThePhoneNumberOfTheDeletedSource(t *testing.T) {
	// The source's phone and email are unique: the target can only take
	// them once the source is gone, inside the same transaction.
	e := newEnv(t)
	ctx := asOwner(e.org)
	source := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
		c.SetName("Source").SetPhone("+1 415 555 2671").SetEmail("s@example.com")
	})
	target := mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) { c.SetName("Target") })
	merged, err := customer.Merge(ctx, e.client, source.ID, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *merged.Phone != "+14155552671" || *merged.Email != "s@example.com" {
		t.Fatalf("merged phone %s email %s", str(merged.Phone), str(merged.Email))
	}
	if ids := e.client.Customer.Query().IDsX(ctx); !slices.Equal(ids, []gid.ID{target.ID}) {
		t.Fatalf("customers = %v, want only the target", ids)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}
