package validation

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// mustPass runs text and fails the test with the report unless every
// assertion and expected relation passed; it returns the report.
func mustPass(t *testing.T, text string) *Report {
	t.Helper()
	rep := runText(t, text, Options{})
	if !rep.Passed {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("got failures:\n%s", b.String())
	}
	return rep
}

// TestEllipsisEverywhere: "type:id#..." is the plain subject in
// relationships, assertions, expected subjects, exclusions and sources.
func TestEllipsisEverywhere(t *testing.T) {
	text := `schema: |-
  definition user {}
  definition team {
    relation member: user
  }
  definition doc {
    relation reader: user | user:* | team#member
    relation banned: user
    permission view = reader - banned
  }
relationships: |-
  doc:1#reader@user:tom#...
  doc:2#reader@user:*#...
  doc:2#banned@user:eve#...
  team:a#member@user:ann
  doc:1#reader@team:a#member
assertions:
  assertTrue:
    - doc:1#view@user:tom#...
    - doc:1#view@user:ann#...
  assertFalse:
    - doc:2#view@user:eve#...
validation:
  doc:1#view:
    - "[user:tom#...] is <doc:1#reader>"
    - "[user:ann] is <team:a#member>"
    - "[team:a#member] is <doc:1#reader>"
  doc:2#view:
    - "[user:*#... - {user:eve#...}] is <doc:2#reader>"
`
	f, err := Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Relationships[0].Rel.String(); got != "doc:1#reader@user:tom" {
		t.Errorf("relationship: got %s, want the plain form doc:1#reader@user:tom", got)
	}
	if got := f.Expected[0].Subjects[0].String(); got != "[user:tom] is <doc:1#reader>" {
		t.Errorf("expected subject: got %s, want the plain form", got)
	}
	rep := mustPass(t, text)
	if len(rep.Assertions) != 3 || len(rep.Expected) != 2 {
		t.Errorf("got %d assertions and %d expected relations, want 3 and 2", len(rep.Assertions), len(rep.Expected))
	}
}

// TestPrefixedNames: definitions and caveats with several prefix segments
// work in the schema, relationships, assertions and expected relations.
func TestPrefixedNames(t *testing.T) {
	mustPass(t, `schema: |-
  definition foo/bar/user {}
  caveat foo/bar/only_on_tuesday(day string) {
    day == "tuesday"
  }
  definition foo/bar/baz/doc {
    relation reader: foo/bar/user | foo/bar/user with foo/bar/only_on_tuesday
    permission view = reader
  }
relationships: |-
  foo/bar/baz/doc:1#reader@foo/bar/user:tom
  foo/bar/baz/doc:1#reader@foo/bar/user:sam[foo/bar/only_on_tuesday]
assertions:
  assertTrue:
    - foo/bar/baz/doc:1#view@foo/bar/user:tom
    - 'foo/bar/baz/doc:1#view@foo/bar/user:sam with {"day": "tuesday"}'
  assertFalse:
    - 'foo/bar/baz/doc:1#view@foo/bar/user:sam with {"day": "monday"}'
  assertCaveated:
    - foo/bar/baz/doc:1#view@foo/bar/user:sam
validation:
  foo/bar/baz/doc:1#view:
    - "[foo/bar/user:tom] is <foo/bar/baz/doc:1#reader>"
    - "[foo/bar/user:sam[...]] is <foo/bar/baz/doc:1#reader>"
`)
}

const nullsSchema = `schema: |-
  definition user {}
  definition doc {
    relation reader: user
    permission view = reader
  }
`

// TestNullBlocks: zed reads a null or empty block as absent, at the top
// level and inside assertions and validation.
func TestNullBlocks(t *testing.T) {
	for name, tail := range map[string]string{
		"null":           "relationships: null\nassertions: null\nvalidation: null\n",
		"tilde":          "relationships: ~\nassertions: ~\nvalidation: ~\n",
		"empty":          "relationships:\nassertions:\nvalidation:\n",
		"quoted empty":   "relationships: ''\n",
		"null lists":     "assertions:\n  assertTrue: null\n  assertFalse: ~\n  assertCaveated:\n",
		"null expected":  "validation:\n  doc:1#view: null\n",
		"empty expected": "validation:\n  doc:1#view: ~\n  doc:2#view:\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse("p.yaml", []byte(nullsSchema+tail))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(f.Relationships) != 0 || len(f.Assertions) != 0 {
				t.Errorf("got %d relationships and %d assertions, want none", len(f.Relationships), len(f.Assertions))
			}
			for _, e := range f.Expected {
				if len(e.Subjects) != 0 {
					t.Errorf("%s: got subjects %v, want none", e.Resource, e.Subjects)
				}
			}
			mustPass(t, nullsSchema+tail)
		})
	}
}

