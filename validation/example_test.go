package validation_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/trellis-authz/trellis/tuple"

	"github.com/trellis-authz/trellis/validation"
)

func ExampleRun() {
	policy := `schema: |-
  definition user {}
  definition document {
    relation writer: user
    relation reader: user
    permission edit = writer
    permission view = reader + edit
  }
relationships: |-
  document:plan#writer@user:tom
  document:plan#reader@user:fred
assertions:
  assertTrue:
    - document:plan#view@user:tom
  assertFalse:
    - document:plan#edit@user:fred
validation:
  document:plan#view:
    - "[user:tom] is <document:plan#writer>"
    - "[user:fred] is <document:plan#reader>"
`
	f, err := validation.Parse("policy.yaml", []byte(policy))
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := validation.Run(context.Background(), f, validation.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep.WriteText(os.Stdout)
	// Output:
	// policy.yaml: ok (2 assertions, 1 validation entry)
}

func ExampleCompute() {
	f, _ := validation.Parse("p.yaml", []byte(`schema: |-
  definition user {}
  definition team {
    relation member: user
  }
  definition document {
    relation reader: user | user:* | team#member
    relation banned: user
    permission view = reader - banned
  }
relationships: |-
  document:plan#reader@team:ml#member
  team:ml#member@user:ana
  document:pub#reader@user:*
  document:pub#banned@user:bob
`))
	s, _ := f.Compile()
	m, err := validation.NewMemory(f.Name, s, f.Relationships, time.Time{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	for _, doc := range []string{"plan", "pub"} {
		subjects, _ := validation.Compute(context.Background(), m, s, tuple.ObjectRef{Type: "document", ID: doc}, "view")
		for _, sub := range subjects {
			fmt.Println(doc, sub)
		}
	}
	// Output:
	// plan [team:ml#member] is <document:plan#reader>
	// plan [user:ana] is <team:ml#member>
	// pub [user:* - {user:bob}] is <document:pub#reader>
}
