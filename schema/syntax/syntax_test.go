package syntax

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// equalIgnoringPos reports whether two files have the same tree, positions aside.
func equalIgnoringPos(a, b *File) bool { return dump(a, false) == dump(b, false) }

// checkRoundTrip asserts the formatter's two promises for a parsed file: the
// output parses to the same tree, and formatting it again changes nothing.
func checkRoundTrip(t *testing.T, name string, f *File) []byte {
	t.Helper()
	out := Format(f)
	g, errs := Parse(name, out)
	if errs != nil {
		t.Fatalf("formatted output does not parse: %v\n%s", errs, out)
	}
	if !equalIgnoringPos(f, g) {
		t.Fatalf("formatted output parses to a different tree:\ngot:\n%s\nwant:\n%s\nformatted:\n%s", dump(g, false), dump(f, false), out)
	}
	if again := Format(g); !bytes.Equal(again, out) {
		t.Fatalf("formatting is not idempotent:\nfirst:\n%s\nsecond:\n%s", out, again)
	}
	return out
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update after checking):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.zed")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.zed files (%v)", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, errs := Parse(filepath.Base(path), src)
			if errs != nil {
				t.Fatalf("unexpected errors:\n%v", errs)
			}
			base := strings.TrimSuffix(path, ".zed")
			golden(t, base+".ast.golden", []byte(Dump(f)))
			out := checkRoundTrip(t, filepath.Base(path), f)
			golden(t, base+".fmt.golden", out)
		})
	}
}

var errorComment = regexp.MustCompile(`^/\* (ERROR|ERRORNEXT) "((?:[^"\\]|\\.)*)" \*/$`)

type wantError struct {
	pos Pos
	rx  *regexp.Regexp
}

// expectedErrors lexes src and collects its /* ERROR "rx" */ comments. An ERROR
// comment expects an error at the token just before it; ERRORNEXT at the token
// just after it (for errors found on the next line or at end of file).
func expectedErrors(t *testing.T, src []byte) []wantError {
	t.Helper()
	var s scanner
	s.init(src, nil)
	var want []wantError
	var prev Pos
	var next []*regexp.Regexp
	for {
		tok, pos, lit := s.scan()
		if tok == COMMENT {
			if m := errorComment.FindStringSubmatch(lit); m != nil {
				rx, err := regexp.Compile(strings.ReplaceAll(m[2], `\"`, `"`))
				if err != nil {
					t.Fatalf("%d:%d: bad ERROR regexp: %v", pos.Line, pos.Col, err)
				}
				if m[1] == "ERROR" {
					want = append(want, wantError{prev, rx})
				} else {
					next = append(next, rx)
				}
				continue
			}
		}
		for _, rx := range next {
			want = append(want, wantError{pos, rx})
		}
		next = nil
		if tok == EOF {
			return want
		}
		prev = pos
	}
}

func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.zed")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/errors/*.zed files (%v)", err)
	}
	total := 0
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, src)
			if len(want) == 0 {
				t.Fatal("file has no ERROR comments")
			}
			total += len(want)
			_, errs := Parse(path, src)
			used := make([]bool, len(errs))
			for _, w := range want {
				found := false
				for i, e := range errs {
					if !used[i] && e.Pos.Line == w.pos.Line && e.Pos.Col == w.pos.Col && w.rx.MatchString(e.Msg) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					var near []string
					for _, e := range errs {
						if e.Pos.Line == w.pos.Line {
							near = append(near, fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg))
						}
					}
					t.Errorf("%d:%d: got no error matching %q; errors on that line: %q", w.pos.Line, w.pos.Col, w.rx, near)
				}
			}
			for i, e := range errs {
				if !used[i] {
					t.Errorf("unexpected error %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
				}
			}
		})
	}
	if total < 20 {
		t.Errorf("got %d expected errors in testdata/errors, want at least 20", total)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a + b - c", "((a + b) - c)"},
		{"a - b + c", "(a - (b + c))"},
		{"a - b - c", "((a - b) - c)"},
		{"a & b + c", "(a & (b + c))"},
		{"a + b & c", "((a + b) & c)"},
		{"a + b + c", "((a + b) + c)"},
		{"a & b & c", "((a & b) & c)"},
		{"a - b & c", "(a - (b & c))"},
		{"a & b - c", "((a & b) - c)"},
		{"a - b & c + d", "(a - (b & (c + d)))"},
		{"a + b & c - d", "(((a + b) & c) - d)"},
		{"a - (b - c)", "(a - (b - c))"},
		{"(a - b) + c", "((a - b) + c)"},
		{"a + (b + c)", "(a + (b + c))"},
		{"p->x + y", "(p->x + y)"},
		{"x - p.all(y) & p.any(z)", "(x - (p.all(y) & p.any(z)))"},
		{"nil + a", "(nil + a)"},
		{"((a))", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			src := "definition d {\n\tpermission p = " + tt.in + "\n}\n"
			f, errs := Parse("p.zed", []byte(src))
			if errs != nil {
				t.Fatal(errs)
			}
			e := f.Items[0].(*Definition).Members[0].(*Permission).Expr
			if got := fullParen(e); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			checkRoundTrip(t, "p.zed", f)
		})
	}
}

