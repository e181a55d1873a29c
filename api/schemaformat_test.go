package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema/syntax"
	"github.com/trellis-authz/trellis/wire"
)

// TestSchemaFormat: POST /v1/schema/format answers what package syntax's
// formatter writes (comments kept), says whether that changed the text, is
// open to readers, and refuses a schema that does not parse with 400
// invalid_schema giving each error's line and column.
func TestSchemaFormat(t *testing.T) {
	s := newStack(t)
	messy := "// people\ndefinition user {}\ndefinition team {\n  relation member: user|team#member;   // nested teams\n}\n" +
		"definition dataset { relation reader: user | team#member\n permission read = reader }\n"
	f, errs := syntax.Parse("x.zed", []byte(messy))
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	want := string(syntax.Format(f))
	var out wire.FormatSchemaResponse
	s.mustOK(http.MethodPost, "/v1/schema/format", RoleReader, wire.FormatSchemaRequest{Schema: messy}, &out)
	if out.Formatted != want || !out.Changed || !strings.Contains(out.Formatted, "// nested teams") {
		t.Errorf("formatted:\n%s(changed %v)\nwant:\n%s", out.Formatted, out.Changed, want)
	}
	var again wire.FormatSchemaResponse
	s.mustOK(http.MethodPost, "/v1/schema/format", RoleReader, wire.FormatSchemaRequest{Schema: want}, &again)
	if again.Formatted != want || again.Changed {
		t.Errorf("formatting the formatted text: changed %v", again.Changed)
	}
	// Semantic errors (an unknown type) do not stop formatting.
	s.mustOK(http.MethodPost, "/v1/schema/format", RoleReader, wire.FormatSchemaRequest{Schema: "definition doc { relation owner: nobody }"}, &out)
	if out.Formatted != "definition doc {\n\trelation owner: nobody\n}\n" {
		t.Errorf("unknown type: %q", out.Formatted)
	}

	r := s.do(http.MethodPost, "/v1/schema/format", s.tokens[RoleReader], wire.FormatSchemaRequest{Schema: "definition user {}\n\ndefinition doc {\n\trelation owner user\n}\n"})
	e := r.errorBody(t)
	if r.status != http.StatusBadRequest || e.Code != "invalid_schema" {
		t.Fatalf("a syntax error: %d %s, want 400 invalid_schema", r.status, r.body)
	}
	var details struct {
		Errors []struct {
			Line, Column int
			Message      string
		}
	}
	raw, _ := json.Marshal(e.Details)
	if err := json.Unmarshal(raw, &details); err != nil || len(details.Errors) == 0 || details.Errors[0].Line != 4 || details.Errors[0].Column == 0 {
		t.Errorf("details %s: want the error at line 4 with a column", raw)
	}
	if !strings.Contains(e.Message, "schema.zed:4:") {
		t.Errorf("message %q does not name line 4", e.Message)
	}
	for _, body := range []string{`{"schema":"  "}`, `{}`, `{"schema":1}`} {
		if r := s.do(http.MethodPost, "/v1/schema/format", s.tokens[RoleReader], body); r.status != http.StatusBadRequest {
			t.Errorf("body %s: %d %s, want 400", body, r.status, r.body)
		}
	}
}
