package gid

import "testing"

// FuzzTypeOf: a string is either refused or is an ID of a known type,
// with a canonical ULID, that a fresh ID of that type has the prefix of.
func FuzzTypeOf(f *testing.F) {
	f.Add(string(New("Customer")))
	f.Add("cus_01JD3Q2V5Z8N4M7K1P6R9T0W2X")
	f.Add("cus_")
	f.Add("_01JD3Q2V5Z8N4M7K1P6R9T0W2X")
	f.Add("xyz_01JD3Q2V5Z8N4M7K1P6R9T0W2X")
	f.Add("cus_01jd3q2v5z8n4m7k1p6r9t0w2x")
	f.Add("cus_01JD3Q2V5Z8N4M7K1P6R9T0W2X\x00")
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := TypeOf(ID(s))
		if err != nil {
			return
		}
		p := Prefix(typ)
		if len(s) != len(p)+1+26 || s[:len(p)+1] != p+"_" {
			t.Fatalf("TypeOf(%q) = %s, whose prefix is %q", s, typ, p)
		}
	})
}