// fullParen writes an expression with every binary node in parentheses.
func fullParen(e Expr) string {
	switch e := e.(type) {
	case *Binary:
		op := map[BinaryOp]string{OpUnion: "+", OpIntersection: "&", OpExclusion: "-"}[e.Op]
		return "(" + fullParen(e.X) + " " + op + " " + fullParen(e.Y) + ")"
	case *Ident:
		return e.Name
	case *Arrow:
		return arrowString(e)
	case *Nil:
		return "nil"
	}
	return fmt.Sprintf("?%T", e)
}

func TestFormatExprParens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(a + b) - c", "(a + b) - c"},
		{"a + b - c", "(a + b) - c"},
		{"a - (b + c)", "a - (b + c)"},
		{"a - b + c", "a - (b + c)"},
		{"a - (b - c)", "a - (b - c)"},
		{"a - b - c", "a - b - c"},
		{"(a + b) + c", "a + b + c"},
		{"a + (b + c)", "a + (b + c)"},
		{"(a & b) + c", "(a & b) + c"},
		{"a & b + c", "a & (b + c)"},
		{"(a - b) & c", "(a - b) & c"},
		{"(p->x)", "p->x"},
		{"p->x + q.all(y) - z", "(p->x + q.all(y)) - z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, errs := Parse("p.zed", []byte("definition d { permission p = "+tt.in+" }"))
			if errs != nil {
				t.Fatal(errs)
			}
			e := f.Items[0].(*Definition).Members[0].(*Permission).Expr
			if got := FormatExpr(e); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestThreeErrorsReportedSorted(t *testing.T) {
	src := "definition user {}\n" +
		"definition doc {\n" +
		"\trelation owner = user\n" + // error 1: 3:17
		"\tpermission view: owner\n" + // error 2: 4:17
		"\tpermission edit = owner->a->b\n" + // error 3: 5:28
		"}\n"
	_, errs := Parse("three.zed", []byte(src))
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3:\n%v", len(errs), errs)
	}
	want := []struct {
		line, col int
		msg       string
	}{
		{3, 17, `expected ':' after relation name "owner", found '='`},
		{4, 17, `expected '=' after permission name "view", found ':'`},
		{5, 28, `chained arrows are not supported`},
	}
	for i, w := range want {
		e := errs[i]
		if e.Pos.Line != w.line || e.Pos.Col != w.col {
			t.Errorf("error %d at %d:%d, want %d:%d", i, e.Pos.Line, e.Pos.Col, w.line, w.col)
		}
		if !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d: got %q, want it to contain %q", i, e.Msg, w.msg)
		}
		if e.File != "three.zed" {
			t.Errorf("error %d: got file %q, want three.zed", i, e.File)
		}
		lines := strings.Split(e.Error(), "\n")
		if len(lines) != 3 {
			t.Fatalf("error %d prints %d lines, want 3 (message, source, caret):\n%s", i, len(lines), e.Error())
		}
		srcLine := strings.Split(src, "\n")[w.line-1]
		if got, want := lines[1], "    "+strings.ReplaceAll(srcLine, "\t", " "); got != want {
			t.Errorf("error %d source line: got %q, want %q", i, got, want)
		}
		if got, want := lines[2], "    "+strings.Repeat(" ", w.col-1)+"^"; got != want {
			t.Errorf("error %d caret line: got %q, want %q", i, got, want)
		}
		if !strings.HasPrefix(lines[0], fmt.Sprintf("three.zed:%d:%d: error: ", w.line, w.col)) {
			t.Errorf("error %d header: got %q", i, lines[0])
		}
	}
	if errs.Err() == nil {
		t.Error("got nil from ErrorList.Err, want the list")
	}
}

