package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/schema/syntax"
)

// run executes the trellis command in-process and returns its exit code and
// output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	code = execute(cmd, args)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSchemaCheckExample(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "ai-governance", "schema.zed")
	code, out, errOut := run(t, "schema", "check", path)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, errOut)
	}
	if want := path + ": ok (9 definitions, 3 caveats)\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if errOut != "" {
		t.Errorf("got stderr %q, want none (no warnings in the example)", errOut)
	}
}

const threeErrors = `definition user {}
definition dataset {
  relation reader: usr
  relation owner: user with nothing_here
  permission read = reader + stewart
}
`

func TestSchemaCheckReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.zed", threeErrors)
	code, out, errOut := run(t, "schema", "check", path)
	if code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	if out != "" {
		t.Errorf("got stdout %q, want none", out)
	}
	for _, want := range []string{
		path + `:3:20: error: unknown type "usr"`,
		"      relation reader: usr\n                       ^",
		path + `:4:29: error: unknown caveat "nothing_here"`,
		path + `:5:30: error: unknown relation or permission "stewart"`,
		path + ": 3 errors\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("got stderr:\n%s\nwant it to contain %q", errOut, want)
		}
	}
	if n := strings.Count(errOut, ": error: "); n != 3 {
		t.Errorf("got %d errors printed, want 3", n)
	}
}

func TestSchemaCheckSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.zed", "definition user {}\ncaveat is_ok(flag bool) { flag }\n")
	warn := writeFile(t, dir, "warn.zed", "definition user {}\ndefinition doc {\n  permission never = nil\n}\n")
	bad := writeFile(t, dir, "bad.zed", threeErrors)
	code, out, errOut := run(t, "schema", "check", good, bad, warn, filepath.Join(dir, "missing.zed"))
	if code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	wantOut := good + ": ok (1 definition, 1 caveat)\n" + warn + ": ok (2 definitions, 0 caveats), 1 warning\n"
	if out != wantOut {
		t.Errorf("got stdout %q, want %q", out, wantOut)
	}
	if !strings.Contains(errOut, warn+":3:22: warning: permission doc#never can never grant") {
		t.Errorf("got stderr %q, want the warning", errOut)
	}
	if !regexp.MustCompile(`missing\.zed: open .*no such file`).MatchString(errOut) {
		t.Errorf("got stderr %q, want the missing file reported", errOut)
	}

	code, _, _ = run(t, "schema", "check", warn)
	if code != 0 {
		t.Errorf("warnings only: got exit %d, want 0", code)
	}
}

func TestSchemaCheckUsage(t *testing.T) {
	code, _, errOut := run(t, "schema", "check")
	if code != 2 {
		t.Errorf("got exit %d, want 2", code)
	}
	if !strings.Contains(errOut, "requires at least 1 arg") {
		t.Errorf("got %q, want the missing-argument message", errOut)
	}
	code, _, errOut = run(t, "schema", "check", "--nope", "x.zed")
	if code != 2 || !strings.Contains(errOut, "unknown flag: --nope") {
		t.Errorf("got exit %d, %q; want 2 and the unknown flag", code, errOut)
	}
}

const messy = "definition user {}\ndefinition doc {\nrelation reader: user\n    permission view = (reader)\n}\n"

func TestSchemaFmtPrints(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "messy.zed", messy)
	code, out, errOut := run(t, "schema", "fmt", path)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr %s", code, errOut)
	}
	f, _ := syntax.Parse(path, []byte(messy))
	if want := string(syntax.Format(f)); out != want {
		t.Errorf("got %q, want the formatter's output %q", out, want)
	}
	if out == messy {
		t.Errorf("got the input back unchanged; the fixture should need formatting")
	}
	if got, _ := os.ReadFile(path); string(got) != messy {
		t.Errorf("fmt without -w changed the file")
	}
}

func TestSchemaFmtWrite(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "messy.zed", messy)
	f, _ := syntax.Parse(path, []byte(messy))
	formatted := syntax.Format(f)
	tidy := writeFile(t, dir, "tidy.zed", string(formatted))
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(tidy, old, old); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, "schema", "fmt", "-w", path, tidy)
	if code != 0 {
		t.Fatalf("got exit %d, want 0; stderr %s", code, errOut)
	}
	if want := path + ": formatted\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, formatted) {
		t.Errorf("got file %q, want %q", got, formatted)
	}
	info, err := os.Stat(tidy)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(old) {
		t.Errorf("got mtime %v for an already formatted file, want it untouched (%v)", info.ModTime(), old)
	}
}

func TestSchemaFmtRefusesSyntaxErrors(t *testing.T) {
	dir := t.TempDir()
	src := "definition doc {\n  relation : user\n}\n"
	path := writeFile(t, dir, "broken.zed", src)
	code, out, errOut := run(t, "schema", "fmt", "-w", path)
	if code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	if out != "" {
		t.Errorf("got stdout %q, want none", out)
	}
	if !strings.Contains(errOut, path+":2:") || !strings.Contains(errOut, "not formatted") {
		t.Errorf("got stderr %q, want the positioned syntax error and 'not formatted'", errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != src {
		t.Errorf("fmt -w changed a file with errors")
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "--version")
	if code != 0 || !strings.Contains(out, "trellis version "+version) {
		t.Errorf("got %d %q, want the version", code, out)
	}
}
