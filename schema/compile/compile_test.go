package compile_test

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
)

const docSchema = `use expiration

/** A person. */
definition user {}

caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition team {
  relation member: user | team#member
}

definition folder {
  relation viewer: user
  permission view = viewer
}

definition doc {
  relation parent: folder
  relation reader: user | user:* | team#member | user with purpose_is | user with purpose_is and expiration
  relation owner: user with expiration
  relation blocked: user
  permission read = (reader + owner + parent->view) - blocked
  permission curate = owner & parent.all(view)
  permission strict = reader - blocked - owner
  permission grouped = reader - (blocked + owner)
}
`

func mustCompile(t testing.TB, src string) *schema.Schema {
	t.Helper()
	s, errs := compile.CompileText("test.zed", src)
	if errs.Err() != nil {
		t.Fatalf("compile: %v", errs)
	}
	return s
}

func TestCompileModel(t *testing.T) {
	s := mustCompile(t, docSchema)
	sum := sha256.Sum256([]byte(docSchema))
	if got, want := s.Hash, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("got hash %s, want %s", got, want)
	}
	if s.Text != docSchema {
		t.Errorf("got text %q, want the source", s.Text)
	}
	if !s.UseExpiration {
		t.Errorf("got UseExpiration false, want true")
	}
	if got, want := s.Order, []string{"user", "team", "folder", "doc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got order %v, want %v", got, want)
	}
	if got := s.Definitions["user"].Doc; got == "" || !strings.Contains(got, "A person.") {
		t.Errorf("got user doc %q, want it to contain %q", got, "A person.")
	}
	doc := s.Definitions["doc"]
	if got, want := doc.Order, []string{"parent", "reader", "owner", "blocked", "read", "curate", "strict", "grouped"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got doc order %v, want %v", got, want)
	}
	wantAllowed := []schema.AllowedSubject{
		{Type: "user"},
		{Type: "user", Wildcard: true},
		{Type: "team", Relation: "member"},
		{Type: "user", Caveat: "purpose_is"},
		{Type: "user", Caveat: "purpose_is", Expiration: true},
	}
	if got := doc.Relations["reader"].Allowed; !reflect.DeepEqual(got, wantAllowed) {
		t.Errorf("got reader allowed %+v, want %+v", got, wantAllowed)
	}
	wantRead := &schema.Exclusion{
		Base: &schema.Union{Children: []schema.Expr{
			&schema.RelationRef{Name: "reader"},
			&schema.RelationRef{Name: "owner"},
			&schema.Arrow{Tupleset: "parent", Computed: "view", Mode: schema.ArrowAny},
		}},
		Subtract: &schema.RelationRef{Name: "blocked"},
	}
	if got := doc.Permissions["read"].Expr; !reflect.DeepEqual(got, wantRead) {
		t.Errorf("got read %s, want %s", compile.ExprString(got), compile.ExprString(wantRead))
	}
	tests := []struct{ perm, want string }{
		{"read", "(reader + owner + parent->view) - blocked"},
		{"curate", "owner & parent.all(view)"},
		{"strict", "reader - blocked - owner"},
		{"grouped", "reader - (blocked + owner)"},
	}
	for _, tt := range tests {
		if got := compile.ExprString(doc.Permissions[tt.perm].Expr); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.perm, got, tt.want)
		}
	}
	cv := s.Caveats["purpose_is"]
	if cv == nil || cv.Program == nil {
		t.Fatalf("got caveat %+v, want a compiled purpose_is", cv)
	}
	if got, want := cv.ParamOrder, []string{"purpose", "allowed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got params %v, want %v", got, want)
	}
	if got := cv.Params["allowed"].String(); got != "list<string>" {
		t.Errorf("got allowed type %q, want list<string>", got)
	}
}

// TestExprStringPrecedence pins that canonical text re-parses to the same tree.
func TestExprStringPrecedence(t *testing.T) {
	exprs := []string{
		"aaa + bbb - ccc",
		"aaa - bbb + ccc",
		"aaa - bbb - ccc",
		"aaa - (bbb - ccc)",
		"aaa & bbb + ccc",
		"(aaa & bbb) + ccc",
		"aaa - bbb & ccc",
		"(aaa - bbb) & ccc",
		"aaa + bbb & ccc - ddd",
		"nil",
	}
	for _, e := range exprs {
		src := "definition user {}\ndefinition doc {\n relation aaa: user\n relation bbb: user\n relation ccc: user\n relation ddd: user\n permission ppp = " + e + "\n}\n"
		s := mustCompile(t, src)
		first := s.Definitions["doc"].Permissions["ppp"].Expr
		text := compile.ExprString(first)
		src2 := strings.Replace(src, e, text, 1)
		s2 := mustCompile(t, src2)
		second := s2.Definitions["doc"].Permissions["ppp"].Expr
		if !reflect.DeepEqual(first, second) {
			t.Errorf("%q: canonical %q parses to a different tree", e, text)
		}
	}
}

