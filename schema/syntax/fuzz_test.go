package syntax

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that every file it accepts
// survives formatting: the output parses to the same tree (positions aside) and
// formatting that output again changes nothing.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.zed", "testdata/errors/*.zed"} {
		files, _ := filepath.Glob(pattern)
		for _, path := range files {
			if src, err := os.ReadFile(path); err == nil {
				f.Add(string(src))
			}
		}
	}
	for _, s := range []string{
		"",
		"use expiration",
		"definition a {}",
		"definition a/b/c { relation r: x | y:* | z#m with c and expiration; }",
		"definition d { permission p = a - b + c & d->e - f.any(g) }",
		"definition d { permission p = ((a)) }",
		"definition d { permission p = a->b->c }",
		"caveat c(a list<map<int>>) { a[0]['}'] == \"{\" }",
		"/** doc */ definition d { /** r */ relation r: u // t\n}",
		"definition d { relation r: u /* a\nb */ }",
		"definition d {\n// c\n}\n// end",
		"/* unterminated",
		"caveat c(a int) { 'unterminated\n }",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, errs := Parse("fuzz.zed", []byte(src))
		if file == nil {
			t.Fatal("Parse returned a nil File")
		}
		for i := 1; i < len(errs); i++ {
			if errs[i].Pos.Offset < errs[i-1].Pos.Offset {
				t.Fatalf("errors not sorted: %v", errs)
			}
		}
		if errs != nil {
			return
		}
		checkRoundTrip(t, "fuzz.zed", file)
	})
}
