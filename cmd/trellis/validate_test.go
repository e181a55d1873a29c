package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/validation"
)

var exampleDir = filepath.Join("..", "..", "examples", "ai-governance")

func TestValidateExample(t *testing.T) {
	path := filepath.Join(exampleDir, "policy.yaml")
	code, out, errOut := run(t, "validate", path)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; output:\n%s%s", code, out, errOut)
	}
	f, err := validation.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Assertions); n < 40 {
		t.Errorf("got %d assertions in the example, want at least 40", n)
	}
	want := fmt.Sprintf("%s: ok (%d assertions, %d validation entries)\n", path, len(f.Assertions), len(f.Expected))
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestExampleRelationshipsMatch keeps policy.yaml and relationships.txt (the
// file the README's curl examples load into a server) telling one story.
func TestExampleRelationshipsMatch(t *testing.T) {
	txt, err := os.ReadFile(filepath.Join(exampleDir, "relationships.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := validation.ParseFile(filepath.Join(exampleDir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fromTxt, err := validation.ParseRelationships("relationships.txt", string(txt))
	if err != nil {
		t.Fatal(err)
	}
	if len(fromTxt) != len(f.Relationships) {
		t.Fatalf("got %d relationships in relationships.txt and %d in policy.yaml, want the same", len(fromTxt), len(f.Relationships))
	}
	for i := range fromTxt {
		if a, b := fromTxt[i].Rel.String(), f.Relationships[i].Rel.String(); a != b {
			t.Errorf("relationship %d: relationships.txt line %d has %s, policy.yaml line %d has %s", i, fromTxt[i].Line, a, f.Relationships[i].Line, b)
		}
	}
	// Comments too: the block is the file, indented.
	data, err := os.ReadFile(filepath.Join(exampleDir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var indented strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(txt), "\n"), "\n") {
		if l != "" {
			indented.WriteString("  " + l)
		}
		indented.WriteString("\n")
	}
	if !strings.Contains(string(data), "relationships: |-\n"+indented.String()) {
		t.Errorf("policy.yaml's relationships block is not relationships.txt indented by two spaces")
	}
}

// copyExample copies the example to a temporary directory, applying edit to
// the schema, and returns the policy file's path there.
func copyExample(t *testing.T, editSchema func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"policy.yaml", "schema.zed"} {
		data, err := os.ReadFile(filepath.Join(exampleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "schema.zed" && editSchema != nil {
			data = []byte(editSchema(string(data)))
		}
		writeFile(t, dir, name, string(data))
	}
	return filepath.Join(dir, "policy.yaml")
}

func lineOf(t *testing.T, path, text string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", text, path)
	return 0
}

// TestValidateCatchesOneOperator flips one operator of the example schema
// (blocked identities subtracted from dataset readers become added to them)
// and checks validation fails and says where and why.
func TestValidateCatchesOneOperator(t *testing.T) {
	const from = "permission read = (reader + trainer + steward + project->admin + emergency_reader) - denied"
	path := copyExample(t, func(s string) string {
		if !strings.Contains(s, from) {
			t.Fatalf("the example schema no longer has %q; update this test", from)
		}
		return strings.Replace(s, from, strings.Replace(from, ") - denied", ") + denied", 1), 1)
	})
	code, out, _ := run(t, "validate", path)
	if code != 1 {
		t.Fatalf("got exit %d, want 1; output:\n%s", code, out)
	}
	line := lineOf(t, path, "- dataset:claims#read@user:ben")
	for _, want := range []string{
		fmt.Sprintf("%s:%d: assertFalse dataset:claims#read@user:ben\n    expected: denied\n    got:      allowed\n", path, line),
		"      check dataset:claims#read for user:ben: allowed\n        union: allowed\n",
		"via team:ml#member for user:ben: allowed [dataset:claims#reader@team:ml#member]",
		fmt.Sprintf("%s:%d: validation dataset:claims#read does not match", path, lineOf(t, path, "  dataset:claims#read:")),
		"    + [user:ben] is <dataset:claims#blocked>/<team:ml#member>    (computed, not expected)",
		"FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got output:\n%s\nwant it to contain %q", out, want)
		}
	}
}

const failing = `schema: |-
  definition user {}
  definition document {
    relation reader: user
    permission view = reader
  }
relationships: |-
  document:plan#reader@user:fred
assertions:
  assertTrue:
    - document:plan#view@user:fred
    - document:plan#view@user:tom
`

func TestValidateFailingAssertion(t *testing.T) {
	path := writeFile(t, t.TempDir(), "p.yaml", failing)
	code, out, errOut := run(t, "validate", path)
	if code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	want := path + `:12: assertTrue document:plan#view@user:tom
    expected: allowed
    got:      denied
    trace:
      check document:plan#view for user:tom: denied
        check document:plan#reader for user:tom: denied
          relation document:plan#reader for user:tom: denied
` + path + ": FAILED: 1 failure of 2\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("got stderr %q, want none", errOut)
	}
}

func TestValidateMalformed(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "schema: x\nrelationships: |-\n  document:plan#reader\n")
	badRel := writeFile(t, dir, "rel.yaml", strings.Replace(failing, "document:plan#reader@user:fred", "document:plan#writer@user:fred", 1))
	good := writeFile(t, dir, "good.yaml", strings.Replace(failing, "    - document:plan#view@user:tom\n", "", 1))
	code, out, errOut := run(t, "validate", bad, badRel, good)
	if code != 2 {
		t.Fatalf("got exit %d, want 2", code)
	}
	for _, want := range []string{bad + ":3: ", badRel + ":8: relationship document:plan#writer@user:fred"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("got stderr %q, want it to contain %q", errOut, want)
		}
	}
	if want := good + ": ok (1 assertion, 0 validation entries)\n"; out != want {
		t.Errorf("got stdout %q, want the good file still run: %q", out, want)
	}
	code, _, errOut = run(t, "validate", filepath.Join(dir, "missing.yaml"))
	if code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: got exit %d, %q; want 2 naming the file", code, errOut)
	}
}

