package syntax

import (
	"fmt"
	"strings"
	"testing"
)

// genSchema writes a schema of about n lines: one caveat, then definitions of
// ten members each with relations of every type-ref form and permissions with
// arrows and all three operators.
func genSchema(n int) []byte {
	var b strings.Builder
	b.WriteString("use expiration\n\ndefinition user {}\n\ncaveat ok(a int, l list<string>) {\n\ta > 0 && \"x\" in l\n}\n")
	lines := 7
	for i := 0; lines < n; i++ {
		fmt.Fprintf(&b, "\n/** Definition %d. */\ndefinition acme/res%d {\n", i, i)
		fmt.Fprintf(&b, "\trelation parent: acme/res%d\n", max(i-1, 0))
		b.WriteString("\trelation owner: user | user:* with ok\n")
		b.WriteString("\trelation editor: user with expiration | acme/team#member with ok and expiration\n")
		b.WriteString("\trelation viewer: user // trailing comment\n")
		b.WriteString("\trelation banned: user\n")
		b.WriteString("\tpermission edit = owner + editor + parent->edit\n")
		b.WriteString("\tpermission view = (viewer + edit + parent.any(view)) - banned\n")
		b.WriteString("\tpermission audit = owner & parent.all(audit) - banned\n")
		b.WriteString("\tpermission none = nil\n")
		b.WriteString("}\n")
		lines += 13
	}
	return []byte(b.String())
}

func BenchmarkParse5000Lines(b *testing.B) {
	src := genSchema(5000)
	if n := strings.Count(string(src), "\n"); n < 5000 {
		b.Fatalf("generated %d lines, want at least 5000", n)
	}
	if _, errs := Parse("bench.zed", src); errs != nil {
		b.Fatal(errs)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Parse("bench.zed", src); errs != nil {
			b.Fatal(errs)
		}
	}
}

func TestGeneratedSchemaRoundTrips(t *testing.T) {
	src := genSchema(500)
	f, errs := Parse("gen.zed", src)
	if errs != nil {
		t.Fatal(errs)
	}
	checkRoundTrip(t, "gen.zed", f)
}
