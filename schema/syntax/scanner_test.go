package syntax

import (
	"fmt"
	"strings"
	"testing"
)

func TestScanner(t *testing.T) {
	tests := []struct {
		in   string
		want string // tokens as kind:literal@line:col, space separated
	}{
		{"definition acme/dataset {}", `definition:definition@1:1 name:acme/dataset@1:12 '{':{@1:25 '}':}@1:26`},
		{"a->b.any(c)", `name:a@1:1 '->':->@1:2 name:b@1:4 '.':.@1:5 name:any@1:6 '(':(@1:9 name:c@1:10 ')':)@1:11`},
		{"a-b", `name:a@1:1 '-':-@1:2 name:b@1:3`},
		{"x:*|y#z;", `name:x@1:1 ':'::@1:2 '*':*@1:3 '|':|@1:4 name:y@1:5 '#':#@1:6 name:z@1:7 ';':;@1:8`},
		{"+&=,<>", `'+':+@1:1 '&':&@1:2 '=':=@1:3 ',':,@1:4 '<':<@1:5 '>':>@1:6`},
		{"with and nil expiration use caveat relation permission", `with:with@1:1 and:and@1:6 nil:nil@1:10 expiration:expiration@1:14 use:use@1:25 caveat:caveat@1:29 relation:relation@1:36 permission:permission@1:45`},
		{"a// c\n/* b\n */ /** d */x", `name:a@1:1 comment:// c@1:2 comment:/* b\n */@2:1 comment:/** d */@3:5 name:x@3:13`},
		{"a/*c*/b a/b/c", `name:a@1:1 comment:/*c*/@1:2 name:b@1:7 name:a/b/c@1:9`},
		{"$ é /", `illegal character:$@1:1 illegal character:é@1:3 illegal character:/@1:6`},
		{"\t\r\n  z", `name:z@2:3`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s scanner
			var errs []string
			s.init([]byte(tt.in), func(p Pos, msg string) { errs = append(errs, msg) })
			var got []string
			for {
				tok, pos, lit := s.scan()
				if tok == EOF {
					break
				}
				got = append(got, fmt.Sprintf("%s:%s@%d:%d", tok, strings.ReplaceAll(lit, "\n", `\n`), pos.Line, pos.Col))
			}
			g := strings.Join(got, " ")
			if g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
			if len(errs) > 0 {
				t.Errorf("got errors %q, want none", errs)
			}
		})
	}
}

func TestScannerUnterminatedComment(t *testing.T) {
	var s scanner
	var got []string
	s.init([]byte("a /* never"), func(p Pos, msg string) { got = append(got, fmt.Sprintf("%d:%d %s", p.Line, p.Col, msg)) })
	for tok, _, _ := s.scan(); tok != EOF; tok, _, _ = s.scan() {
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "1:3 comment not terminated") {
		t.Errorf("got %q, want one 'comment not terminated' error at 1:3", got)
	}
}

func TestNestingLimit(t *testing.T) {
	deep := strings.Repeat("(", MaxNesting+1) + "a" + strings.Repeat(")", MaxNesting+1)
	_, errs := Parse("deep.zed", []byte("definition d { permission p = "+deep+" }"))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "nested too deeply") {
		t.Errorf("got %v, want one 'nested too deeply' error", errs)
	}
	ok := strings.Repeat("(", MaxNesting) + "a" + strings.Repeat(")", MaxNesting)
	if _, errs := Parse("ok.zed", []byte("definition d { permission p = "+ok+" }")); errs != nil {
		t.Errorf("got %v for %d levels, want no error", errs, MaxNesting)
	}
	deepType := strings.Repeat("list<", MaxNesting+1) + "int" + strings.Repeat(">", MaxNesting+1)
	_, errs = Parse("deep.zed", []byte("caveat c(a "+deepType+") { a }"))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "nested too deeply") {
		t.Errorf("got %v, want one 'nested too deeply' error", errs)
	}
}

func TestCRLFAndBOM(t *testing.T) {
	src := "\xEF\xBB\xBF// header\r\ndefinition user {}\r\n\r\ndefinition doc {\r\n\trelation owner: user // who\r\n\t/**\r\n\t * Doc.\r\n\t */\r\n\t/* a\r\n\tb */\r\n\tpermission view = owner\r\n}\r\ncaveat c(a int) {\r\n\ta > 1 &&\r\n\ta < 3\r\n}\r\n"
	f, errs := Parse("crlf.zed", []byte(src))
	if errs != nil {
		t.Fatal(errs)
	}
	d := f.Items[1].(*Definition)
	r := d.Members[0].(*Relation)
	if r.NamePos.Line != 5 || r.NamePos.Col != 11 {
		t.Errorf("got owner at %d:%d, want 5:11", r.NamePos.Line, r.NamePos.Col)
	}
	if r.Trailing != "// who" {
		t.Errorf("got trailing %q, want %q", r.Trailing, "// who")
	}
	if doc := d.Members[1].(*Permission).Doc; doc != "Doc." {
		t.Errorf("got doc %q, want %q", doc, "Doc.")
	}
	out := checkRoundTrip(t, "crlf.zed", f)
	if strings.Contains(string(out), "\r") {
		t.Errorf("got carriage returns in the formatted output:\n%q", out)
	}
	_, errs = Parse("bad.zed", []byte("definition doc {\r\n\trelation owner = user\r\n}\r\n"))
	if len(errs) != 1 || errs[0].Source != "\trelation owner = user" {
		t.Errorf("got %v, want one error quoting the line without \\r", errs)
	}
}

func TestManyErrorsAreCapped(t *testing.T) {
	src := strings.Repeat(";\n", 200000)
	_, errs := Parse("many.zed", []byte(src))
	if len(errs) != MaxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(errs), MaxErrors+1)
	}
	if last := errs[len(errs)-1]; !strings.Contains(last.Msg, "too many errors") || last.Pos.Line != MaxErrors+1 {
		t.Errorf("got last error %d: %s, want 'too many errors' on line %d", last.Pos.Line, last.Msg, MaxErrors+1)
	}
}
