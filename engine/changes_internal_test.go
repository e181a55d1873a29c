package engine

import (
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/tuple"
)

// TestChangesTwoTables pins down the sketch's rule: a set changed after a
// revision when its slots in both tables did. Keys are chosen by hand so they
// share slots: the low 32 bits pick the first table's slot, the high 32 bits
// the second's.
func TestChangesTwoTables(t *testing.T) {
	c := NewChanges(16, 1)
	const (
		written   = uint64(0x00000003_00000005)
		sameLow   = uint64(0x00000004_00000005) // shares the first slot only
		sameHigh  = uint64(0x00000003_00000006) // shares the second slot only
		sameBoth  = uint64(0x00000013_00000015) // both, after masking to 16 slots
		unrelated = uint64(0x00000007_00000008)
	)
	c.raiseKey(written, 10)
	for _, tc := range []struct {
		name string
		key  uint64
		rev  uint64
		want bool
	}{
		{"the written set, before the write", written, 9, true},
		{"the written set, at the write", written, 10, false},
		{"a set sharing the first table's slot", sameLow, 9, false},
		{"a set sharing the second table's slot", sameHigh, 9, false},
		{"a set sharing both slots (a false alarm, which is safe)", sameBoth, 9, true},
		{"an unrelated set", unrelated, 9, false},
	} {
		if got := c.changedAfter(tc.key, tc.rev); got != tc.want {
			t.Errorf("%s: changedAfter(%#x, %d) = %v, want %v", tc.name, tc.key, tc.rev, got, tc.want)
		}
	}
	// A newer change of another set in one shared slot must not hide the
	// older one: both slots only ever rise.
	c.raiseKey(sameLow, 20)
	if !c.changedAfter(written, 9) {
		t.Error("the written set's change was lost when another set raised a shared slot")
	}
	const sharesWithEach = uint64(0x00000023_00000025) // first slot with sameLow (20), second with written (10)
	if c.changedAfter(sharesWithEach, 10) {
		t.Error("a set sharing one slot with each of two written sets looks changed after 10; its second slot was raised only to 10")
	}
	if !c.changedAfter(sharesWithEach, 9) {
		t.Error("a set whose both slots were raised past 9 does not look changed after 9")
	}
	if !c.unchangedSince([]uint64{sameHigh, unrelated}, 9) || c.unchangedSince([]uint64{unrelated, written}, 9) {
		t.Error("unchangedSince disagrees with changedAfter")
	}
}

// TestRecordRevision: up to BulkChangeThreshold relationships are recorded
// one by one (other sets keep their results); more are recorded as a bulk
// change (every result computed before it is recomputed, results computed at
// or after it are kept).
func TestRecordRevision(t *testing.T) {
	rel := func(i int) tuple.Relationship {
		return tuple.MustParse(fmt.Sprintf("dataset:d%d#reader@user:u%d", i, i))
	}
	other := tuple.MustParse("dataset:elsewhere#reader@user:x")
	for _, tc := range []struct {
		n            int
		otherChanged bool
	}{{1, false}, {BulkChangeThreshold, false}, {BulkChangeThreshold + 1, true}} {
		c := NewChanges(0, 1)
		c.RecordRevision(10, tc.n, rel)
		written := c.exactKey(rel(0).Resource, rel(0).Relation, rel(0).Subject)
		last := rel(tc.n - 1)
		lastKey := c.exactKey(last.Resource, last.Relation, last.Subject)
		otherKey := c.exactKey(other.Resource, other.Relation, other.Subject)
		if c.unchangedSince([]uint64{written}, 9) || c.unchangedSince([]uint64{lastKey}, 9) {
			t.Errorf("%d changes: a written relationship looks unchanged after 9", tc.n)
		}
		if got := !c.unchangedSince([]uint64{otherKey}, 9); got != tc.otherChanged {
			t.Errorf("%d changes: an unwritten relationship looks changed after 9: %v, want %v", tc.n, got, tc.otherChanged)
		}
		if !c.unchangedSince([]uint64{written, otherKey}, 10) {
			t.Errorf("%d changes: a result computed at the revision itself looks stale", tc.n)
		}
		if c.epoch.Load() != 0 {
			t.Errorf("%d changes: the epoch moved; only RecordAll (schema, restore) may move it", tc.n)
		}
	}
}
