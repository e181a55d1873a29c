package engine_test

import (
	"context"
	"fmt"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

func ExampleEngine_Check() {
	s, errs := compile.CompileText("example.zed", `
caveat on_network(network string) {
  network == "corp"
}
definition user {}
definition team {
  relation member: user
}
definition dataset {
  relation reader: team#member | user with on_network
  relation blocked: user
  permission read = reader - blocked
}`)
	if errs.Err() != nil {
		panic(errs)
	}
	var rels []tuple.Relationship
	for _, r := range []string{
		"team:ml#member@user:ana",
		"team:ml#member@user:bob",
		"dataset:claims#reader@team:ml#member",
		"dataset:claims#blocked@user:bob",
		"dataset:claims#reader@user:eve[on_network]",
	} {
		rels = append(rels, tuple.MustParse(r))
	}
	// Any engine.Reader works; a server passes a storage.Snapshot.
	v := engine.View{Schema: s, Reader: newMemReader(rels), Revision: 1}
	e, err := engine.New(engine.DefaultConfig())
	if err != nil {
		panic(err)
	}
	for _, who := range []string{"ana", "bob", "eve"} {
		r, err := e.Check(context.Background(), v, engine.CheckRequest{
			Resource:   tuple.ObjectRef{Type: "dataset", ID: "claims"},
			Permission: "read",
			Subject:    tuple.SubjectRef{Type: "user", ID: who},
		})
		if err != nil {
			panic(err)
		}
		fmt.Println(who, r.Result, r.MissingContext)
	}
	page, _ := e.LookupResources(context.Background(), v, engine.LookupResourcesRequest{
		ResourceType: "dataset", Permission: "read", Subject: tuple.SubjectRef{Type: "user", ID: "ana"},
	})
	fmt.Println(page.Resources)
	// Output:
	// ana allowed []
	// bob denied []
	// eve conditional [network]
	// [{claims allowed []}]
}
