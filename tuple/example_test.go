package tuple_test

import (
	"fmt"

	"github.com/trellis-authz/trellis/tuple"
)

func ExampleParse() {
	r, err := tuple.Parse(`dataset:claims#reader@user:ana[purpose_is:{"allowed":["fraud-model"]}][expiration:2027-01-01T00:00:00Z]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Resource, r.Relation, r.Subject)
	fmt.Println(r.Caveat.Name, r.Caveat.Context["allowed"])
	fmt.Println(r.Expiration.Format("2006-01-02"))

	_, err = tuple.Parse("dataset:claims#reader@user:*#member")
	fmt.Println(err)
	// Output:
	// dataset:claims reader user:ana
	// purpose_is [fraud-model]
	// 2027-01-01
	// invalid relationship "dataset:claims#reader@user:*#member": subject relation: a wildcard subject "user:*#member" cannot have a relation; write user:* alone
}
