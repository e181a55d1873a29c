package storage_test

import (
	"context"
	"fmt"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// A batch commits at its revision; a snapshot reads exactly that revision,
// whatever is written later.
func Example() {
	cfg := storage.DefaultConfig("")
	cfg.Dir, cfg.InMemory = "", true
	cfg.Logger = quietLogger()
	s, err := storage.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ana := tuple.MustParse("dataset:claims#reader@user:ana")
	if _, err := s.Apply(10, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpCreate, Relationship: ana}}}); err != nil {
		panic(err)
	}
	if _, err := s.Apply(11, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpDelete, Relationship: ana}}}); err != nil {
		panic(err)
	}
	for _, rev := range []uint64{10, 11} {
		sn, err := s.Snapshot(rev)
		if err != nil {
			panic(err)
		}
		_, ok, err := sn.Relationship(context.Background(), ana.Resource, ana.Relation, ana.Subject)
		sn.Close()
		fmt.Printf("revision %d: %s present=%v err=%v\n", rev, ana, ok, err)
	}
	// Output:
	// revision 10: dataset:claims#reader@user:ana present=true err=<nil>
	// revision 11: dataset:claims#reader@user:ana present=false err=<nil>
}

// Changes replays what each revision changed.
func ExampleStore_Changes() {
	cfg := storage.DefaultConfig("")
	cfg.Dir, cfg.InMemory = "", true
	cfg.Logger = quietLogger()
	s, _ := storage.Open(cfg)
	defer s.Close()
	s.Apply(1, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse("doc:a#viewer@user:ana")}}, Meta: []byte("by admin")})
	s.Apply(2, storage.Batch{Updates: []tuple.Update{{Op: tuple.OpDelete, Relationship: tuple.MustParse("doc:a#viewer@user:ana")}}})
	s.Changes(context.Background(), 0, func(rev uint64, changes []storage.Change, meta []byte) error {
		for _, c := range changes {
			fmt.Printf("%d %s %s %q\n", rev, c.Op, c.Relationship, meta)
		}
		return nil
	})
	// Output:
	// 1 touch doc:a#viewer@user:ana "by admin"
	// 2 delete doc:a#viewer@user:ana ""
}
