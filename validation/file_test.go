package validation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `schema: |-
  definition user {}
  definition document {
    relation reader: user
    permission view = reader
  }
relationships: |-
  document:plan#reader@user:tom

  // a comment
  document:plan#reader@user:ana[on_net:{"net":"corp"}]
assertions:
  assertTrue:
    - document:plan#view@user:tom
    - 'document:plan#view@user:ana with {"net": "corp", "n": 2}'
  assertFalse:
    - document:plan#view@user:bob
  assertCaveated:
    - document:plan#view@team:ml#member
validation:
  document:plan#view:
    - "[user:tom] is <document:plan#reader>"
    - "[user:ana[...]] is <document:plan#reader>/<folder:f#viewer>"
    - "[user:* - {user:bob, user:eve[...]}] is <document:plan#reader>"
    - "[team:ml#member]"
  document:other#view: []
`

func TestFileParseSample(t *testing.T) {
	f, err := Parse("sample.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if f.SchemaLine != 2 || !strings.HasPrefix(f.Schema, "definition user {}") {
		t.Errorf("schema: got line %d text %q", f.SchemaLine, f.Schema)
	}
	var rels []string
	for _, r := range f.Relationships {
		rels = append(rels, fmt.Sprintf("%d %s", r.Line, r.Rel))
	}
	if got, want := strings.Join(rels, "; "), `8 document:plan#reader@user:tom; 11 document:plan#reader@user:ana[on_net:{"net":"corp"}]`; got != want {
		t.Errorf("relationships: got %s, want %s", got, want)
	}
	var as []string
	for _, a := range f.Assertions {
		as = append(as, fmt.Sprintf("%d %s %s#%s@%s %v", a.Line, a.Kind, a.Resource, a.Permission, a.Subject, a.Context))
	}
	want := []string{
		"14 assertTrue document:plan#view@user:tom map[]",
		"15 assertTrue document:plan#view@user:ana map[n:2 net:corp]",
		"17 assertFalse document:plan#view@user:bob map[]",
		"19 assertCaveated document:plan#view@team:ml#member map[]",
	}
	if got := strings.Join(as, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("assertions:\ngot  %s\nwant %s", got, strings.Join(want, "\n"))
	}
	if len(f.Expected) != 2 {
		t.Fatalf("expected relations: got %d, want 2", len(f.Expected))
	}
	er := f.Expected[0]
	if er.Resource.String() != "document:plan" || er.Permission != "view" || er.Line != 21 || len(er.Subjects) != 4 {
		t.Fatalf("expected relation: got %+v", er)
	}
	var subs []string
	for _, s := range er.Subjects {
		subs = append(subs, fmt.Sprintf("%d %s", s.Line, s.String()))
	}
	wantSubs := []string{
		"22 [user:tom] is <document:plan#reader>",
		"23 [user:ana[...]] is <document:plan#reader>/<folder:f#viewer>",
		"24 [user:* - {user:bob, user:eve[...]}] is <document:plan#reader>",
		"25 [team:ml#member]",
	}
	if got := strings.Join(subs, "\n"); got != strings.Join(wantSubs, "\n") {
		t.Errorf("expected subjects:\ngot  %s\nwant %s", got, strings.Join(wantSubs, "\n"))
	}
	if !er.Subjects[1].Conditional || len(er.Subjects[2].Excluded) != 2 || !er.Subjects[2].Excluded[1].Conditional {
		t.Errorf("markers: got %+v", er.Subjects)
	}
	if len(f.Expected[1].Subjects) != 0 {
		t.Errorf("empty expectation: got %v", f.Expected[1].Subjects)
	}
}

func TestFileParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"bad yaml", "schema: [\n", 1, "not valid YAML"},
		{"no schema", "relationships: ''\n", 1, "no schema"},
		{"both schemas", "schema: x\nschemaFile: y\n", 1, "not both"},
		{"unknown key", "schema: x\nfoo: 1\n", 2, `unknown key "foo"`},
		{"bad relationship", "schema: x\nrelationships: |-\n  document:a#reader@user:b\n  document:a#reader\n", 4, "missing '@subject'"},
		{"bad assertion", "schema: x\nassertions:\n  assertTrue:\n    - document:a#view\n", 4, "assertTrue"},
		{"assertion with caveat", "schema: x\nassertions:\n  assertFalse:\n    - document:a#view@user:b[cav]\n", 4, "no caveat"},
		{"bad context", "schema: x\nassertions:\n  assertTrue:\n    - 'document:a#view@user:b with {oops'\n", 4, "context after 'with'"},
		{"unknown list", "schema: x\nassertions:\n  assertMaybe: []\n", 3, "assertMaybe"},
		{"bad validation key", "schema: x\nvalidation:\n  document:a: []\n", 3, "type:id#relation"},
		{"bad subject", "schema: x\nvalidation:\n  document:a#view:\n    - user:tom\n", 4, "expected '['"},
		{"unclosed", "schema: x\nvalidation:\n  document:a#view:\n    - '[user:tom'\n", 4, "missing ']'"},
		{"exclusion on non-wildcard", "schema: x\nvalidation:\n  document:a#view:\n    - '[user:tom - {user:bob}]'\n", 4, "only a wildcard"},
		{"bad source", "schema: x\nvalidation:\n  document:a#view:\n    - '[user:tom] is document:a#reader'\n", 4, "<type:id#relation>"},
		{"trailing junk", "schema: x\nvalidation:\n  document:a#view:\n    - '[user:tom] because'\n", 4, "expected \"is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("got %v, want an ErrorList", err)
			}
			if list[0].Line != tt.line || !strings.Contains(list[0].Msg, tt.want) {
				t.Errorf("got %q at line %d, want %q at line %d", list[0].Msg, list[0].Line, tt.want, tt.line)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("p.yaml:%d: ", tt.line)) {
				t.Errorf("got %q, want it to start with the file and line", err.Error())
			}
		})
	}
}

func TestFileSchemaFileResolution(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.zed"), []byte("definition user {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte("schemaFile: ./s.zed\nassertions:\n  assertFalse:\n    - user:aaa#xyz@user:bbb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Schema != "definition user {}\n" || f.SchemaFile != "./s.zed" {
		t.Errorf("got schema %q from %q", f.Schema, f.SchemaFile)
	}
	if err := os.WriteFile(p, []byte("schemaFile: ./missing.zed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(p); err == nil || !strings.Contains(err.Error(), "missing.zed") {
		t.Errorf("missing schema file: got %v, want an error naming it", err)
	}
}

// TestExpectedSubjectRoundTrip: String and ParseExpectedSubject agree.
func TestExpectedSubjectRoundTrip(t *testing.T) {
	for _, s := range []string{
		"[user:tom]",
		"[user:tom] is <document:a#reader>",
		"[user:ana[...]] is <document:a#reader>/<folder:f#viewer>",
		"[user:* - {user:bob}]",
		"[user:*[...] - {user:bob[...], user:eve}] is <document:a#reader>",
		"[team:ml#member] is <document:a#reader>",
	} {
		es, err := ParseExpectedSubject(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := es.String(); got != s {
			t.Errorf("got %s, want %s", got, s)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("schema: x\nvalidation:\n  document:a#view:\n    - '[user:* - {user:bob[...]}] is <a:b#c>'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			return
		}
		for _, er := range file.Expected {
			for _, s := range er.Subjects {
				again, err := ParseExpectedSubject(s.String())
				if err != nil || again.String() != s.String() {
					t.Fatalf("round trip of %q: got %q, %v", s.String(), again.String(), err)
				}
			}
		}
	})
}

func ExampleParseExpectedSubject() {
	s, _ := ParseExpectedSubject("[user:* - {user:bob}] is <document:plan#reader>")
	fmt.Println(s.Subject, s.Excluded[0].Subject, s.Sources[0])
	// Output: user:* user:bob <document:plan#reader>
}
