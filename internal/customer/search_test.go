package customer_test

import (
	"slices"
	"testing"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/customer"
)

func TestSearchPredicate(t *testing.T) {
	e := newEnv(t)
	ctx := asOwner(e.org)
	seed := []struct{ name, phone, email string }{
		{"Nguyễn Văn A", "0912345678", "nva@example.com"},
		{"Trần Thị Đạt", "", "dat.tran@example.vn"},
		{"NGUYỄN THỊ BÍCH", "+84 983 000 111", ""},
		{"Cửa hàng 100% Cotton", "", ""},
		{"Shop_Hoa", "", ""},
		{"Shop Hoa", "", ""}, // matched by an unescaped "p_h"
		{"Foreign Friend", "+1 415 555 2671", ""},
	}
	for _, s := range seed {
		mustCreate(t, ctx, e.client, func(c *ent.CustomerCreate) {
			c.SetName(s.name).SetPhone(s.phone).SetEmail(s.email)
		})
	}
	// Another organization's customers never match, however well they fit.
	other := e.newTenant(t, "Công ty B")
	mustCreate(t, asOwner(other), e.client, func(c *ent.CustomerCreate) {
		c.SetName("Nguyễn Văn A").SetPhone("0912345678")
	})

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"empty query matches everyone", "  ", []string{
			"Cửa hàng 100% Cotton", "Foreign Friend", "NGUYỄN THỊ BÍCH", "Nguyễn Văn A", "Shop Hoa", "Shop_Hoa", "Trần Thị Đạt",
		}},
		{"without diacritics or case", "nguyen van a", []string{"Nguyễn Văn A"}},
		{"with diacritics", "Nguyễn", []string{"NGUYỄN THỊ BÍCH", "Nguyễn Văn A"}},
		{"đ folds to d", "dat", []string{"Trần Thị Đạt"}},
		{"words in any order", "dat tran", []string{"Trần Thị Đạt"}},
		{"every word must match", "nguyen dat", nil},
		{"phone in national form", "0912 345 678", []string{"Nguyễn Văn A"}},
		{"phone in international form", "+84912345678", []string{"Nguyễn Văn A"}},
		{"phone fragment", "0983", []string{"NGUYỄN THỊ BÍCH"}},
		{"foreign phone", "+1 (415) 555-2671", []string{"Foreign Friend"}},
		{"email fragment", "example.vn", []string{"Trần Thị Đạt"}},
		{"percent is not a wildcard", "%", []string{"Cửa hàng 100% Cotton"}},
		{"underscore is not a wildcard", "p_h", []string{"Shop_Hoa"}},
		{"no match", "zzz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := e.client.Customer.Query().Where(customer.SearchPredicate(tt.query)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("search %q = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}