func TestCompileWarningsOnly(t *testing.T) {
	s, errs := compile.CompileText("w.zed", "definition user {}\ndefinition doc {\n relation reader: user\n permission never = nil\n}\n")
	if s == nil {
		t.Fatalf("got nil schema with warnings only; errors: %v", errs)
	}
	if len(errs) != 1 || errs[0].Severity != syntax.SeverityWarning {
		t.Fatalf("got %v, want one warning", errs)
	}
	if errs.Err() != nil {
		t.Errorf("got Err() = %v, want nil for warnings only", errs.Err())
	}
}

func TestCompileSyntaxErrorsStop(t *testing.T) {
	s, errs := compile.CompileText("bad.zed", "definition user {\n relation : user\n}\n")
	if s != nil || errs.Err() == nil {
		t.Fatalf("got schema %v, errors %v; want nil schema and a syntax error", s, errs)
	}
	if errs[0].Pos.Line != 2 {
		t.Errorf("got line %d, want 2", errs[0].Pos.Line)
	}
}

// TestCELErrorPosition checks that CEL errors point into the schema file.
func TestCELErrorPosition(t *testing.T) {
	src := "caveat undeclared(limit int) {\n  limit > 3 &&\n    count < 3\n}\n"
	_, errs := compile.CompileText("c.zed", src)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
	}
	e := errs[0]
	if e.Pos.Line != 3 || e.Pos.Col != 5 {
		t.Errorf("got %d:%d, want 3:5", e.Pos.Line, e.Pos.Col)
	}
	if got := src[e.Pos.Offset:][:5]; got != "count" {
		t.Errorf("got offset at %q, want \"count\"", got)
	}
	if !strings.Contains(e.Error(), "    count < 3\n        ^") {
		t.Errorf("got %q, want the caret under count", e.Error())
	}
	src = "caveat first(limit int) { limit > > 3 }\n"
	_, errs = compile.CompileText("c.zed", src)
	if len(errs) == 0 || errs[0].Pos.Line != 1 || src[errs[0].Pos.Col-1] != '>' {
		t.Errorf("got %v, want an error at a '>' on line 1", errs)
	}
}

// TestHandBuiltAST covers checks the parser never lets through.
func TestHandBuiltAST(t *testing.T) {
	p := func(line, col int) syntax.Pos { return syntax.Pos{Line: line, Col: col, Offset: line*100 + col} }
	f := &syntax.File{Name: "ast.zed", Items: []syntax.Item{
		&syntax.Use{Pos: p(1, 1), Feature: "timetravel"},
		&syntax.Definition{Pos: p(2, 1), Name: "user", NamePos: p(2, 12)},
		&syntax.Definition{Pos: p(3, 1), Name: "doc", NamePos: p(3, 12), Members: []syntax.Member{
			&syntax.Relation{Pos: p(4, 3), Name: "reader", NamePos: p(4, 12)},
			&syntax.Relation{Pos: p(5, 3), Name: "writer", NamePos: p(5, 12), Types: []*syntax.TypeRef{
				{Pos: p(5, 20), Type: "user", Wildcard: true, Relation: "member"},
			}},
			&syntax.Permission{Pos: p(6, 3), Name: "view", NamePos: p(6, 14)},
		}},
		&syntax.Caveat{Pos: p(7, 1), Name: "empty_one", NamePos: p(7, 8), Params: []*syntax.Param{
			{Pos: p(7, 18), Name: "value", Type: &syntax.TypeExpr{Pos: p(7, 24), Name: "int"}},
		}, ExprPos: p(7, 30)},
	}}
	s, errs := compile.Compile(f)
	if s != nil {
		t.Errorf("got a schema, want nil")
	}
	want := []struct {
		line int
		rx   string
	}{
		{1, `unknown feature "timetravel" in use`},
		{4, `relation doc#reader allows no subject types`},
		{5, `wildcard user:\*#member is not a subject type`},
		{6, `permission doc#view has no expression`},
		{7, `caveat "empty_one" has an empty expression`},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Pos.Line != w.line || !regexpMatch(w.rx, errs[i].Msg) {
			t.Errorf("error %d: got %d: %s, want %d: /%s/", i, errs[i].Pos.Line, errs[i].Msg, w.line, w.rx)
		}
		if errs[i].File != "ast.zed" {
			t.Errorf("error %d: got file %q, want ast.zed", i, errs[i].File)
		}
	}
}
