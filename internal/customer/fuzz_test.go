package customer_test

import (
	"testing"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/customer"
)

// FuzzImport: any text an admin uploads is imported row by row or refused
// as a whole with BAD_USER_INPUT; no input makes Import fail otherwise or
// panic, and no row is both imported and reported.
func FuzzImport(f *testing.F) {
	for _, s := range []string{
		"name,phone,email,tags\nNguyễn Văn An,0912345678,an@example.vn,vip;hà nội\n",
		"Name,Phone,Gender,Birthday,Stage,Score,DoNotContact\nChị Lan,0162 812 3456,nữ,1990-02-30,LEAD,abc,có\n",
		"name\n\"unterminated\n",
		"phone\n0912345678\n",
		"name,name\nA,B\n",
		"\ufeffname,unknown\nA,B\n",
		"name,tags\nA," + ";;;" + "\n=cmd|' /C calc'!A0,x\n",
		"", "\n\n", "name",
	} {
		f.Add(s)
	}
	e := newEnv(f)
	ctx := asOwner(e.org)
	f.Fuzz(func(t *testing.T, csvText string) {
		res, err := customer.Import(ctx, e.client, csvText)
		if err != nil {
			if code := apierr.CodeOf(err); code != apierr.BadUserInput {
				t.Fatalf("Import(%q): %v (code %s), want BAD_USER_INPUT or a result", csvText, err, code)
			}
			return
		}
		seen := map[int]bool{}
		for _, re := range res.Errors {
			if re.Line < 2 || seen[re.Line] {
				t.Fatalf("Import(%q): error line %d (errors %+v)", csvText, re.Line, res.Errors)
			}
			seen[re.Line] = true
		}
	})
}
