package tuple

import (
	"strings"
	"testing"
)

// TestPrefixedCaveatNames: caveat names take "prefix/" segments like type
// names (SpiceDB's foo/bar/only_on_tuesday), in relationship strings and in
// Validate, under the same per-segment and total limits.
func TestPrefixedCaveatNames(t *testing.T) {
	in := `foo/bar/doc:1#reader@foo/bar/user:tom[foo/bar/only_on_tuesday:{"day":"tuesday"}]`
	r, err := Parse(in)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if r.Caveat.Name != "foo/bar/only_on_tuesday" || r.Resource.Type != "foo/bar/doc" || r.Subject.Type != "foo/bar/user" {
		t.Errorf("got %+v, want the three prefixed names kept whole", r)
	}
	if r.String() != in {
		t.Errorf("got %s, want %s", r.String(), in)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: got %v, want none", err)
	}
	for _, tt := range []struct{ name, want string }{
		{"foo//bar", "segment"},
		{"foo/bar/", "segment"},
		{"/bar", "segment"},
		{"Foo/bar", "lowercase"},
		{"ab/only", "3 to 64"},
		{strings.Repeat("abc/", 32) + "abc", "at most 128"},
	} {
		err := ValidateCaveatName(tt.name)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateCaveatName(%q): got %v, want an error containing %q", tt.name, err, tt.want)
		}
		if _, err := Parse("doc:1#reader@user:tom[" + tt.name + "]"); err == nil {
			t.Errorf("Parse with caveat %q: got no error, want one", tt.name)
		}
	}
	for _, ok := range []string{"a1c/b2c/c3c/d4c/only_on_tuesday", "abc"} {
		if err := ValidateCaveatName(ok); err != nil {
			t.Errorf("ValidateCaveatName(%q): got %v, want none", ok, err)
		}
	}
}
