package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const customerFields = `id name phone email stage score doNotContact customFields owner { id } tags { name }`

type customerOut struct {
	ID, Name     string
	Phone, Email *string
	Stage        string
	Score        int
	DoNotContact bool
	CustomFields map[string]any
	Owner        *struct{ ID string }
	Tags         []struct{ Name string }
}

func TestCustomerCRUD(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("CRM Org")
	var tag struct{ CreateTag struct{ ID string } }
	e.must(tn.agentToken, `mutation { createTag(input: {name: "vip"}) { id } }`, nil, &tag)
	e.must(tn.ownerToken, `mutation { createCustomField(input: {key: "cmnd", label: "CMND", type: TEXT}) { id } }`, nil, nil)

	var created struct{ CreateCustomer customerOut }
	e.must(tn.agentToken, `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { `+customerFields+` } }`, map[string]any{"in": map[string]any{
		"name": "  Nguyễn Văn Đạt ", "phone": "0162 812 3456", "email": "Dat@Example.VN",
		"stage": "CONTACT", "ownerID": tn.agentID, "tagIDs": []string{tag.CreateTag.ID},
		"customFields": map[string]any{"cmnd": "012345678"},
	}}, &created)
	c := created.CreateCustomer
	if c.Name != "Nguyễn Văn Đạt" || *c.Phone != "+84328123456" || *c.Email != "dat@example.vn" ||
		c.Stage != "CONTACT" || c.Owner.ID != tn.agentID || len(c.Tags) != 1 || c.CustomFields["cmnd"] != "012345678" {
		t.Fatalf("created %+v", c)
	}

	update := `mutation($id: ID!, $in: UpdateCustomerInput!) { updateCustomer(id: $id, input: $in) { ` + customerFields + ` } }`
	for _, tc := range []struct {
		name  string
		in    map[string]any
		code  string
		field string
	}{
		{"ErrPhone", map[string]any{"phone": "12ab"}, "BAD_USER_INPUT", "phone"},
		{"ErrEmail", map[string]any{"email": "not an email"}, "BAD_USER_INPUT", "email"},
		{"ErrEmptyName", map[string]any{"name": ""}, "BAD_USER_INPUT", "name"},
		{"ErrUnknownCustomField", map[string]any{"customFields": map[string]any{"nope": 1}}, "BAD_USER_INPUT", "customFields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.gql(tn.agentToken, update, map[string]any{"id": c.ID, "in": tc.in})
			if r.code() != tc.code || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %+v", r.Errors)
			}
		})
	}
	t.Run("ErrDuplicatePhone", func(t *testing.T) {
		r := e.gql(tn.agentToken, `mutation { createCustomer(input: {name: "Dup", phone: "+84 328 123 456"}) { id } }`, nil)
		if r.code() != "CONFLICT" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("Update", func(t *testing.T) {
		var out struct{ UpdateCustomer customerOut }
		e.must(tn.agentToken, update, map[string]any{"id": c.ID, "in": map[string]any{"doNotContact": true, "score": 7, "clearTags": true}}, &out)
		if !out.UpdateCustomer.DoNotContact || out.UpdateCustomer.Score != 7 || len(out.UpdateCustomer.Tags) != 0 {
			t.Fatalf("updated %+v", out.UpdateCustomer)
		}
	})
	t.Run("AgentCannotDelete", func(t *testing.T) {
		if r := e.gql(tn.agentToken, `mutation($id: ID!) { deleteCustomer(id: $id) }`, map[string]any{"id": c.ID}); r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("AdminDeletes", func(t *testing.T) {
		e.must(tn.adminToken, `mutation($id: ID!) { deleteCustomer(id: $id) }`, map[string]any{"id": c.ID}, nil)
		if r := e.gql(tn.adminToken, `mutation($id: ID!) { deleteCustomer(id: $id) }`, map[string]any{"id": c.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("second delete: %+v", r.Errors)
		}
	})
}

func TestCustomerSearchAndFilters(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Search Org")
	var tag struct{ CreateTag struct{ ID string } }
	e.must(tn.ownerToken, `mutation { createTag(input: {name: "vip"}) { id } }`, nil, &tag)
	vip := []string{tag.CreateTag.ID}
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Nguyễn Văn A", "phone": "0912345678", "tagIDs": vip, "ownerID": tn.agentID})
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Trần Thị Đào", "email": "dao.tran@shop.vn", "stage": "CUSTOMER"})
	e.createCustomer(tn.ownerToken, map[string]any{"name": "NGUYỄN THỊ BÍCH", "phone": "0987654321", "tagIDs": vip})
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Lê Đức Anh"})

	names := func(token, args string, vars map[string]any) []string {
		t.Helper()
		var out struct {
			Customers struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		e.must(token, `query($s: String, $w: CustomerWhereInput) { customers(`+args+`, orderBy: [{field: NAME}]) { edges { node { name } } } }`, vars, &out)
		var got []string
		for _, edge := range out.Customers.Edges {
			got = append(got, edge.Node.Name)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		vars map[string]any
		want string
	}{
		{"DiacriticsIgnored", map[string]any{"s": "nguyen van a"}, "Nguyễn Văn A"},
		{"CaseIgnored", map[string]any{"s": "NGUYEN"}, "NGUYỄN THỊ BÍCH,Nguyễn Văn A"},
		{"DStroke", map[string]any{"s": "dao"}, "Trần Thị Đào"},
		{"DStrokeInQuery", map[string]any{"s": "Đức"}, "Lê Đức Anh"},
		{"TermsInAnyOrder", map[string]any{"s": "a van"}, "Nguyễn Văn A"},
		{"PhoneNational", map[string]any{"s": "0912 345 678"}, "Nguyễn Văn A"},
		{"PhoneInternational", map[string]any{"s": "+84987654321"}, "NGUYỄN THỊ BÍCH"},
		{"Email", map[string]any{"s": "dao.tran@"}, "Trần Thị Đào"},
		{"NoMatch", map[string]any{"s": "zzz"}, ""},
		{"FilterByTag", map[string]any{"w": map[string]any{"hasTagsWith": []any{map[string]any{"name": "vip"}}}}, "NGUYỄN THỊ BÍCH,Nguyễn Văn A"},
		{"FilterByStage", map[string]any{"w": map[string]any{"stage": "CUSTOMER"}}, "Trần Thị Đào"},
		{"FilterByOwner", map[string]any{"w": map[string]any{"hasOwnerWith": []any{map[string]any{"id": tn.agentID}}}}, "Nguyễn Văn A"},
		{"SearchAndFilter", map[string]any{"s": "nguyen", "w": map[string]any{"hasTags": true}}, "NGUYỄN THỊ BÍCH,Nguyễn Văn A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(names(tn.agentToken, "search: $s, where: $w", tc.vars), ","); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Page Org")
	for i := 0; i < 105; i++ {
		e.createCustomer(tn.ownerToken, map[string]any{"name": fmt.Sprintf("Khách %03d", i)})
	}
	t.Run("ErrFirstAbove100", func(t *testing.T) {
		r := e.gql(tn.ownerToken, `{ customers(first: 101) { totalCount } }`, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "first" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("ErrLastAbove100", func(t *testing.T) {
		if r := e.gql(tn.ownerToken, `{ customers(last: 500) { totalCount } }`, nil); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("DefaultPageIs100", func(t *testing.T) {
		var out struct {
			Customers struct {
				TotalCount int
				Edges      []struct{ Cursor string }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		e.must(tn.ownerToken, `{ customers { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }`, nil, &out)
		if out.Customers.TotalCount != 105 || len(out.Customers.Edges) != 100 || !out.Customers.PageInfo.HasNextPage {
			t.Fatalf("got %d edges of %d", len(out.Customers.Edges), out.Customers.TotalCount)
		}
		var next struct {
			Customers struct{ Edges []struct{ Cursor string } }
		}
		e.must(tn.ownerToken, `query($a: Cursor) { customers(first: 10, after: $a) { edges { cursor } } }`, map[string]any{"a": out.Customers.PageInfo.EndCursor}, &next)
		if len(next.Customers.Edges) != 5 {
			t.Fatalf("second page has %d edges", len(next.Customers.Edges))
		}
	})
	t.Run("ErrBadCursor", func(t *testing.T) {
		if r := e.gql(tn.ownerToken, `{ customers(first: 10, after: "garbage") { totalCount } }`, nil); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
}

func TestImportExportMerge(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Import Org")
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Cũ", "phone": "0912000111"})
	csvText := "name,phone,email,tags,stage\n" +
		"Nguyễn Văn A,0912 345 678,a@shop.vn,vip;zalo,LEAD\n" +
		",0912000222,,,\n" + // line 3: no name
		"Cũ Đã Sửa,+84912000111,,vip,CUSTOMER\n" + // updates the existing customer
		"Bad Phone,12345,,,\n" + // line 5
		"\"Hai\nDòng\",0912000333,,,\n" + // a quoted field over lines 6-7
		"Bad Email,,nope,,\n" // line 8
	var out struct {
		ImportCustomers struct {
			Imported, Updated int
			Errors            []struct {
				Line    int
				Message string
			}
		}
	}
	t.Run("AgentCannotImport", func(t *testing.T) {
		if r := e.gql(tn.agentToken, `mutation($c: String!) { importCustomers(csv: $c) { imported } }`, map[string]any{"c": csvText}); r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	e.must(tn.adminToken, `mutation($c: String!) { importCustomers(csv: $c) { imported updated errors { line message } } }`, map[string]any{"c": csvText}, &out)
	res := out.ImportCustomers
	var lines []int
	for _, er := range res.Errors {
		lines = append(lines, er.Line)
	}
	if res.Imported != 2 || res.Updated != 1 || fmt.Sprint(lines) != "[3 5 8]" {
		t.Fatalf("import = %+v", res)
	}

	t.Run("ErrUnknownColumn", func(t *testing.T) {
		r := e.gql(tn.adminToken, `mutation($c: String!) { importCustomers(csv: $c) { imported } }`, map[string]any{"c": "name,shoe_size\nA,42\n"})
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "csv" {
			t.Fatalf("got %+v", r.Errors)
		}
	})

	var exp struct{ ExportCustomers string }
	e.must(tn.adminToken, `{ exportCustomers }`, nil, &exp)
	rows, err := csv.NewReader(strings.NewReader(exp.ExportCustomers)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][1] != "name" {
		t.Fatalf("export has %d rows: %q", len(rows), rows)
	}
	t.Run("AgentCannotExport", func(t *testing.T) {
		if r := e.gql(tn.agentToken, `{ exportCustomers }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("got %+v", r.Errors)
		}
	})

	t.Run("Merge", func(t *testing.T) {
		var list struct {
			Customers struct{ Edges []struct{ Node customerOut } }
		}
		e.must(tn.ownerToken, `{ customers(orderBy: [{field: NAME}]) { edges { node { `+customerFields+` } } } }`, nil, &list)
		byName := map[string]customerOut{}
		for _, edge := range list.Customers.Edges {
			byName[edge.Node.Name] = edge.Node
		}
		src, dst := byName["Nguyễn Văn A"], byName["Cũ Đã Sửa"]
		var merged struct{ MergeCustomers customerOut }
		e.must(tn.adminToken, `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { `+customerFields+` } }`,
			map[string]any{"s": src.ID, "t": dst.ID}, &merged)
		m := merged.MergeCustomers
		if m.ID != dst.ID || *m.Phone != "+84912000111" || m.Email == nil || *m.Email != "a@shop.vn" || len(m.Tags) != 2 {
			t.Fatalf("merged %+v", m)
		}
		if r := e.gql(tn.ownerToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": src.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("source still there: %s", r.Data)
		}
		if r := e.gql(tn.agentToken, `mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) { id } }`,
			map[string]any{"s": byName["Hai\nDòng"].ID, "t": dst.ID}); r.code() != "FORBIDDEN" {
			t.Fatalf("agent merge: %+v", r.Errors)
		}
	})
}

func TestExportDownload(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Download Org")
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Nguyễn Văn A", "stage": "CUSTOMER"})
	e.createCustomer(tn.ownerToken, map[string]any{"name": "Trần Thị B"})
	get := func(token, query string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/customers.csv?"+query, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		name, token, query string
		status             int
		rows               int
	}{
		{"OK", tn.adminToken, "", 200, 3},
		{"Search", tn.apiKey, "search=nguyen", 200, 2},
		{"Where", tn.adminToken, "where=" + url.QueryEscape(`{"stage":"CUSTOMER"}`), 200, 2},
		{"ErrBadWhere", tn.adminToken, "where=%7B", 400, 0},
		{"ErrAgent", tn.agentToken, "", 403, 0},
		{"ErrAnonymous", "", "", 401, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(tc.token, tc.query)
			if status != tc.status {
				t.Fatalf("status %d: %s", status, body)
			}
			if tc.rows > 0 {
				rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
				if err != nil || len(rows) != tc.rows {
					t.Fatalf("%d rows (%v): %q", len(rows), err, body)
				}
			}
		})
	}
}