// TestRelationshipsBlockForms: every YAML style zed reads the relationships
// string in, with comments and blank lines, gives the same relationships,
// each with the file line it is on.
func TestRelationshipsBlockForms(t *testing.T) {
	want := []string{"doc:1#reader@user:tom", "doc:1#reader@user:tomas", "doc:2#reader@user:ann"}
	for _, tt := range []struct {
		name, block string
		lines       []int // file lines of want, the schema taking lines 1-6
	}{
		{"literal", "relationships: |\n  doc:1#reader@user:tom\n  doc:1#reader@user:tomas\n  doc:2#reader@user:ann\n", []int{8, 9, 10}},
		{"literal strip", "relationships: |-\n  // readers\n  doc:1#reader@user:tom\n\n  doc:1#reader@user:tomas\n    // indented comment\n  doc:2#reader@user:ann\n", []int{9, 11, 13}},
		{"folded with blank lines", "relationships: >-\n  doc:1#reader@user:tom\n\n  doc:1#reader@user:tomas\n\n  // a comment\n\n  doc:2#reader@user:ann\n", []int{8, 10, 14}},
		{"folded keep", "relationships: >+\n  doc:1#reader@user:tom\n\n  doc:1#reader@user:tomas\n\n  doc:2#reader@user:ann\n\n", []int{8, 10, 12}},
		{"double quoted", `relationships: "doc:1#reader@user:tom\ndoc:1#reader@user:tomas\n\ndoc:2#reader@user:ann"` + "\n", []int{7, 7, 7}},
		{"key before schema", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := nullsSchema + tt.block
			if tt.block == "" {
				// zed does not care where the schema key is.
				text = "relationships: |-\n  doc:1#reader@user:tom\n  doc:1#reader@user:tomas\n  doc:2#reader@user:ann\n" + nullsSchema
				tt.lines = []int{2, 3, 4}
			}
			f, err := Parse("p.yaml", []byte(text))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			var got []string
			var lines []int
			for _, r := range f.Relationships {
				got = append(got, r.Rel.String())
				lines = append(lines, r.Line)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("got %v, want %v", got, want)
			}
			if len(lines) != len(tt.lines) || fmt.Sprint(lines) != fmt.Sprint(tt.lines) {
				t.Errorf("got lines %v, want %v", lines, tt.lines)
			}
		})
	}
	// A bad relationship in a folded block is reported at its own line.
	_, err := Parse("p.yaml", []byte(nullsSchema+"relationships: >-\n  doc:1#reader@user:tom\n\n  doc:1#reader\n"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:10:") {
		t.Errorf("got %v, want an error at p.yaml:10", err)
	}
	// So is a repeated one, as zed refuses it too.
	rep, err := Run(context.Background(), mustParse(t, nullsSchema+"relationships: >-\n  doc:1#reader@user:tom\n\n  doc:1#reader@user:tom\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "p.yaml:10:") {
		t.Errorf("repeated relationship: got %v, %v; want an error at p.yaml:10", rep, err)
	}
}

func mustParse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPrivateNames: SpiceDB's leading-underscore names for definitions,
// relations and permissions.
func TestPrivateNames(t *testing.T) {
	mustPass(t, `schema: |-
  definition user {}
  definition _internal/doc {
    relation viewer: user
    relation _internal_viewer: user
    permission _can_view = viewer + _internal_viewer
    permission view = _can_view
  }
relationships: |-
  _internal/doc:1#_internal_viewer@user:tom
assertions:
  assertTrue:
    - _internal/doc:1#view@user:tom
    - _internal/doc:1#_can_view@user:tom
  assertFalse:
    - _internal/doc:1#view@user:ann
`)
}
