package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

func TestParamTypeCheck(t *testing.T) {
	str := schema.ParamType{Name: "string"}
	cases := []struct {
		typ  schema.ParamType
		v    any
		want string // "" accepts
	}{
		{schema.ParamType{Name: "bytes"}, "aGVsbG8=", ""},
		{schema.ParamType{Name: "bytes"}, "not base64 %%", "must be bytes as a base64 string"},
		{schema.ParamType{Name: "int"}, int64(3), ""},
		{schema.ParamType{Name: "int"}, 3.0, ""},
		{schema.ParamType{Name: "int"}, 3.5, "must be an integer"},
		{schema.ParamType{Name: "uint"}, int64(-1), "non-negative"},
		{schema.ParamType{Name: "double"}, int64(2), ""},
		{schema.ParamType{Name: "timestamp"}, "2026-01-02T15:04:05Z", ""},
		{schema.ParamType{Name: "timestamp"}, "yesterday", "RFC 3339"},
		{schema.ParamType{Name: "ipaddress"}, "10.0.0.1", ""},
		{schema.ParamType{Name: "ipaddress"}, "10.0.0.300", "IP address"},
		{schema.ParamType{Name: "duration"}, "90m", ""},
		{schema.ParamType{Name: "string"}, nil, "got null"},
		{schema.ParamType{Name: "any"}, nil, ""},
		{schema.ParamType{Name: "list", Elem: &str}, []any{"a", true}, "element 1 must be a string"},
		{schema.ParamType{Name: "map", Elem: &str}, map[string]any{"k": int64(1)}, `key "k" must be a string`},
	}
	for _, c := range cases {
		err := c.typ.Check(c.v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: got %v, want accepted", c.typ, c.v, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: got %v, want an error containing %q", c.typ, c.v, err, c.want)
		}
	}
}

// The raft applier and the policy runner validate stored relationships with
// ValidateRelationship; a caveat context value of the wrong type must be
// refused there too, not only by the API (a non-base64 bytes value used to
// be stored, and every later check failed on it).
func TestValidateRelationshipChecksContextTypes(t *testing.T) {
	sch, errs := compile.CompileText("t.zed", `
caveat signed(sig bytes, num int) { num > 0 }
definition user {}
definition doc { relation reader: user with signed }
`)
	if errs.Err() != nil {
		t.Fatal(errs.Err())
	}
	for _, c := range []struct {
		rel  string
		want string
	}{
		{`doc:1#reader@user:ana[signed:{"sig":"aGk=","num":1}]`, ""},
		{`doc:1#reader@user:ana[signed:{"sig":"%%%"}]`, `parameter "sig" (bytes) of caveat "signed" must be bytes as a base64 string`},
		{`doc:1#reader@user:ana[signed:{"num":"one"}]`, `parameter "num" (int) of caveat "signed" must be an integer`},
		{`doc:1#reader@user:ana[signed:{"x":1}]`, `has no parameter "x"`},
	} {
		r, err := tuple.Parse(c.rel)
		if err != nil {
			t.Fatal(err)
		}
		err = sch.ValidateRelationship(r)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: got %v, want valid", c.rel, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.rel, err, c.want)
		}
		if !errors.Is(err, schema.ErrInvalidContext) && !errors.Is(err, schema.ErrUnknownCaveatParameter) {
			t.Errorf("%s: %v wraps neither ErrInvalidContext nor ErrUnknownCaveatParameter", c.rel, err)
		}
	}
}
