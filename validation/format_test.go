package validation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fullFile = `schema: |-
  definition user {}
  definition document {
    relation reader: user | user:* | user with expiration
    permission view = reader
  }
relationships: |-
  // a comment line

  document:plan#reader@user:tom
  document:plan#reader@user:eve[expiration:2099-01-01T00:00:00Z]
assertions:
  assertTrue:
    - document:plan#view@user:tom
    - 'document:plan#view@user:ana with {"purpose": "eval"}'
  assertFalse:
    - document:plan#view@user:fred
  assertCaveated:
    - document:plan#view@user:sam
validation:
  document:plan#view:
    - "[user:tom] is <document:plan#reader>"
    - "[user:sam[...]] is <document:plan#reader>/<document:other#writer>"
    - "[user:* - {user:bob, user:eve[...]}] is <document:plan#reader>"
    - "[team:ml#member]"
  document:empty#view: []
`

// TestParseEveryField pins what each key of the format becomes, and the line
// each element remembers.
func TestParseEveryField(t *testing.T) {
	f, err := Parse("p.yaml", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Schema, "definition user {}") || f.SchemaLine != 2 {
		t.Errorf("got schema line %d, text %q; want line 2 and the schema", f.SchemaLine, f.Schema)
	}
	if len(f.Relationships) != 2 {
		t.Fatalf("got %d relationships, want 2 (comment and blank lines skipped)", len(f.Relationships))
	}
	if got := f.Relationships[0]; got.Line != 10 || got.Rel.String() != "document:plan#reader@user:tom" {
		t.Errorf("got %s at line %d, want document:plan#reader@user:tom at line 10", got.Rel, got.Line)
	}
	exp := f.Relationships[1].Rel.Expiration
	if exp == nil || !exp.Equal(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)) || f.Relationships[1].Line != 11 {
		t.Errorf("got expiration %v at line %d, want 2099-01-01 at line 11", exp, f.Relationships[1].Line)
	}
	type want struct {
		kind AssertionKind
		line int
		ctx  bool
	}
	wants := []want{{AssertTrue, 14, false}, {AssertTrue, 15, true}, {AssertFalse, 17, false}, {AssertCaveated, 19, false}}
	if len(f.Assertions) != len(wants) {
		t.Fatalf("got %d assertions, want %d", len(f.Assertions), len(wants))
	}
	for i, w := range wants {
		a := f.Assertions[i]
		if a.Kind != w.kind || a.Line != w.line || (a.Context != nil) != w.ctx {
			t.Errorf("assertion %d: got %s line %d context %v, want %s line %d context %v", i, a.Kind, a.Line, a.Context, w.kind, w.line, w.ctx)
		}
	}
	if got := f.Assertions[1].Context["purpose"]; got != "eval" {
		t.Errorf("got context purpose %v, want eval", got)
	}
	if len(f.Expected) != 2 {
		t.Fatalf("got %d validation keys, want 2", len(f.Expected))
	}
	e := f.Expected[0]
	if e.Line != 21 || e.Resource.String() != "document:plan" || e.Permission != "view" || len(e.Subjects) != 4 {
		t.Fatalf("got key %s#%s at line %d with %d subjects, want document:plan#view at 21 with 4", e.Resource, e.Permission, e.Line, len(e.Subjects))
	}
	if s := e.Subjects[1]; !s.Conditional || len(s.Sources) != 2 || s.Line != 23 {
		t.Errorf("got %+v, want a conditional subject with two sources at line 23", s)
	}
	w := e.Subjects[2]
	if !w.Subject.IsWildcard() || len(w.Excluded) != 2 || w.Excluded[0].Conditional || !w.Excluded[1].Conditional {
		t.Errorf("got %+v, want a wildcard excluding bob and, conditionally, eve", w)
	}
	if s := e.Subjects[3]; s.Subject.Relation != "member" || len(s.Sources) != 0 {
		t.Errorf("got %+v, want the subject set team:ml#member without sources", s)
	}
	for _, s := range e.Subjects {
		if got := s.String(); got != s.Text {
			t.Errorf("String() = %q, want the text as written %q", got, s.Text)
		}
	}
	if len(f.Expected[1].Subjects) != 0 {
		t.Errorf("got %d subjects for an empty list, want 0", len(f.Expected[1].Subjects))
	}
}

