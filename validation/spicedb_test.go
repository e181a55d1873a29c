package validation

import (
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