func TestDocText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/** one line */", "one line"},
		{"/**\n * a\n *\n * b\n */", "a\n\nb"},
		{"/** * star */", "* star"},
		{"/**\n   no stars\n   here\n*/", "no stars\nhere"},
		{"/** */", ""},
	}
	for _, tt := range tests {
		if got := docText(tt.in); got != tt.want {
			t.Errorf("docText(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCaveatExprPos(t *testing.T) {
	src := "caveat c(a int) {\n  \n   a > {\"}\": 1}[\"}\"]  \n}\n"
	f, errs := Parse("c.zed", []byte(src))
	if errs != nil {
		t.Fatal(errs)
	}
	c := f.Items[0].(*Caveat)
	if want := `a > {"}": 1}["}"]`; c.Expr != want {
		t.Errorf("got Expr %q, want %q", c.Expr, want)
	}
	if want := (Pos{Offset: strings.Index(src, "a >"), Line: 3, Col: 4}); c.ExprPos != want {
		t.Errorf("got ExprPos %+v, want %+v", c.ExprPos, want)
	}
}

func ExampleParse() {
	src := `definition user {}

definition doc {
	relation owner: user
	relation viewer: user | user:*
	permission view = viewer + owner
}`
	f, errs := Parse("doc.zed", []byte(src))
	if errs != nil {
		fmt.Println(errs)
		return
	}
	d := f.Items[1].(*Definition)
	fmt.Println(d.Name, len(d.Members), "members")
	_, errs = Parse("bad.zed", []byte("definition doc {\n\trelation owner = user\n}"))
	fmt.Println(errs)
	// Output:
	// doc 3 members
	// bad.zed:2:17: error: expected ':' after relation name "owner", found '='; relations list subject types after ':' (use 'permission' for an expression)
	//      relation owner = user
	//                     ^
}

func ExampleFormat() {
	f, _ := Parse("doc.zed", []byte("definition doc{relation a:user relation b:user permission p=(a+b)-(a&b) permission q=(a-b)&(a+b)}"))
	fmt.Print(string(Format(f)))
	// Output:
	// definition doc {
	// 	relation a: user
	// 	relation b: user
	// 	permission p = (a + b) - (a & b)
	// 	permission q = (a - b) & (a + b)
	// }
}

func TestParseKeepsGoodPartsOnError(t *testing.T) {
	src := "definition user {}\n" +
		"definition doc {\n" +
		"\trelation owner: user\n" +
		"\trelation bad = user\n" +
		"\tpermission view = owner\n" +
		"}\n" +
		"caveat broken( {}\n" +
		"definition team {}\n"
	f, errs := Parse("partial.zed", []byte(src))
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2:\n%v", len(errs), errs)
	}
	var names []string
	for _, it := range f.Items {
		if d, ok := it.(*Definition); ok {
			names = append(names, d.Name)
		}
	}
	if got := strings.Join(names, ","); got != "user,doc,team" {
		t.Errorf("got definitions %s, want user,doc,team", got)
	}
	doc := f.Items[1].(*Definition)
	if len(doc.Members) != 2 {
		t.Fatalf("got %d members of doc, want 2 (owner, view)", len(doc.Members))
	}
	if p, ok := doc.Members[1].(*Permission); !ok || p.Name != "view" {
		t.Errorf("got %#v, want permission view", doc.Members[1])
	}
}
