package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const diffOld = `definition user {}
caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}
definition team {
  relation member: user
}
definition dataset {
  relation reader: user | team#member
  relation blocked: user
  permission read = reader - blocked
}
`

func TestSchemaDiff(t *testing.T) {
	dir := t.TempDir()
	old := writeFile(t, dir, "old.zed", diffOld)
	tests := []struct {
		name string
		new  string
		code int
		want []string
	}{
		{"same", diffOld, 0, []string{"no changes\n"}},
		{"added permission and relation", strings.Replace(diffOld, "  permission read", "  relation steward: user\n  permission curate = steward\n  permission read", 1), 0, []string{
			"relation added dataset#steward: relation dataset#steward was added, allowing user\n",
			"permission added dataset#curate: permission dataset#curate = steward was added\n",
			"2 changes, none breaking\n",
		}},
		{"expression changed", strings.Replace(diffOld, "reader - blocked", "reader + blocked", 1), 0, []string{
			`ACCESS permission changed dataset#read: permission dataset#read changed from "reader - blocked" to "reader + blocked"`,
			"1 change, none breaking\n",
		}},
		{"subject type removed", strings.Replace(diffOld, "user | team#member", "user", 1), 2, []string{
			"BREAKING subject type removed dataset#reader: dataset#reader no longer allows team#member",
			"1 change, 1 breaking\n",
		}},
		{"relation and definition removed", strings.Replace(strings.Replace(diffOld, "  relation blocked: user\n", "", 1), "reader - blocked", "reader", 1), 2, []string{
			"BREAKING relation removed dataset#blocked",
			"ACCESS permission changed dataset#read",
		}},
		{"caveat parameter retyped and added", strings.Replace(diffOld, "purpose_is(purpose string, allowed list<string>)", "purpose_is(purpose string, allowed map<string>, tier string)", 1), 2, []string{
			"BREAKING caveat parameter type changed caveat purpose_is(allowed)",
			"ACCESS caveat parameter added caveat purpose_is(tier)",
		}},
		{"caveat removed", strings.Replace(diffOld, "caveat purpose_is(purpose string, allowed list<string>) {\n  purpose in allowed\n}\n", "", 1), 2, []string{
			"BREAKING caveat removed caveat purpose_is",
		}},
		{"new schema does not compile (team still used)", strings.Replace(diffOld, "definition team {\n  relation member: user\n}\n", "definition group {\n  relation member: user\n}\n", 1), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := writeFile(t, dir, "new.zed", tt.new)
			code, out, errOut := run(t, "schema", "diff", old, next)
			if code != tt.code {
				t.Fatalf("got exit %d, want %d; output:\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got\n%s\nwant it to contain %q", out, w)
				}
			}
		})
	}
}

func TestSchemaDiffDefinitionsAndJSON(t *testing.T) {
	dir := t.TempDir()
	old := writeFile(t, dir, "old.zed", "definition user {}\ndefinition team {\n  relation member: user\n}\n")
	next := writeFile(t, dir, "new.zed", "use expiration\ndefinition user {}\ndefinition group {\n  relation member: user with expiration\n}\n")
	code, out, _ := run(t, "schema", "diff", "--json", old, next)
	if code != 2 {
		t.Fatalf("got exit %d, want 2 (a definition was removed)", code)
	}
	var rep struct {
		Changes []struct {
			Kind     string `json:"kind"`
			Path     string `json:"path"`
			Breaking bool   `json:"breaking"`
		} `json:"changes"`
		Breaking int `json:"breaking"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, c := range rep.Changes {
		got[c.Kind+" "+c.Path] = c.Breaking
	}
	want := map[string]bool{"expiration enabled use expiration": false, "definition added group": false, "definition removed team": true}
	for k, b := range want {
		if v, ok := got[k]; !ok || v != b {
			t.Errorf("got changes %v, want %q with breaking=%v", got, k, b)
		}
	}
	if rep.Breaking != 1 {
		t.Errorf("got %d breaking, want 1", rep.Breaking)
	}
}

// TestSchemaDiffExample: the example against itself has no changes, and
// against a copy with one relation dropped has a breaking one.
func TestSchemaDiffExample(t *testing.T) {
	path := filepath.Join(exampleDir, "schema.zed")
	if code, out, _ := run(t, "schema", "diff", path, path); code != 0 || out != "no changes\n" {
		t.Errorf("got %d %q, want 0 and no changes", code, out)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const line = "\trelation emergency_runner: user with break_glass and expiration\n"
	if !strings.Contains(string(src), line) {
		t.Fatalf("example schema no longer has %q; update this test", line)
	}
	next := writeFile(t, t.TempDir(), "schema.zed", strings.Replace(strings.Replace(string(src), line, "", 1), " + emergency_runner)", ")", 1))
	code, out, _ := run(t, "schema", "diff", path, next)
	if code != 2 || !strings.Contains(out, "BREAKING relation removed model#emergency_runner") || !strings.Contains(out, "ACCESS permission changed model#run") {
		t.Errorf("got %d\n%s\nwant exit 2 with the removed relation and the changed permission", code, out)
	}
}

func TestSchemaDiffErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.zed", "definition user {}\n")
	bad := writeFile(t, dir, "bad.zed", threeErrors)
	if code, _, errOut := run(t, "schema", "diff", good); code != 2 || !strings.Contains(errOut, "two schema files") {
		t.Errorf("one argument: got %d %q, want 2", code, errOut)
	}
	code, _, errOut := run(t, "schema", "diff", good, bad)
	if code != 1 || !strings.Contains(errOut, bad+":3:20: error: unknown type \"usr\"") {
		t.Errorf("bad schema: got %d %q, want 1 and the positioned error", code, errOut)
	}
	if code, _, errOut := run(t, "schema", "diff", good, filepath.Join(dir, "none.zed")); code != 1 || !strings.Contains(errOut, "none.zed") {
		t.Errorf("missing file: got %d %q, want 1", code, errOut)
	}
}
