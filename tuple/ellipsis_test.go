package tuple

import (
	"strings"
	"testing"
)

// TestEllipsisSubject: SpiceDB's explicit "no relation" subject "type:id#..."
// is the plain subject, in relationships and subjects alike, and prints
// without the ellipsis.
func TestEllipsisSubject(t *testing.T) {
	rels := []struct{ in, want string }{
		{"doc:1#reader@user:tom#...", "doc:1#reader@user:tom"},
		{"doc:1#reader@user:tom#...[cav]", "doc:1#reader@user:tom[cav]"},
		{`doc:1#reader@user:tom#...[cav:{"a":1}][expiration:2030-01-01T00:00:00Z]`, `doc:1#reader@user:tom[cav:{"a":1}][expiration:2030-01-01T00:00:00Z]`},
		{"foo/bar/doc:1#reader@foo/bar/user:tom#...", "foo/bar/doc:1#reader@foo/bar/user:tom"},
	}
	for _, tt := range rels {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if r.Subject.Relation != "" {
				t.Errorf("got subject relation %q, want none", r.Subject.Relation)
			}
			if plain := MustParse(tt.want); r.Ident() != plain.Ident() {
				t.Errorf("got identity %v, want the plain subject's %v", r.Ident(), plain.Ident())
			}
		})
	}
	s, err := ParseSubject("user:tom#...")
	if err != nil || s != (SubjectRef{Type: "user", ID: "tom"}) {
		t.Errorf("ParseSubject(user:tom#...) = %v, %v; want user:tom", s, err)
	}
	if s, err := ParseSubject("user:*#..."); err != nil || !s.IsWildcard() || s.Relation != "" {
		t.Errorf("ParseSubject(user:*#...) = %v, %v; want the wildcard user:*", s, err)
	}
	for _, bad := range []string{"user:tom#..", "user:tom#....", "user:tom#...#member"} {
		if _, err := Parse("doc:1#reader@" + bad); err == nil {
			t.Errorf("Parse(doc:1#reader@%s): got no error, want one", bad)
		}
	}
	if _, err := Parse("doc:1#...@user:tom"); err == nil {
		t.Errorf("Parse(doc:1#...@user:tom): got no error; the resource relation cannot be the ellipsis")
	}
}

// TestEllipsisInAStructuredSubject: a SubjectRef built with Relation "..."
// (not parsed) is refused with a message saying what it means, so no
// relationship is ever stored under "...".
func TestEllipsisInAStructuredSubject(t *testing.T) {
	err := ValidateSubject(SubjectRef{Type: "user", ID: "tom", Relation: Ellipsis})
	if err == nil || !strings.Contains(err.Error(), "plain subject user:tom") {
		t.Errorf("got %v, want an error naming the plain subject user:tom", err)
	}
}

func TestEllipsisFilter(t *testing.T) {
	e := Ellipsis
	f := Filter{ResourceType: "doc", Subject: &SubjectFilter{Type: "team", ID: "ml", Relation: &e}}
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate: got %v, want none", err)
	}
	plain, set := MustParse("doc:1#reader@team:ml"), MustParse("doc:1#reader@team:ml#member")
	if !f.Matches(plain) || f.Matches(set) {
		t.Errorf("got Matches(plain)=%v Matches(set)=%v, want true, false", f.Matches(plain), f.Matches(set))
	}
	n := f.Normalize()
	if n.Subject.Relation == nil || *n.Subject.Relation != "" {
		t.Errorf("Normalize: got subject relation %v, want a pointer to \"\"", n.Subject.Relation)
	}
	if *f.Subject.Relation != Ellipsis {
		t.Errorf("Normalize modified its receiver: relation is now %q", *f.Subject.Relation)
	}
}