func TestValidateGlobAndUsage(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", failing)
	b := writeFile(t, dir, "b.yaml", strings.Replace(failing, "    - document:plan#view@user:tom\n", "", 1))
	code, out, _ := run(t, "validate", filepath.Join(dir, "*.yaml"))
	if code != 1 {
		t.Errorf("got exit %d, want 1", code)
	}
	if !strings.Contains(out, a+": FAILED") || !strings.Contains(out, b+": ok") {
		t.Errorf("got %q, want both files of the glob run", out)
	}
	for _, args := range [][]string{
		{"validate"},
		{"validate", filepath.Join(dir, "*.json")},
		{"validate", "--update", "--against", "http://127.0.0.1:1", a},
	} {
		if code, _, errOut := run(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: got exit %d, %q; want 2 and a message", args, code, errOut)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	path := writeFile(t, t.TempDir(), "p.yaml", failing)
	code, out, _ := run(t, "validate", "--json", path)
	if code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	var reports []validation.Report
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(reports) != 1 || reports[0].Passed || reports[0].Failures != 1 || len(reports[0].Assertions) != 2 {
		t.Fatalf("got %+v, want one failed report with two assertions", reports)
	}
	a := reports[0].Assertions[1]
	if a.Passed || a.Line != 12 || a.Want != "allowed" || a.Got != "denied" || a.Trace == nil || a.Trace.Kind != "check" {
		t.Errorf("got %+v, want the failed assertion with its trace", a)
	}
}

// TestValidateUpdate regenerates the example's validation block from scratch
// and gets the committed file back; a second run changes nothing.
func TestValidateUpdate(t *testing.T) {
	path := copyExample(t, nil)
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Empty every entry of the block.
	var stale strings.Builder
	inBlock := false
	for _, l := range strings.SplitAfter(string(committed), "\n") {
		switch {
		case strings.HasPrefix(l, "validation:"):
			inBlock = true
		case inBlock && strings.HasPrefix(l, "    - "):
			continue
		case inBlock && strings.HasSuffix(l, ":\n"):
			l = strings.TrimSuffix(l, "\n") + " []\n"
		}
		stale.WriteString(l)
	}
	writeFile(t, filepath.Dir(path), "policy.yaml", stale.String())
	if code, out, _ := run(t, "validate", path); code != 1 {
		t.Fatalf("stale block: got exit %d, want 1\n%s", code, out)
	}
	code, out, errOut := run(t, "validate", "--update", path)
	if code != 0 {
		t.Fatalf("got exit %d, want 0\n%s%s", code, out, errOut)
	}
	once, _ := os.ReadFile(path)
	if string(once) != string(committed) {
		t.Errorf("--update did not give back the committed file; got\n%s", once)
	}
	if code, _, _ := run(t, "validate", "--update", path); code != 0 {
		t.Fatalf("second --update: got exit %d", code)
	}
	twice, _ := os.ReadFile(path)
	if string(twice) != string(once) {
		t.Errorf("second --update changed the file")
	}
}
