package compile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
)

// TestCaveatParameterNamesAreCELIdentifiers: parameter names follow CEL's
// identifier rule as in SpiceDB, not the schema's name rule: one letter,
// two letters, capitals, schema keywords and long names all compile and
// evaluate under their own names.
func TestCaveatParameterNamesAreCELIdentifiers(t *testing.T) {
	long := "p" + strings.Repeat("x", 200)
	src := `caveat short_names(n int, me string, userID string, _x bool, expiration timestamp, with int, nil int, ` + long + ` int) {
  n > 1 && me == userID && _x && expiration > timestamp("2020-01-01T00:00:00Z") && with + nil + ` + long + ` == 3
}
`
	sch, errs := compile.CompileText("p.zed", src)
	if errs.Err() != nil {
		t.Fatalf("got errors %v, want none", errs)
	}
	cv := sch.Caveats["short_names"]
	want := []string{"n", "me", "userID", "_x", "expiration", "with", "nil", long}
	if strings.Join(cv.ParamOrder, ",") != strings.Join(want, ",") {
		t.Fatalf("got parameters %v, want %v", cv.ParamOrder, want)
	}
	params := map[string]any{"n": int64(2), "me": "a", "userID": "a", "_x": true, "expiration": "2030-01-01T00:00:00Z", "with": int64(1), "nil": int64(1), long: int64(1)}
	res, err := cv.Program.Eval(context.Background(), params)
	if err != nil || !res.Value || len(res.Missing) != 0 {
		t.Errorf("Eval: got %+v, %v; want true", res, err)
	}
	params["n"] = int64(1)
	if res, err := cv.Program.Eval(context.Background(), params); err != nil || res.Value {
		t.Errorf("Eval with n=1: got %+v, %v; want false", res, err)
	}
}
