package compile_test

import (
	"context"
	"fmt"

	"github.com/trellis-authz/trellis/schema/compile"
)

func ExampleCompileText() {
	s, errs := compile.CompileText("example.zed", `
definition user {}

caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

definition dataset {
  relation reader: user | user with purpose_is
  relation blocked: user
  permission read = reader - blocked
}
`)
	if errs.Err() != nil {
		fmt.Println(errs)
		return
	}
	fmt.Println(compile.ExprString(s.Definitions["dataset"].Permissions["read"].Expr))

	prog := s.Caveats["purpose_is"].Program
	res, _ := prog.Eval(context.Background(), map[string]any{"purpose": "eval", "allowed": []any{"eval"}})
	fmt.Println(res.Value, res.Missing)
	res, _ = prog.Eval(context.Background(), map[string]any{"purpose": "eval"})
	fmt.Println(res.Missing)
	// Output:
	// reader - blocked
	// true []
	// [allowed]
}

func ExampleCompileText_errors() {
	_, errs := compile.CompileText("broken.zed", `definition user {}
definition dataset {
  relation reader: usr
}
`)
	fmt.Println(errs)
	// Output:
	// broken.zed:3:20: error: unknown type "usr" in relation dataset#reader; define it (definition usr {}) or fix the name; did you mean "user"?
	//       relation reader: usr
	//                        ^
}