// TestParseMalformed checks that every problem is reported with the line it
// is on.
func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // each must appear, with its line
	}{
		{"not yaml", "schema: [\n", []string{"p.yaml:1: not valid YAML"}},
		{"not a mapping", "- a\n- b\n", []string{"p.yaml:1: a policy file is a YAML mapping"}},
		{"no schema", "relationships: ''\n", []string{"p.yaml:1: no schema"}},
		{"both schemas", "schema: x\nschemaFile: y.zed\n", []string{"give schema or schemaFile, not both"}},
		{"unknown key", "schema: x\nrelationship: ''\n", []string{`p.yaml:2: unknown key "relationship"`}},
		{"schema not a string", "schema:\n  - a\n", []string{"p.yaml:2: schema must be a string"}},
		{"bad relationship", "schema: x\nrelationships: |-\n  document:plan#reader@user:tom\n  document:plan#reader\n", []string{"p.yaml:4:"}},
		{"bad expiration", "schema: x\nrelationships: |-\n  document:plan#reader@user:tom[expiration:tomorrow]\n", []string{"p.yaml:3:"}},
		{"unknown assertion list", "schema: x\nassertions:\n  assertMaybe:\n    - a:b#c@d:e\n", []string{`p.yaml:3: unknown assertion list "assertMaybe"`}},
		{"assertions not a map", "schema: x\nassertions: [a]\n", []string{"p.yaml:2: assertions must be a mapping"}},
		{"list not a list", "schema: x\nassertions:\n  assertTrue: document:plan#view@user:tom\n", []string{"p.yaml:3: assertTrue must be a list"}},
		{"bad assertion", "schema: x\nassertions:\n  assertTrue:\n    - document:plan#view@user:tom\n    - document:plan@user:tom\n", []string{"p.yaml:5: assertTrue"}},
		{"bad context", "schema: x\nassertions:\n  assertFalse:\n    - 'document:plan#view@user:tom with {nope}'\n", []string{"p.yaml:4:", "context after 'with'"}},
		{"caveat in assertion", "schema: x\nassertions:\n  assertTrue:\n    - document:plan#view@user:tom[cav]\n", []string{"p.yaml:4:", "takes no caveat"}},
		{"bad validation key", "schema: x\nvalidation:\n  document:plan: []\n", []string{`p.yaml:3: validation key "document:plan"`}},
		{"validation not a list", "schema: x\nvalidation:\n  document:plan#view: x\n", []string{"p.yaml:3: validation \"document:plan#view\" must be a list"}},
		{"no bracket", "schema: x\nvalidation:\n  document:plan#view:\n    - user:tom\n", []string{"p.yaml:4:", "expected '['"}},
		{"unclosed", "schema: x\nvalidation:\n  document:plan#view:\n    - '[user:tom'\n", []string{"p.yaml:4:", "missing ']'"}},
		{"exclusion of non-wildcard", "schema: x\nvalidation:\n  document:plan#view:\n    - '[user:tom - {user:bob}]'\n", []string{"p.yaml:4:", "only a wildcard"}},
		{"bad source", "schema: x\nvalidation:\n  document:plan#view:\n    - '[user:tom] is document:plan#reader'\n", []string{"p.yaml:4:", "<type:id#relation>"}},
		{"junk after subject", "schema: x\nvalidation:\n  document:plan#view:\n    - '[user:tom] was <document:plan#reader>'\n", []string{"p.yaml:4:", "expected \"is <type:id#relation>\""}},
		{"several errors", "schema: x\nrelationships: |-\n  bad\nassertions:\n  assertTrue:\n    - bad\n", []string{"p.yaml:3:", "p.yaml:6:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.text))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("got %T, want an ErrorList", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err.Error(), w)
				}
			}
		})
	}
}

func TestParseFileSchemaFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.zed"), []byte("definition user {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte("schemaFile: s.zed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Schema != "definition user {}\n" || f.SchemaLine != 0 {
		t.Errorf("got schema %q line %d, want the file's text relative to the policy file and line 0", f.Schema, f.SchemaLine)
	}
	if err := os.WriteFile(p, []byte("schemaFile: missing.zed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(p); err == nil || !strings.Contains(err.Error(), `schemaFile "missing.zed"`) {
		t.Errorf("got %v, want the missing schemaFile named", err)
	}
}

// FuzzExpectedSubject: ParseExpectedSubject never panics, and what it
// accepts formats back to a line that parses to the same subject.
func FuzzExpectedSubject(f *testing.F) {
	for _, seed := range []string{
		"[user:tom] is <document:plan#writer>",
		"[user:sam[...]] is <document:plan#reader>/<document:other#writer>",
		"[user:* - {user:bob, user:eve[...]}] is <document:plan#reader>",
		"[team:ml#member]",
		"[user:* - {}]",
		"[[user:a]]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseExpectedSubject(line)
		if err != nil {
			return
		}
		again, err := ParseExpectedSubject(s.String())
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", line, s.String(), err)
		}
		if again.String() != s.String() {
			t.Fatalf("%q: got %q after a round trip, want %q", line, again.String(), s.String())
		}
	})
}
