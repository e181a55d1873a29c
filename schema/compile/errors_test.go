package compile_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
)

// expectRx finds the inline expectations of testdata/errors/*.zed:
// /* ERROR "rx" */, /* WARNING "rx" */, and // ERROR "rx" inside CEL bodies.
var expectRx = regexp.MustCompile(`(?:/\*|//) (ERROR|WARNING) "((?:[^"\\]|\\.)*)"`)

type expectation struct {
	line int
	sev  syntax.Severity
	rx   *regexp.Regexp
	used bool
}

func parseExpectations(t *testing.T, src string) []*expectation {
	t.Helper()
	var out []*expectation
	for i, line := range strings.Split(src, "\n") {
		for _, m := range expectRx.FindAllStringSubmatch(line, -1) {
			rx, err := regexp.Compile(strings.ReplaceAll(m[2], `\"`, `"`))
			if err != nil {
				t.Fatalf("line %d: bad expectation regexp %q: %v", i+1, m[2], err)
			}
			sev := syntax.SeverityError
			if m[1] == "WARNING" {
				sev = syntax.SeverityWarning
			}
			out = append(out, &expectation{line: i + 1, sev: sev, rx: rx})
		}
	}
	return out
}

func sevName(s syntax.Severity) string {
	if s == syntax.SeverityWarning {
		return "WARNING"
	}
	return "ERROR"
}

// TestErrors compiles every file in testdata/errors and checks that each
// expected error or warning is reported on its line, and nothing else is.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.zed")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("got %d error test files, want at least 30", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := parseExpectations(t, string(src))
			if len(want) == 0 {
				t.Fatalf("%s has no expectations", file)
			}
			s, got := compile.CompileText(file, string(src))
			hasErr := false
			for _, w := range want {
				hasErr = hasErr || w.sev == syntax.SeverityError
			}
			if hasErr != (s == nil) {
				t.Errorf("got schema nil = %v, want %v", s == nil, hasErr)
			}
			for _, e := range got {
				if e.File != file {
					t.Errorf("got file %q in %v, want %q", e.File, e, file)
				}
				if e.Source == "" {
					t.Errorf("got no source line in %v", e)
				}
				matched := false
				for _, w := range want {
					if !w.used && w.line == e.Pos.Line && w.sev == e.Severity && w.rx.MatchString(e.Msg) {
						w.used, matched = true, true
						break
					}
				}
				if !matched {
					t.Errorf("unexpected %s at %d:%d: %s", sevName(e.Severity), e.Pos.Line, e.Pos.Col, e.Msg)
				}
			}
			for _, w := range want {
				if !w.used {
					t.Errorf("line %d: missing %s matching %q", w.line, sevName(w.sev), w.rx)
				}
			}
		})
	}
}

func regexpMatch(rx, s string) bool { return regexp.MustCompile(rx).MatchString(s) }

func contains(s, sub string) bool           { return strings.Contains(s, sub) }
func replaceOnce(s, old, new string) string { return strings.Replace(s, old, new, 1) }
