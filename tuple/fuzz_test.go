package tuple

import "testing"

// FuzzParseRelationship checks that Parse never panics and that the canonical
// string of anything it accepts parses back to an equal relationship with the
// same canonical string.
func FuzzParseRelationship(f *testing.F) {
	for _, s := range []string{
		"document:plan#viewer@user:tom",
		"dataset:claims#reader@team:ml#member",
		"dataset:claims#reader@user:*",
		`dataset:claims#reader@user:ana[purpose_is:{"allowed":["fraud-model"]}]`,
		"dataset:claims#reader@user:bob[expiration:2027-01-01T00:00:00Z]",
		"dataset:claims#reader@user:eve[purpose_is][expiration:2027-01-01T00:00:00Z]",
		"acme/emea/doc:A-z_0|9=+/x#reader@acme/user:b",
		`doc:a#reader@user:b[cav:{"a":[1.5,true,null,"]"],"b":{"c":1e10}}]`,
		"doc:a#reader@user:b[expiration:2027-01-01T02:00:00.123456789+02:00]",
		"doc:a#reader@user:*#member",
		"doc:a#reader@user:b[cav][cav]",
		"doc:a#reader@user:b#...",
		"doc:a#reader@user:*#...[cav]",
		"_x_/foo/bar/doc:a#_rel@foo/bar/user:b#...[foo/bar/only_on_tuesday]",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse accepted %q but Validate says %v", s, err)
		}
		out := r.String()
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("String of %q is %q, which does not parse: %v", s, out, err)
		}
		if !r2.Equal(r) {
			t.Fatalf("round trip of %q: got %s, want %s", s, r2, r)
		}
		if out2 := r2.String(); out2 != out {
			t.Fatalf("String is not stable: %q then %q", out, out2)
		}
	})
}
