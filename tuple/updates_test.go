package tuple_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/verdict"
)

func mustParse(t *testing.T, s string) tuple.Relationship {
	t.Helper()
	r, err := tuple.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckUpdates(t *testing.T) {
	ana := mustParse(t, "doc:1#reader@user:ana")
	anaCaveated := mustParse(t, "doc:1#reader@user:ana[only_eu]")
	bob := mustParse(t, "doc:1#reader@user:bob")
	cases := []struct {
		name         string
		updates      []tuple.Update
		index, other int // -2: no error
		msg          string
	}{
		{"distinct", []tuple.Update{{tuple.OpTouch, ana}, {tuple.OpDelete, bob}}, -2, -2, ""},
		{"same relationship twice", []tuple.Update{{tuple.OpTouch, ana}, {tuple.OpCreate, bob}, {tuple.OpDelete, ana}}, 2, 0, "updates[0] and updates[2] both change"},
		{"a caveat does not make it another", []tuple.Update{{tuple.OpTouch, ana}, {tuple.OpTouch, anaCaveated}}, 1, 0, "both change"},
		{"unknown op", []tuple.Update{{tuple.OpTouch, ana}, {tuple.Op(9), bob}}, 1, -1, "updates[1]: unknown op"},
		{"invalid relationship", []tuple.Update{{tuple.OpTouch, tuple.Relationship{}}}, 0, -1, "updates[0]:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := tuple.CheckUpdates(c.updates)
			if c.index == -2 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var ue *tuple.UpdateError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want an *UpdateError", err)
			}
			if ue.Index != c.index || ue.Other != c.other || ue.Duplicate() != (c.other >= 0) {
				t.Errorf("got index %d other %d, want %d %d", ue.Index, ue.Other, c.index, c.other)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %q, want it to contain %q", err, c.msg)
			}
			if !verdict.Is(err) {
				t.Errorf("an update error must be a verdict")
			}
		})
	}
}

func TestCheckDistinct(t *testing.T) {
	ana := mustParse(t, "doc:1#reader@user:ana")
	if err := tuple.CheckDistinct([]tuple.Relationship{ana, mustParse(t, "doc:2#reader@user:ana")}); err != nil {
		t.Fatalf("distinct: %v", err)
	}
	err := tuple.CheckDistinct([]tuple.Relationship{ana, ana})
	if err == nil || !strings.Contains(err.Error(), "relationships[0] and relationships[1]") {
		t.Fatalf("got %v, want a duplicate naming relationships[0] and [1]", err)
	}
}
