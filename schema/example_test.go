package schema_test

import (
	"fmt"
	"regexp"

	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

func regexpMatchString(rx, s string) (bool, error) { return regexp.MatchString(rx, s) }

func ExampleSchema_ValidateRelationship() {
	s, errs := compile.CompileText("example.zed", `
definition user {}
definition team {
  relation member: user
}
definition dataset {
  relation reader: user | team#member
}
`)
	if errs.Err() != nil {
		fmt.Println(errs)
		return
	}
	for _, rel := range []string{
		"dataset:claims#reader@team:ml#member",
		"dataset:claims#reader@team:ml",
	} {
		err := s.ValidateRelationship(tuple.MustParse(rel))
		fmt.Printf("%s: %v\n", rel, err)
	}
	// Output:
	// dataset:claims#reader@team:ml#member: <nil>
	// dataset:claims#reader@team:ml: subject not allowed: subject type "team" is not allowed on dataset#reader; allowed: user, team#member
}
